"""The public bulletin archive: ``/bantin`` (list) and ``/bantin/{number}`` (one issue)."""
from __future__ import annotations

from aiohttp import web

from core.web import INT_MAX, SERVICES, positive_int

BASE = "/bantin"


async def _index(request: web.Request) -> web.Response:
    from features.bulletin.render import WebRenderer

    service = request.app[SERVICES].extra["bulletin"]
    issues = await service.store.published(limit=100)
    html = WebRenderer(service.pack).index(issues, BASE)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def _issue(request: web.Request) -> web.Response:
    from features.bulletin.models import SENDING, SENT
    from features.bulletin.render import WebRenderer

    service = request.app[SERVICES].extra["bulletin"]
    number = positive_int(request.match_info["number"], maximum=INT_MAX)
    if number is None:
        raise web.HTTPNotFound()
    bulletin = await service.store.by_number(number, statuses=(SENDING, SENT))
    if bulletin is None or bulletin.status not in (SENDING, SENT):
        raise web.HTTPNotFound()
    html = WebRenderer(service.pack).issue(bulletin, BASE)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def register_routes(app: web.Application) -> None:
    app.router.add_get(BASE, _index)
    app.router.add_get(BASE + "/{number}", _issue)
