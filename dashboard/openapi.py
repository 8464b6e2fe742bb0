"""The OpenAPI 3.0 document of the JSON API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

_OBJ: dict[str, Any] = {"type": "object"}
_ERROR: dict[str, Any] = {"description": "error", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}
_LANG = {"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": ["zh", "en"]}}
_STREET = {"name": "street", "in": "query", "required": False, "schema": {"type": "string"},
           "description": "a street id of the reference data (else 404)"}
_COMMUNITY = {"name": "community", "in": "query", "required": False, "schema": {"type": "string"}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema or _OBJ}}}


def _get(summary: str, params: list[dict[str, Any]], *, public: bool, cacheable: bool = False,
         live: bool = True) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _ok(summary), "400": _ERROR, "404": _ERROR}
    if live:
        responses["503"] = _ERROR
    if cacheable:
        responses["304"] = {"description": "unchanged since the ETag sent in If-None-Match"}
    if not public:
        responses["401"] = _ERROR
        responses["403"] = _ERROR
    op: dict[str, Any] = {"summary": summary, "parameters": params, "responses": responses}
    op["security"] = [] if public else [{"bearer": []}, {"session": []}]
    return {"get": op}


def _stream(summary: str, params: list[dict[str, Any]], *, public: bool) -> dict[str, Any]:
    """A server-sent events stream: it never ends on its own (tools that fetch it must not wait)."""
    responses: dict[str, Any] = {
        "200": {"description": summary + ". Server-sent events: `id:` (a digest of the data; send it back "
                "as Last-Event-ID to skip what you hold), `data:` the JSON, and `event: hb` heartbeats "
                "every 2 s (data 1 = live, 0 = the history is still being read: nothing is sent as live)",
                "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        "404": _ERROR, "429": {"description": "too many streams opened from this client"},
        "503": {"description": "this server holds as many streams as it may; see Retry-After",
                "content": _ERROR["content"]}}
    if not public:
        responses["401"] = _ERROR
        responses["403"] = _ERROR
    last_id = {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}}
    return {"get": {"summary": summary, "parameters": [*params, last_id], "responses": responses,
                    "security": [] if public else [{"bearer": []}, {"session": []}]}}


def document() -> dict[str, Any]:
    """The whole OpenAPI document (public endpoints need nothing; internal ones a token or a session)."""
    period = {"name": "period", "in": "query", "required": False,
              "schema": {"type": "string", "enum": ["today", "7d", "30d", "all"]}}
    day = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    query_body = {"type": "object", "required": ["query_code", "phone"], "properties": {
        "query_code": {"type": "string", "pattern": "^[A-Za-z0-9-]{4,32}$",
                       "description": "the code the citizen got when reporting"},
        "phone": {"type": "string", "pattern": "^[+]?[0-9][0-9 -]{4,24}$",
                  "description": "the phone number the case was reported with"},
        "lang": {"type": "string", "enum": ["zh", "en"]}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Grid command center API", "version": "1",
                 "description": "Public endpoints (/api/v1/public/…) never carry personal data. Internal ones "
                                "need 'Authorization: Bearer <token>' or a signed-in session."},
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "grid_session"}}},
        "paths": {
            "/healthz": _get("health of the consumer and Redis", [], public=True, live=True),
            "/api/v1/kpis": _get("KPIs of a period for the district, streets, communities and departments", [
                period, {"name": "from", "in": "query", "required": False, "schema": day},
                {"name": "to", "in": "query", "required": False, "schema": day}, _STREET, _COMMUNITY],
                public=False),
            "/api/v1/alerts": _get("open hazards, then cases past or near their deadline", [
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0, "maximum": 1000}},
                {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}}],
                public=False),
            "/api/v1/checkpoints": _get("checkpoints with their live status (GeoJSON)", [_STREET, _COMMUNITY],
                                        public=False, cacheable=True),
            "/api/v1/public/kpis": _get("district and street figures, today and this month", [_LANG, _STREET],
                                        public=True, cacheable=True),
            "/api/v1/public/board": _get("cases closed recently by category and street, with their outcome",
                                         [_LANG, _STREET], public=True, cacheable=True),
            "/api/v1/public/map": _get("checkpoint status dots and this month's cases per community",
                                       [_LANG, _STREET], public=True, cacheable=True),
            "/api/v1/public/boundaries": _get("street and community boundaries", [_LANG, _STREET],
                                              public=True, cacheable=True, live=False),
            "/api/v1/public/stream/{view}": _stream(
                "the live JSON of /api/v1/public/{view}, pushed on every change", [
                    {"name": "view", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": ["kpis", "tiles", "board", "map"]},
                     "description": "tiles: kpis without the street table (unless street= is given)"},
                    _LANG, _STREET], public=True),
            "/api/v1/stream/leaders": _stream("a version of the state whenever the leaders page's figures may "
                                              "have changed (at most every 3 s)", [], public=False),
            "/api/v1/public/query": {"post": {
                "summary": "a citizen's case by query code and phone number (one answer for every failure)",
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {"schema": query_body}}},
                "responses": {"200": _ok("the case's status and timeline (never its description)"),
                              "400": _ERROR, "404": _ERROR,
                              "429": {"description": "too many queries from this client or for this code"}}}},
        },
    }
