"""The log-in and log-out pages: plain HTML forms (never framed), with failed log-ins rate-limited."""

from __future__ import annotations

import html
import logging
from typing import Any
from urllib.parse import urlsplit

import flask_login
from flask import Blueprint, Response, redirect, request, session
from flask_limiter import Limiter, RequestLimit

from dashboard.access import LOGIN_PATH, Directory, User, _safe_next, home_of
from dashboard.config import Config
from dashboard.ratelimit import client_address, form_or_json
from layouts.i18n import normalize_lang

log = logging.getLogger(__name__)

_TEXT = {
    "zh": {"title": "登录 · 网格指挥中心", "user": "用户名", "password": "密码", "submit": "登录",
           "failed": "用户名或密码不正确", "limited": "登录失败次数过多，请稍后再试",
           "out": "已退出登录", "lang": "English"},
    "en": {"title": "Log in · Grid Command Center", "user": "User name", "password": "Password",
           "submit": "Log in", "failed": "Wrong user name or password",
           "limited": "Too many failed log-ins; try again later", "out": "Logged out", "lang": "中文"},
}


def login_page(lang: str, next_path: str, message: str = "") -> str:
    """The log-in form in ``lang``, posting back with ``next_path``."""
    t = _TEXT[lang]
    other = "zh" if lang == "en" else "en"
    note = f'<p class="login-message" role="alert">{html.escape(message)}</p>' if message else ""
    return (f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t["title"]}</title>'
            '<link rel="stylesheet" href="/embed/static/embed.css"></head><body class="login"><main>'
            f'<h1>{t["title"]}</h1>{note}'
            f'<form method="post" action="{LOGIN_PATH}?lang={lang}">'
            f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
            f'<label>{t["user"]}<input name="username" autocomplete="username" required></label>'
            f'<label>{t["password"]}<input name="password" type="password" autocomplete="current-password" '
            f'required></label><button type="submit">{t["submit"]}</button></form>'
            f'<p><a href="{LOGIN_PATH}?lang={other}">{t["lang"]}</a></p></main></body></html>\n')


def _html(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def login_blueprint(config: Config, directory: Directory, limiter: Limiter) -> Blueprint:
    """The ``/login`` and ``/logout`` routes of one app."""
    bp = Blueprint("login", __name__)

    def lang() -> str:
        return normalize_lang(request.args.get("lang"), config.lang)

    def failed(response: Response) -> bool:
        return response.status_code == 401

    @bp.route(LOGIN_PATH, methods=["GET", "POST"])
    @limiter.limit(config.login_rate_limit, methods=["POST"], deduct_when=failed,
                   key_func=client_address)
    @limiter.limit(config.login_rate_limit, methods=["POST"], deduct_when=failed,
                   key_func=lambda: "user:" + form_or_json("username"))
    def login() -> Any:
        """GET: the form; POST: check the password, sign the session, go where the user was going."""
        next_path = _safe_next(request.values.get("next")) or ""
        if request.method == "GET":
            return _html(login_page(lang(), next_path))
        if not config.auth:
            return redirect(next_path or "/")
        if not same_origin_post():
            # a form on another site must not sign a visitor in (to an account of its choosing)
            log.info("log-in refused: posted from another origin")
            return _html(login_page(lang(), next_path, _TEXT[lang()]["failed"]), 403)
        who = directory.authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if who is None:
            log.info("failed log-in from %s", client_address())
            return _html(login_page(lang(), next_path, _TEXT[lang()]["failed"]), 401)
        session.clear()
        session.permanent = True
        flask_login.login_user(User(who))
        log.info("log-in: %s (%s)", who.name, who.role.value)
        return redirect(next_path or home_of(who))

    @bp.get("/logout")
    def logout() -> Any:
        """Forget the signed session."""
        flask_login.logout_user()
        session.clear()
        return _html(login_page(lang(), "", _TEXT[lang()]["out"]))

    return bp


def same_origin_post() -> bool:
    """True unless the browser says the form was posted from another origin (``Origin``, else
    ``Referer``): the standard defence against log-in CSRF; a client that sends neither
    (curl, tests) is let through, as browsers always send one on a cross-site POST."""
    claimed = request.headers.get("Origin") or request.referrer
    if not claimed or claimed == "null":
        return claimed != "null"
    parts = urlsplit(claimed)
    return f"{parts.scheme}://{parts.netloc}" == request.host_url.rstrip("/")


def too_many(limit: RequestLimit | None, lang: str) -> Response:
    """The log-in page's answer when failed log-ins hit their limit."""
    return _html(login_page(lang, "", _TEXT[lang]["limited"]), 429)
