"""The public pages as a visitor sees them: the bulletin feed before any issue, and a footer that does not
repeat what the page already says."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from tests.web.helpers import client_for, web_bot

ATOM = {"a": "http://www.w3.org/2005/Atom"}
LINKS = {"CCHC_TELEGRAM_USERNAME": "TroLyCCHC_bot", "CCHC_ZALO_OA_URL": "https://zalo.me/1234567890"}


def _footer(html: str) -> str:
    found = re.search(r"<footer\b.*?</footer>", html, re.S)
    assert found, html
    return found.group(0)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_the_feed_before_any_issue_is_valid_atom_dated_when_the_site_started(sqlite_engine, pack):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    bot = await web_bot(sqlite_engine, pack)
    async with client_for(bot) as client:
        first = await (await client.get("/bantin/feed.xml")).read()
        again = await (await client.get("/bantin/feed.xml")).read()
    after = dt.datetime.now(dt.UTC)
    root = ET.fromstring(first)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed" and root.findall("a:entry", ATOM) == []
    for required in ("a:id", "a:title", "a:updated", "a:author/a:name"):
        assert (root.findtext(required, namespaces=ATOM) or "").strip(), required
    assert root.find("a:link[@rel='self']", ATOM).get("href").endswith("/bantin/feed.xml")
    updated = dt.datetime.strptime(root.findtext("a:updated", namespaces=ATOM), "%Y-%m-%dT%H:%M:%SZ")
    assert before <= updated.replace(tzinfo=dt.UTC) <= after  # not 1970: the time the site started
    assert again == first  # the same date on every request until an issue is published


async def test_the_footer_repeats_neither_the_header_nor_the_page(sqlite_engine, pack):
    bot = await web_bot(sqlite_engine, pack, **LINKS)
    async with client_for(bot) as client:
        pages = {path: await (await client.get(path)).text() for path in ("/", "/bantin", "/duongdaynong")}
    province = pack.config.province_full
    for path, html in pages.items():
        footer = _text(_footer(html))
        assert "dichvucong.gov.vn" in footer, path
        assert pack.config.bot_name not in footer, (path, footer)  # the header names the bot already
        assert footer.casefold().count(province.casefold()) <= 1, (path, footer)
    # the front page and the bulletin page present Zalo and Telegram in their body: once per page
    for path in ("/", "/bantin"):
        for url in ("https://zalo.me/1234567890", "https://t.me/TroLyCCHC_bot"):
            assert pages[path].count(f'href="{url}"') == 1, (path, url)
    # a page that does not: the footer offers them
    hotlines_footer = _footer(pages["/duongdaynong"])
    assert 'href="https://zalo.me/1234567890"' in hotlines_footer and "@TroLyCCHC_bot" in hotlines_footer
