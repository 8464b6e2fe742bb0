"""Access control: who may reach which path, users and tokens, and the log-in pages.

Every request passes :func:`check` (a ``before_request`` hook): a path is public (embeds, the
public API, scripts and styles), or needs one of the roles :func:`rule_for` names. Pages take
their roles from the route table (:mod:`dashboard.pages`); everything else is listed here, and
a path nobody listed is internal (leaders and administrators). Dash's own routes
(``/_dash-layout``, ``/_dash-update-component``, …) need a signed-in role, and a callback is
answered only when every output it writes lives on a page the caller may open.

Who is asking (:func:`current_principal`): a token (``Authorization: Bearer``, ``?token=``, or
the ``token`` of the page's own URL in the referrer of its Dash requests: a wall opened with
``/?token=…`` never meets a log-in page, before or after a restart), else the signed session of
a user who logged in (Flask-Login; passwords hashed by werkzeug). Users and tokens come from
``GRID_USERS_FILE`` and ``GRID_WALL_TOKEN``; with ``GRID_AUTH=off`` everyone is an administrator.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import dash
import flask_login
from flask import Flask, Response, g, jsonify, redirect, request
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.config import Config
from dashboard.pages import ROUTES, Route, match
from dashboard.roles import CASE_READERS, EVERY_ROLE, INTERNAL, WALL, Role
from data_feed.errors import ConfigError

EXTENSION_KEY = "grid.access"
"""Key of the :class:`Access` of an app in ``flask_app.extensions``."""

PUBLIC: frozenset[Role] = frozenset()
"""The rule of a public path: no role needed."""

PUBLIC_PATHS = frozenset({"/healthz", "/login", "/logout", "/_favicon.ico", "/favicon.ico",
                          "/api/v1/openapi.json"})
"""Paths anyone may open (health checks carry counts only, never a case)."""

PUBLIC_PREFIXES = ("/embed/", "/api/v1/public/", "/assets/", "/_dash-component-suites/")
"""Path prefixes anyone may open: the public embeds and their API, scripts, styles and fonts."""

API_RULES: Mapping[str, frozenset[Role]] = {
    "/api/v1/kpis": WALL | {Role.DEPARTMENT},
    "/api/v1/alerts": WALL | {Role.DEPARTMENT},
    "/api/v1/stream/wall": WALL,  # the wall's push (GRID_PUSH=sse): what its tick would send
    "/api/v1/checkpoints": WALL | {Role.DEPARTMENT},
    "/metrics": WALL,
    "/api/v1/stream/leaders": INTERNAL,  # the leaders page's push: leaders and administrators, as the page
}
"""Internal JSON endpoints open to more than leaders and administrators (a department's
answers hold only its subscribed categories)."""

API_PREFIX_RULES: tuple[tuple[str, frozenset[Role]], ...] = (
    ("/api/v1/checkpoints/", WALL | {Role.DEPARTMENT}),  # open cases at a checkpoint: the wall's popups
    ("/api/v1/wall/", WALL),  # the wall's base layers and boundaries (dashboard/wall_layers.py)
    ("/api/v1/cases/", CASE_READERS),  # case files: a department's only of its subscribed categories
)
"""Internal endpoints by path prefix (anything not listed: leaders and administrators)."""

DASH_PREFIX = "/_dash-"
"""Dash's own routes (layout, dependencies, callbacks): any signed-in role; see :func:`check`."""

DASH_CALLBACK = "/_dash-update-component"
"""The route of every server-side callback."""

LOGIN_PATH = "/login"
"""The log-in page (plain HTML, never framed)."""


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a user or a token, with its role."""

    name: str
    role: Role
    department_id: str | None = None
    via: str = "session"


@dataclass(frozen=True)
class Directory:
    """Users (with password hashes) and tokens (by SHA-256 of the token), from the configuration."""

    users: Mapping[str, tuple[str, Principal]] = field(default_factory=dict)
    tokens: Mapping[str, Principal] = field(default_factory=dict)
    dummy_hash: str = ""  # checked for unknown users: the same work, no timing hint of who exists

    def user(self, name: str) -> Principal | None:
        """The principal of user ``name``, or None."""
        found = self.users.get(name)
        return found[1] if found else None

    def authenticate(self, name: str, password: str) -> Principal | None:
        """The user when ``password`` matches its hash; None otherwise (also for unknown users)."""
        found = self.users.get(name)
        if found is None:
            if self.dummy_hash:
                check_password_hash(self.dummy_hash, password)
            return None
        return found[1] if check_password_hash(found[0], password) else None

    def token(self, presented: str) -> Principal | None:
        """The principal of a presented token, or None."""
        digest = token_digest(presented)
        for known, principal in self.tokens.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None


def token_digest(token: str) -> str:
    """SHA-256 hex of a token: what the users file keeps (a token is random, so no salt is needed)."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _principal(item: Mapping[str, Any], where: str, name: str) -> Principal:
    try:
        role = Role(str(item.get("role", "")))
    except ValueError:
        raise ConfigError(f"{where}: {name!r} has role {item.get('role')!r}; use one of "
                          f"{', '.join(r.value for r in Role)}") from None
    department = item.get("department_id")
    if role == Role.DEPARTMENT and not department:
        raise ConfigError(f"{where}: {name!r} has role department but no department_id")
    return Principal(name, role, str(department) if department else None)


def load_directory(config: Config) -> Directory:
    """Users and tokens of ``GRID_USERS_FILE`` (JSON, see README) and ``GRID_WALL_TOKEN``."""
    users: dict[str, tuple[str, Principal]] = {}
    tokens: dict[str, Principal] = {}
    path: Path | None = config.users_file
    if path is not None:
        where = f"GRID_USERS_FILE {path}"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where} cannot be read as JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise ConfigError(f'{where} must be an object {{"users": [...], "tokens": [...]}}')
        for item in doc.get("users", []):
            name, hashed = item.get("username"), item.get("password_hash")
            if not name or not isinstance(hashed, str) or "$" not in hashed:
                raise ConfigError(f"{where}: every user needs a username and a password_hash made by "
                                  "`python -m dashboard hash-password` (never the password itself)")
            users[str(name)] = (hashed, _principal(item, where, str(name)))
        for item in doc.get("tokens", []):
            name, digest = item.get("name"), str(item.get("token_sha256", "")).lower()
            if not name or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"{where}: every token needs a name and a token_sha256 (64 hex digits, "
                                  "from `python -m dashboard new-token`)")
            tokens[digest] = Principal(str(name), _principal(item, where, str(name)).role,
                                       item.get("department_id"), via="token")
    if config.wall_token:
        tokens[token_digest(config.wall_token)] = Principal("wall", Role.COMMAND_CENTER, via="token")
    return Directory(users, tokens, generate_password_hash(secrets.token_hex(16)) if users else "")


# ------------------------------------------------------------------ rules
def rule_for(path: str) -> frozenset[Role]:
    """The roles that may open ``path`` (:data:`PUBLIC` when anyone may)."""
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return PUBLIC
    found = match(path)
    if found is not None:
        return _route(found[0]).roles
    if path.startswith(DASH_PREFIX) or path == "/_reload-hash":
        return EVERY_ROLE
    for prefix, roles in API_PREFIX_RULES:
        if path.startswith(prefix):
            return roles
    return API_RULES.get(path, INTERNAL)


def _route(name: str) -> Route:
    return next(r for r in ROUTES if r.name == name)


CaseCategory = Callable[[str], "str | None"]
"""Looks up the category of a case by id (None when unknown)."""


@dataclass
class Access:
    """The access rules of one app: its directory, and the component ids of each page."""

    config: Config
    directory: Directory
    subscribed: Callable[[str], frozenset[str]]
    case_category: CaseCategory
    root_ids: frozenset[str] = frozenset()
    page_ids: dict[str, frozenset[str]] = field(default_factory=dict)

    def may_open(self, who: Principal, route: Route, page_id: str) -> bool:
        """True if ``who`` may open the page of ``route`` with ``page_id``."""
        if who.role not in route.roles:
            return False
        if who.role != Role.DEPARTMENT:
            return True
        if route.scope == "department":
            return page_id == who.department_id
        if route.scope == "case":
            category = self.case_category(page_id)
            return category is not None and category in self.subscribed(who.department_id or "")
        return False

    def may_write(self, who: Principal, outputs: Iterable[str]) -> bool:
        """True if every output id of a callback lives on the root or a page ``who`` may open."""
        allowed = set(self.root_ids)
        for route in ROUTES:
            if who.role in route.roles:
                allowed |= self.page_ids.get(route.name, frozenset())
        return all(o in allowed for o in outputs)

    def categories(self, who: Principal) -> frozenset[str] | None:
        """The categories ``who`` may see (None: all of them)."""
        if who.role != Role.DEPARTMENT:
            return None
        return self.subscribed(who.department_id or "")


def component_ids(layout: Any) -> frozenset[str]:
    """Every component id in a layout (a pattern-matching id counts by its ``type``)."""
    found: set[str] = set()
    if layout is None:
        return frozenset()
    nodes = [layout, *layout._traverse()] if hasattr(layout, "_traverse") else []
    for node in nodes:
        key = _id_key(getattr(node, "id", None))
        if key:
            found.add(key)
    return frozenset(found)


def _id_key(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("type", "")) or None
    return str(value) if value else None


def callback_outputs(body: Any) -> list[str] | None:
    """The output ids a Dash callback request writes (None when the body is not one)."""
    if not isinstance(body, dict) or "outputs" not in body:
        return None
    found: list[str] = []
    stack = [body["outputs"]]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            key = _id_key(item.get("id"))
            if key is None:
                return None
            found.append(key)
        else:
            return None
    return found


# ------------------------------------------------------------------ who is asking
_ANYONE = Principal("anyone", Role.ADMIN, via="auth-off")


def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if request.args.get("token"):
        return request.args["token"]
    if request.referrer and match(request.path) is None:
        # a page's own requests (Dash's, and the wall's fetches) carry its URL as referrer:
        # a wall opened with ?token= stays in, through restarts and without a session
        url = urlsplit(request.referrer)
        if url.netloc == request.host:
            return dict(parse_qsl(url.query)).get("token")
    return None


def current_principal() -> Principal | None:
    """Who the current request comes from (None: nobody signed in and no valid token)."""
    if "grid_principal" in g:
        return g.grid_principal  # type: ignore[no-any-return]
    access: Access | None = _access_or_none()
    who: Principal | None
    if access is None or not access.config.auth:
        who = _ANYONE
    else:
        token = _presented_token()
        who = access.directory.token(token) if token else None
        if who is None:
            user = flask_login.current_user
            who = user.principal if getattr(user, "is_authenticated", False) else None
    g.grid_principal = who
    return who


def may_open_page(route_name: str, page_id: str) -> bool:
    """True if the current request's principal may open page ``route_name`` with ``page_id``:
    what a page's callbacks check, since the ids they read come from the browser."""
    who = current_principal()
    access = _access_or_none()
    if access is None:
        return True
    return who is not None and access.may_open(who, _route(route_name), page_id)


def category_scope() -> frozenset[str] | None:
    """Categories the current request may see (None: all; a department: its subscribed ones)."""
    who = current_principal()
    access = _access_or_none()
    if who is None or access is None:
        return None
    return access.categories(who)


def may_open_path(path: str) -> bool:
    """True if the current request's principal may open the page at ``path`` (False for no page)."""
    found = match(path)
    who = current_principal()
    access = _access_or_none()
    if found is None or who is None or access is None:
        return found is not None and access is None
    return access.may_open(who, _route(found[0]), found[1])


def _access_or_none() -> Access | None:
    from flask import current_app

    return current_app.extensions.get(EXTENSION_KEY)


# ------------------------------------------------------------------ Flask-Login
class User(flask_login.UserMixin):  # type: ignore[misc]
    """A signed-in user as Flask-Login keeps it (by name in the signed session)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def get_id(self) -> str:
        """The user name stored in the session."""
        return self.principal.name


def home_of(who: Principal) -> str:
    """Where a user lands after logging in."""
    if who.role == Role.DEPARTMENT:
        dept = [r for r in ROUTES if r.scope == "department"]
        return dept[0].path + quote(who.department_id or "") if dept else "/"
    return "/"


def _safe_next(value: str | None) -> str | None:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    return value


# ------------------------------------------------------------------ the hook
def _denied(status: int, message: str, page: bool) -> Response:
    if page:
        body = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{status}</title>'
                '<link rel="stylesheet" href="/embed/static/embed.css"></head><body class="login">'
                f"<main><h1>{status}</h1><p>{html.escape(message)}</p>"
                f'<p><a href="{LOGIN_PATH}">登录 · Log in</a></p></main></body></html>\n')
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
    else:
        response = jsonify({"error": message})
        response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="grid"'
    return response


def check() -> Response | None:
    """The before-request hook: let the request through, or answer 401/403 (or send to log-in)."""
    path = request.path
    roles = rule_for(path)
    if not roles:
        return None
    access = _access_or_none()
    if access is None or not access.config.auth:
        return None
    who = current_principal()
    found = match(path)
    page = found is not None and request.method == "GET"
    if who is None:
        if page:
            return redirect(f"{LOGIN_PATH}?next={quote(request.full_path.rstrip('?'), safe='/')}")  # type: ignore[return-value]
        return _denied(401, "sign in, or send a token as 'Authorization: Bearer <token>'", False)
    if who.role not in roles:
        return _denied(403, f"the role {who.role.value} may not open {path}", page)
    if found is not None and not access.may_open(who, _route(found[0]), found[1]):
        return _denied(403, f"{who.name} may not open {path}", page)
    if path == DASH_CALLBACK and request.method == "POST":
        outputs = callback_outputs(request.get_json(silent=True))
        if outputs is None:
            return _denied(400, "not a Dash callback request", False)
        if not access.may_write(who, outputs):
            return _denied(403, f"the role {who.role.value} may not update these components", False)
    return None


def install(app: dash.Dash, config: Config, directory: Directory, access: Access) -> None:
    """Attach the access rules, Flask-Login and the session settings to ``app``'s server."""
    server: Flask = app.server
    server.extensions[EXTENSION_KEY] = access
    server.config.update(
        SECRET_KEY=config.secret_key or None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.cookie_secure,
        SESSION_COOKIE_NAME="grid_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_hours),
    )
    if not config.auth:
        return
    manager = flask_login.LoginManager()
    manager.init_app(server)

    @manager.user_loader  # type: ignore[untyped-decorator]
    def _load(name: str) -> User | None:
        who = directory.user(name)
        return User(who) if who else None

    server.before_request(check)
