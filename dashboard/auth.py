"""Who is logged in: the session → official middleware, `require_role`, login and logout pages.

The encrypted cookie holds a random session token whose row lives in `official_sessions` (server side):
logout deletes it, "log out everywhere" deletes all of the official's, and a password change
(`cchc-bot admin set-password`) or deactivation deletes them too, so a copied cookie stops working at once.
The password fingerprint is still checked as a second line.
"""
from __future__ import annotations

import functools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp_session import SESSION_KEY, get_session, new_session

from dashboard.registry import ROLE_RANK, role_at_least
from dashboard.security import rotate_csrf
from dashboard.state import FLASH, OFFICIAL, client_ip, dashboard

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ABSOLUTE_MAX_AGE = 12 * 3600  # even an active session re-authenticates after this
REFRESH_EVERY = 600  # re-issue the cookie this often so the idle timeout slides


@dataclass(frozen=True)
class Me:
    id: int
    username: str
    name: str
    agency_id: str
    role: str


def current_official(request: web.Request) -> Me | None:
    """The logged-in official, or None (set by the `load_official` middleware)."""
    return request.get(OFFICIAL)  # type: ignore[return-value]


@web.middleware
async def load_official(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the official (`current_official`: a `Me` or None) and pending flash messages on the request."""
    session = await get_session(request)
    request[OFFICIAL] = None
    token = session.get("sid")
    if token is not None:
        view = await dashboard(request).accounts.session_official(str(token))
        now = time.time()
        fresh = now - float(session.get("login_at", 0)) < ABSOLUTE_MAX_AGE
        if view is not None and view.active and view.fingerprint == session.get("fp") and fresh:
            request[OFFICIAL] = Me(view.id, view.username, view.display_name, view.agency_id, view.role)
            if now - float(session.get("seen", 0)) > REFRESH_EVERY:
                session["seen"] = int(now)
        else:
            for key in ("sid", "fp", "login_at", "seen"):
                session.pop(key, None)
    if request.method == "GET" and session.get("flash"):
        request[FLASH] = session.pop("flash")
    return await handler(request)


def flash(request: web.Request, message: str, kind: str = "ok") -> None:
    """A one-time message shown on the next page (after a POST/redirect/GET)."""
    session = request.get(SESSION_KEY)
    if session is not None:
        session["flash"] = [*session.get("flash", []), {"kind": kind, "text": message}][-5:]


def require_role(min_role: str = "officer") -> Callable[[Handler], Handler]:
    """Anonymous → redirect to the login page (then back); logged in below `min_role` → 403."""
    if min_role not in ROLE_RANK:
        raise ValueError(f"unknown role {min_role!r}")

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            me = current_official(request)
            if me is None:
                target = request.path_qs if request.method == "GET" else "/dashboard/"
                raise web.HTTPFound(request.app.router["login"].url_for().with_query(next=target))
            if not role_at_least(me.role, min_role):
                raise web.HTTPForbidden(text="Tài khoản của bạn không có quyền thực hiện thao tác này.")
            return await handler(request)

        wrapper.min_role = min_role  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _safe_next(target: str) -> str:
    """Only redirect back inside the dashboard (no open redirect to another site)."""
    if target.startswith("/dashboard/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard/"


async def login_page(request: web.Request) -> web.StreamResponse:
    from dashboard.render import render

    if current_official(request) is not None:
        raise web.HTTPFound("/dashboard/")
    return render(request, "login.html", {"error": "", "username": "",
                                          "next": _safe_next(request.query.get("next", ""))})


async def login_submit(request: web.Request) -> web.StreamResponse:
    from dashboard.render import render

    form = await request.post()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    target = _safe_next(str(form.get("next", "")))
    dash = dashboard(request)
    keys = dash.throttle.keys(username, client_ip(request))

    def refuse(message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
        response = render(request, "login.html", {"error": message, "username": username, "next": target},
                          status=status)
        response.headers.update(headers or {})
        return response

    wait = await dash.throttle.attempt(keys)  # counted before the password is checked (parallel-safe)
    if wait > 0:
        seconds = math.ceil(wait)
        return refuse(f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.", 429,
                      {"Retry-After": str(seconds)})
    view = await dash.accounts.authenticate(username, password) if username and password else None
    if view is None:
        return refuse("Tên đăng nhập hoặc mật khẩu không đúng.", 401)
    await dash.throttle.succeeded(keys)
    session = await new_session(request)  # a fresh session: no fixation of a pre-login cookie
    token = await dash.accounts.open_session(view.id)
    session.update({"sid": token, "fp": view.fingerprint, "login_at": int(time.time()), "seen": int(time.time())})
    rotate_csrf(session)
    raise web.HTTPFound(target)


async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    token = session.get("sid")
    if token is not None:
        await dashboard(request).accounts.end_session(str(token))  # the cookie is dead even if kept
    session.invalidate()
    raise web.HTTPFound("/dashboard/login")


async def logout_everywhere(request: web.Request) -> web.StreamResponse:
    """End every session of the logged-in official (other browsers, a lost phone), this one included."""
    me = current_official(request)
    session = await get_session(request)
    if me is not None:
        await dashboard(request).accounts.end_all_sessions(me.id)
    session.invalidate()
    raise web.HTTPFound("/dashboard/login")
