"""WSGI entry point for gunicorn: ``gunicorn -w 2 -b 0.0.0.0:8050 dashboard.wsgi:server``.

Configured only by ``GRID_*`` environment variables; it refuses to start without users or tokens
(``GRID_USERS_FILE`` / ``GRID_WALL_TOKEN`` and ``GRID_SECRET_KEY``) unless ``GRID_AUTH=off``.
Do not use ``--preload``: each worker must start its own consumer thread after the fork.
"""

from __future__ import annotations

from dashboard.app import create_app

app = create_app()
server = app.server
