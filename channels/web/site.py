"""The bot's public web pages: ``/`` (what the bot does, with the chat widget open), ``/duongdaynong``
(the hotline directory), the shared stylesheet ``/site.css``, and the security headers every public
response gets (the dashboard sets its own, stricter ones first; these never override them).

Pages are the pack's autoescaped templates ``templates/web/*.html.j2``, so a province edits words, not code.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from channels.web.config import WebchatConfig
from core.content.texts import install_filters

STATIC = Path(__file__).with_name("static")
SITE_KEY = "web_site"  # services.extra[...]: the links every public page shows (see `site_links`)

# Only the bot's own scripts and styles; images may come from https (bulletin pictures).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@web.middleware
async def security_headers(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """CSP, nosniff and frame-ancestors on every response, errors included (set only when not set)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        for name, value in HEADERS.items():
            exc.headers.setdefault(name, value)
        raise
    if not response.prepared:  # an event stream has already sent its headers
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def site_links(config: WebchatConfig) -> dict[str, str]:
    return {"telegram_url": config.telegram_url, "telegram_username": config.telegram_username,
            "zalo_url": config.zalo_oa_url}


def page_environment(pack: Any) -> jinja2.Environment:
    """An autoescaping environment over the pack's templates (cached on the pack object)."""
    env = getattr(pack, "_web_env", None)
    if env is None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(pack.root / "templates")), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.globals["pack"] = pack.config
        install_filters(env)
        try:
            pack._web_env = env
        except AttributeError:  # a pack type without a __dict__: render uncached
            pass
    return env


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


def register_site(app: web.Application, pack: Callable[[], Any], links: dict[str, str]) -> None:
    css = (STATIC / "site.css").read_bytes()

    async def front(request: web.Request) -> web.Response:
        current = pack()
        return _html(page_environment(current).get_template("web/front.html.j2").render(site=links))

    async def hotlines(request: web.Request) -> web.Response:
        current = pack()
        groups = [(g, [e for e in g.entries if e.phone]) for g in current.hotlines.groups]
        return _html(page_environment(current).get_template("web/hotlines.html.j2").render(
            site=links, groups=[(g, entries) for g, entries in groups if entries], tel=_tel))

    async def stylesheet(request: web.Request) -> web.Response:
        return web.Response(body=css, content_type="text/css", charset="utf-8",
                            headers={"Cache-Control": "public, max-age=3600"})

    app.middlewares.append(security_headers)
    app.router.add_get("/", front)
    app.router.add_get("/duongdaynong", hotlines)
    app.router.add_get("/site.css", stylesheet)


def _tel(phone: str) -> str:
    return "tel:" + "".join(ch for ch in phone if ch.isdigit() or ch == "+")
