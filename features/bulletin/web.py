"""The public bulletin archive: ``/bantin`` (list), ``/bantin/{number}`` (one issue) and ``/bantin/feed.xml``
(an Atom feed for the portal and news readers). The pages use the public site's layout and links
(``services.extra["web_site"]``, set by the web channel; optional)."""
from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from core.web import INT_MAX, SERVICES, positive_int

BASE = "/bantin"
FEED_SIZE = 30


def _page(request: web.Request) -> dict[str, Any]:
    site = request.app[SERVICES].extra.get("web_site")
    return {"site": site} if site is not None else {}


async def _index(request: web.Request) -> web.Response:
    from features.bulletin.render import WebRenderer

    service = request.app[SERVICES].extra["bulletin"]
    issues = await service.store.published(limit=100)
    html = WebRenderer(service.pack).index(issues, BASE, **_page(request))
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
    html = WebRenderer(service.pack).issue(bulletin, BASE, **_page(request))
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def _stamp(bulletin: Any) -> str:
    moment = bulletin.started_at or bulletin.updated_at
    if moment is None:
        moment = dt.datetime.combine(bulletin.issue_date, dt.time(), dt.UTC)
    return _rfc3339(moment)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def public_base(request: web.Request) -> str:
    """The site's address as citizens see it: ``CCHC_PUBLIC_URL`` when set (behind a proxy), else the request's."""
    configured = request.app[SERVICES].extra.get("public_url")
    return str(configured).rstrip("/") if configured else f"{request.scheme}://{request.host}"


async def _feed(request: web.Request, site_started: str) -> web.Response:
    """The Atom feed of the latest issues. Its ``updated`` is the newest issue's; with no issue yet, the
    time the site started (``site_started``, RFC 3339 UTC): Atom requires the element, and a fixed value
    lets readers' conditional requests and caches work until the first issue."""
    service = request.app[SERVICES].extra["bulletin"]
    pack = service.pack
    issues = await service.store.published(limit=FEED_SIZE)
    root = public_base(request)
    home = f"{root}{BASE}"
    title = f"Bản tin Cải cách hành chính – {pack.config.province_full}"
    updated = max((_stamp(b) for b in issues), default=site_started)
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi">',
           f"<title>{escape(title)}</title>", f"<id>{escape(home)}</id>", f"<updated>{updated}</updated>",
           f"<link rel=\"self\" type=\"application/atom+xml\" href={quoteattr(home + '/feed.xml')}/>",
           f"<link rel=\"alternate\" type=\"text/html\" href={quoteattr(home)}/>",
           f"<author><name>{escape(pack.config.service_centre.name)}</name></author>"]
    for b in issues:
        url = f"{home}/{b.number}"
        out += ["<entry>", f"<title>{escape(f'Số {b.number}: {b.title}')}</title>", f"<id>{escape(url)}</id>",
                f"<link rel=\"alternate\" type=\"text/html\" href={quoteattr(url)}/>",
                f"<updated>{_stamp(b)}</updated>"]
        if b.summary:
            out.append(f"<summary>{escape(b.summary)}</summary>")
        out.append("</entry>")
    out.append("</feed>")
    return web.Response(text="\n".join(out), content_type="application/atom+xml", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=300"})


def register_routes(app: web.Application) -> None:
    started = _rfc3339(dt.datetime.now(dt.UTC))

    async def feed(request: web.Request) -> web.Response:
        return await _feed(request, started)

    app.router.add_get(BASE, _index)
    app.router.add_get(BASE + "/feed.xml", feed)
    app.router.add_get(BASE + "/{number}", _issue)
