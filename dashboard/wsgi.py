"""WSGI entry point for gunicorn: ``gunicorn -w 2 -b 0.0.0.0:8050 dashboard.wsgi:server``.

Configured only by ``GRID_*`` environment variables; it refuses to start without users or tokens
(``GRID_USERS_FILE`` / ``GRID_WALL_TOKEN`` and ``GRID_SECRET_KEY``) unless ``GRID_AUTH=off``.
Do not use ``--preload``: each worker must start its own consumer thread after the fork.

A worker that stops cleanly (gunicorn's SIGTERM/SIGINT/SIGQUIT to the master, or a worker
recycled by ``--max-requests``) exits through the interpreter's ``atexit`` hooks: there it stops
its consumer and, once caught up, saves a last snapshot, as ``serve`` does, so the next start
reads only the streams' tail. A killed worker (SIGKILL, a timeout) saves nothing: the periodic
snapshot is the fallback.
"""

from __future__ import annotations

import atexit

from dashboard.app import create_app, runtime_of

app = create_app()
server = app.server
atexit.register(runtime_of(app).stop)
