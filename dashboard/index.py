"""Dash's index page, per page: the wall screen loads only the component libraries it draws.

Dash puts every imported component library in every page's index; the wall uses Dash's core and
HTML components and dash-leaflet, not the leadership page's grids (dash-ag-grid: 1.3 MB of
script, a third of all the JavaScript), DataTable or dash-extensions' components. Parsing them
was most of the wall's first paint on a busy 2-core machine. Every link out of the wall is a
full page load (``html.A``), so a page that needs them gets its own full index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import dash
from flask import has_request_context, request

from dashboard.pages import match

WALL_SKIPS = ("dash_ag_grid", "dash/dash_table", "dash_extensions")
"""Component suites the wall page never renders (their ``/_dash-component-suites/`` folders)."""


def drop_scripts(scripts: str, packages: Iterable[str]) -> str:
    """The index's script tags without those of ``packages``."""
    skip = tuple(f"/_dash-component-suites/{p}/" for p in packages)
    tags = re.findall(r"<script\b.*?</script>", scripts, flags=re.S)
    kept = [tag for tag in tags if not any(s in tag for s in skip)]
    return "\n".join(kept)


class GridDash(dash.Dash):
    """Dash with a lighter index for the wall (Dash's documented ``interpolate_index`` hook)."""

    def interpolate_index(self, metas: Any = "", title: Any = "", css: Any = "", config: Any = "",
                          scripts: Any = "", app_entry: Any = "", favicon: Any = "", renderer: Any = "") -> Any:
        """The index HTML; on the wall's path without the scripts it never uses."""
        if has_request_context():
            found = match(request.path)
            if found is not None and found[0] == "wall":
                scripts = drop_scripts(str(scripts), WALL_SKIPS)
        return super().interpolate_index(metas=metas, title=title, css=css, config=config, scripts=scripts,
                                         app_entry=app_entry, favicon=favicon, renderer=renderer)
