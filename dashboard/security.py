"""Dashboard middlewares: security headers, encrypted session cookies, CSRF tokens, error pages.

CSRF follows the aiohttp-demos blog pattern: one random token per session, rendered into every form as
``_csrf`` (or sent as ``X-CSRF-Token``) and compared with `secrets.compare_digest` on every unsafe request.
"""
from __future__ import annotations

import hashlib
import secrets

from aiohttp import web
from aiohttp_session import Session, get_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from dashboard.state import CSRF_TOKEN, SESSION_MAX_AGE, dashboard, is_https

COOKIE_NAME = "cchc_dashboard"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# No script-src at all: the dashboard ships no JavaScript, so none can run (injected or otherwise).
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def session_key(secret: str) -> bytes:
    """32 bytes for Fernet, derived (domain-separated) from the app's one secret key."""
    return hashlib.sha256(b"cchc-dashboard-session\x00" + secret.encode()).digest()


class DashboardCookieStorage(EncryptedCookieStorage):
    """Encrypted cookie, HttpOnly, SameSite=Lax; `Secure` when the request came over https or configured."""

    def __init__(self, secret: str) -> None:
        super().__init__(session_key(secret), cookie_name=COOKIE_NAME, path="/dashboard",
                         httponly=True, samesite="Lax", max_age=SESSION_MAX_AGE)

    async def save_session(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        await super().save_session(request, response, session)
        if dashboard(request).config.secure_cookies or is_https(request):
            cookie = response.cookies.get(self.cookie_name)
            if cookie is not None:
                cookie["secure"] = True


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    """Headers on every dashboard response, errors and redirects included; private pages are no-store."""
    static = request.path.startswith("/dashboard/static/")

    def decorate(response: web.StreamResponse) -> None:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if static:
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        else:
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"

    try:
        response = await handler(request)
    except web.HTTPException as exc:
        decorate(exc)
        raise
    decorate(response)
    return response


def ensure_csrf_token(session: Session) -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def submitted_token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD, "")
        return value if isinstance(value, str) else ""
    return ""


@web.middleware
async def csrf_protect(request: web.Request, handler) -> web.StreamResponse:
    """Give every session a token; refuse unsafe requests whose token is missing or wrong (403)."""
    session = await get_session(request)
    token = ensure_csrf_token(session)
    request[CSRF_TOKEN] = token
    if request.method in UNSAFE:
        sent = await submitted_token(request)
        if not sent or not secrets.compare_digest(sent.encode(), token.encode()):
            raise web.HTTPForbidden(text="Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ "
                                         "(thiếu mã CSRF). Vui lòng tải lại trang và thử lại.")
    return await handler(request)


def rotate_csrf(session: Session) -> str:
    """New token after login/logout so a token seen before authentication is useless afterwards."""
    session.pop("csrf", None)
    return ensure_csrf_token(session)
