"""The public portal's side: embeds (``/embed/…``), their JSON (``/api/v1/public/…``), the query.

Embeds are plain HTML pages with one small script (``dashboard/embed/embed.js``) that listens
to the public push stream (``dashboard.push_streams``) and, when it cannot, polls the public
JSON with ``If-None-Match``: light in a portal page, no Dash, no log-in, nothing internal
reachable from them. Script and style are linked by fingerprinted URL (cached for a year).
Every public JSON answer carries ``ETag`` and ``Cache-Control`` so a portal's reverse proxy can
absorb the traffic.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_limiter import Limiter

from dashboard import openapi, public_views, push_hub, push_streams
from dashboard.config import Config
from dashboard.ratelimit import client_address, form_or_json
from dashboard.runtime import EXTENSION_KEY, Runtime
from layouts.i18n import normalize_lang

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "embed"
"""The embeds' script and style (served at ``/embed/static/``)."""

ASSETS = ("embed.css", "embed.js")
"""The embeds' static files, linked by fingerprinted URL."""

EMBEDS = ("kpis", "streets", "map", "board", "query")
"""The embeddable widgets."""

POLL_MS = 5000
"""How often an embed asks for fresh data when it cannot use the push (a 304 when nothing changed)."""

STALE_MS = int(3 * push_hub.DEFAULT_HEARTBEAT_S * 1000)
"""An embed says "not live" when nothing (event, heartbeat, answered poll) arrived for this long."""

PUSH_FAILURES = 3
"""Failed stream connections in a row after which an embed polls (and tries the push again later)."""

PUSH_RETRY_MS = 60_000
"""How long an embed that fell back to polling waits before trying the push again."""

MAX_AGE_S = 5
"""``Cache-Control: max-age`` of the public JSON (a proxy may serve it this long)."""

CACHE_KEY = "grid.public_cache"
"""Key of the public views' cache in ``flask_app.extensions``."""

QUERY_NOT_FOUND = "no case matches this query code and phone number; check both and try again"
"""The one answer to every failed query (unknown code, wrong phone, or a case no longer kept)."""

_CODE = re.compile(r"[A-Za-z0-9-]{4,32}")
_PHONE = re.compile(r"\+?[0-9][0-9 -]{4,24}")

TEXT: dict[str, dict[str, str]] = {
    "zh": {"kpis": "全区实时指标", "streets": "各街道指标", "map": "点位状态与案件分布", "board": "公众参与回音台",
           "query": "案件查询", "accepted": "今日受理", "closed": "今日结案", "closure_rate": "本月结案率",
           "on_time_closure_rate": "本月按时结案率", "satisfaction_rate": "本月满意度", "coverage": "本轮巡查覆盖",
           "overdue": "当前超期", "street": "街道", "month_accepted": "本月受理", "updated": "更新于",
           "loading": "正在加载……", "offline": "暂时无法连接，显示的是上次的数据", "category": "类别",
           "outcome": "处理结果", "closed_at": "结案时间", "on_time": "按时", "late": "超时",
           "query_code": "查询码", "phone": "手机号码", "submit": "查询", "status": "当前状态",
           "reported_at": "受理时间", "deadline": "办理时限", "timeline": "办理进度",
           "not_found": "未找到与该查询码和手机号码匹配的案件，请核对后重试。",
           "limited": "查询次数过多，请稍后再试。", "bad_input": "请输入正确的查询码和手机号码。",
           "legend.ok": "已巡查正常", "legend.pending": "未巡查", "legend.open": "办理中", "legend.overdue": "超期",
           "legend.hazard": "重大隐患", "density": "本月案件（按社区）", "none": "近期暂无结案",
           "summary": "按类别和街道汇总", "satisfied": "满意", "unsatisfied": "不满意",
           "live": "实时", "not_live": "非实时数据"},
    "en": {"kpis": "District figures, live", "streets": "Streets", "map": "Checkpoints and cases",
           "board": "Public feedback board", "query": "Track your case", "accepted": "Accepted today",
           "closed": "Closed today", "closure_rate": "Closure rate (month)",
           "on_time_closure_rate": "On-time closure (month)", "satisfaction_rate": "Satisfaction (month)",
           "coverage": "Patrol coverage (round)", "overdue": "Overdue now", "street": "Street",
           "month_accepted": "Accepted (month)", "updated": "Updated", "loading": "Loading…",
           "offline": "Cannot reach the server; showing the last data", "category": "Category",
           "outcome": "Outcome", "closed_at": "Closed", "on_time": "on time", "late": "late",
           "query_code": "Query code", "phone": "Phone number", "submit": "Search", "status": "Status",
           "reported_at": "Reported", "deadline": "Due", "timeline": "Progress",
           "not_found": "No case matches this query code and phone number; check both and try again.",
           "limited": "Too many queries; try again later.", "bad_input": "Enter a valid query code and phone number.",
           "legend.ok": "Inspected, fine", "legend.pending": "Not yet inspected", "legend.open": "Case open",
           "legend.overdue": "Overdue", "legend.hazard": "Hazard", "density": "Cases this month (by community)",
           "none": "No case closed recently", "summary": "By category and street", "satisfied": "satisfied",
           "unsatisfied": "not satisfied", "live": "Live", "not_live": "Not live"},
}
"""Every string of the embeds, in zh-CN and English (handed to the script as JSON)."""


def _runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def _cache() -> public_views.PublicCache:
    return current_app.extensions[CACHE_KEY]  # type: ignore[no-any-return]


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


class BadParam(ValueError):
    """A public query parameter is invalid; the message says what to send."""


def _street(runtime: Runtime) -> str | None:
    street = request.args.get("street") or None
    if street is not None and street not in runtime.reference.streets:
        raise BadParam(f"street={street[:40]!r} is not a street of this district")
    return street


def _cacheable(body: Any, max_age: int = MAX_AGE_S) -> Any:
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(hashlib.blake2b(response.get_data(), digest_size=16).hexdigest(), weak=True)
    return response.make_conditional(request)


def asset_urls(folder: Path = STATIC) -> dict[str, str]:
    """The URL of each embed asset, fingerprinted (``?v=``) with a digest of its content.

    A portal's visitors keep the files for a year (see ``dashboard.http``) and fetch them again
    only when a release changes them. Read once, when the app is built.
    """
    return {name: f"/embed/static/{name}?v={hashlib.blake2b((folder / name).read_bytes(), digest_size=8).hexdigest()}"
            for name in ASSETS}


def embed_page(name: str, lang: str, street: str | None, assets: dict[str, str]) -> str:
    """The HTML of embed ``name``: a shell that ``embed.js`` fills from the public JSON.

    ``assets`` maps each of ASSETS to its URL (``asset_urls``).
    """
    t = TEXT[lang]
    config = {"widget": name, "lang": lang, "street": street, "poll_ms": POLL_MS, "stale_ms": STALE_MS,
              "push_failures": PUSH_FAILURES, "push_retry_ms": PUSH_RETRY_MS, "text": t}
    data = html.escape(json.dumps(config, ensure_ascii=False), quote=False)
    form = ""
    if name == "query":
        form = (f'<form id="query-form" autocomplete="off"><label>{t["query_code"]}'
                '<input name="query_code" required maxlength="32" inputmode="latin"></label>'
                f'<label>{t["phone"]}<input name="phone" required maxlength="24" inputmode="tel"></label>'
                f'<button type="submit">{t["submit"]}</button></form>')
    return (f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{t[name]}</title><link rel="stylesheet" href="{assets["embed.css"]}"></head>'
            f'<body class="embed embed-{name}"><header><h1>{t[name]}</h1>'
            f'<span class="updated" id="updated"></span>'
            f'<span class="live-badge off" id="live">{t["not_live"]}</span></header>'
            f'<p class="banner" id="banner" hidden>{t["offline"]}</p>{form}'
            f'<main id="content" aria-live="polite"><p class="loading">{t["loading"]}</p></main>'
            f'<script type="application/json" id="embed-config">{data}</script>'
            f'<script src="{assets["embed.js"]}"></script></body></html>\n')


def public_blueprint(config: Config, limiter: Limiter) -> Blueprint:
    """The embeds, the public JSON and the citizen query of one app."""
    bp = Blueprint("public", __name__, static_folder=str(STATIC), static_url_path="/embed/static")
    assets = asset_urls()

    @bp.before_request
    def _live_only() -> Any:
        if request.path.startswith("/api/v1/public/") and request.path != "/api/v1/public/query" \
                and not request.path.startswith(push_streams.PUBLIC_STREAM_PREFIX) \
                and not _runtime().consumer.status.caught_up:  # a stream says "not live" itself
            response = _error(503, "the dashboard is still reading the stream history; retry shortly")
            response.headers["Retry-After"] = "2"
            return response
        return None

    @bp.errorhandler(BadParam)
    def _bad_param(exc: BadParam) -> Response:  # the JSON answers' 404; the embed page answers in text
        return _error(404, str(exc))

    @bp.get("/embed/<name>")
    def embed(name: str) -> Any:
        """One embed page (``?lang=zh|en``, ``?street=ID``)."""
        lang = normalize_lang(request.args.get("lang"), config.lang)
        if name not in EMBEDS:
            return Response(f"no embed {html.escape(name[:40])}; embeds: {', '.join(EMBEDS)}\n", 404,
                            content_type="text/plain; charset=utf-8")
        try:
            street = _street(_runtime())
        except BadParam as exc:
            return Response(str(exc) + "\n", 404, content_type="text/plain; charset=utf-8")
        response = Response(embed_page(name, lang, street, assets), content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "public, max-age=60"
        return response

    def _query(runtime: Runtime) -> tuple[str, str | None]:
        """(lang, street) of a public JSON request; BadParam (a 404) for an unknown street."""
        return normalize_lang(request.args.get("lang"), config.lang), _street(runtime)

    def _view(kind: str) -> Any:
        runtime = _runtime()
        lang, street = _query(runtime)
        now = runtime.now()
        build = public_views.VIEWS[kind]
        key = (kind, street, lang, *public_views.answer_version(runtime, now))
        return _cacheable(_cache().get(key, lambda: build(runtime, now, street, lang)))

    @bp.get("/api/v1/public/kpis")
    def kpis() -> Any:
        """District and street figures (today, this month), patrol coverage."""
        return _view("kpis")

    @bp.get("/api/v1/public/board")
    def board() -> Any:
        """Recently closed cases by category and street with their outcome."""
        return _view("board")

    @bp.get("/api/v1/public/map")
    def map_() -> Any:
        """Checkpoint status dots and this month's cases per community."""
        return _view("map")

    @bp.get("/api/v1/public/boundaries")
    def boundaries() -> Any:
        """Street and community boundaries (they change only with the reference data)."""
        runtime = _runtime()
        lang, street = _query(runtime)
        body = _cache().get(("boundaries", street, lang), lambda: public_views.public_boundaries(runtime, street, lang))
        return _cacheable(body, 3600)

    @bp.get(push_streams.PUBLIC_STREAM_PREFIX + "<view>")
    # counts opens, not time: an open stream is never cut by it, a flood of opens is
    @limiter.limit(config.push_open_rate_limit, key_func=lambda: "push-open:" + client_address())
    def stream(view: str) -> Any:
        """The live JSON of ``view`` (kpis, tiles, board, map) as server-sent events, shared by every viewer."""
        if view not in public_views.VIEWS:
            return _error(404, f"no stream {view[:40]!r}; streams: {', '.join(public_views.VIEWS)}")
        runtime = _runtime()
        lang, street = _query(runtime)
        hub = push_streams.hub_of(current_app)
        return push_streams.sse_response(hub, push_streams.public_channel(hub, runtime, view, street, lang))

    @bp.get("/api/v1/openapi.json")
    def openapi_document() -> Any:
        """The OpenAPI document of the JSON API."""
        return _cacheable(openapi.document(), 300)

    @bp.post("/api/v1/public/query")
    @limiter.limit(config.query_rate_limit, key_func=lambda: "query-client:" + client_address())
    @limiter.limit(config.query_code_rate_limit, key_func=lambda: "query-code:" + form_or_json("query_code").upper())
    def query() -> Any:
        """A citizen's case by query code and phone number; one answer for every failure."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, 'send JSON {"query_code": "...", "phone": "..."}')
        code, phone = body.get("query_code"), body.get("phone")
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            return _error(400, "query_code must be 4 to 32 letters, digits or '-'")
        if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
            return _error(400, "phone must be a phone number (digits, optionally +, spaces or '-')")
        lang = normalize_lang(body.get("lang") if isinstance(body.get("lang"), str) else None, config.lang)
        found = public_views.citizen_query(_runtime(), code, phone, lang)
        if found is None:
            log.info("citizen query: no match (from %s)", client_address())
            return _error(404, QUERY_NOT_FOUND)
        response = jsonify(found)
        response.headers["Cache-Control"] = "no-store"
        return response

    return bp
