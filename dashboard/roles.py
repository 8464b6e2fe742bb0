"""The roles of access control, and the role sets the route table and the access rules use."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    """Who a signed-in user (or a token) is."""

    COMMAND_CENTER = "command_center"
    """The unattended wall: ``/`` and the internal APIs it reads (a long-lived token)."""
    LEADER = "leader"
    """Every internal page and API except administration."""
    DEPARTMENT = "department"
    """Its own ``/dept/<id>`` page, and case files and API data of its subscribed categories."""
    ADMIN = "admin"
    """Everything."""


INTERNAL: frozenset[Role] = frozenset({Role.LEADER, Role.ADMIN})
"""The default of every internal page and API: leaders and administrators."""

WALL: frozenset[Role] = INTERNAL | {Role.COMMAND_CENTER}
"""The wall and the data it shows."""

DEPARTMENTS: frozenset[Role] = INTERNAL | {Role.DEPARTMENT}
"""Pages a department may open too (only within its scope: see :class:`dashboard.pages.Route`)."""

CASE_READERS: frozenset[Role] = DEPARTMENTS | {Role.COMMAND_CENTER}
"""Who may open a case file: the wall's alerts and markers link to them (a department only
within its scope)."""

EVERY_ROLE: frozenset[Role] = frozenset(Role)
"""Any signed-in user or valid token (Dash's own routes: what a request may do is checked further)."""

ADMIN_ONLY: frozenset[Role] = frozenset({Role.ADMIN})
"""Administration."""
