"""The web chat's HTTP API: who may talk to it (origin, cookie, token, rate limits), uploads, live delivery."""
from __future__ import annotations

import asyncio
import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from channels.web.identity import COOKIE, Signer
from core.types import Attachment, Reply
from tests.web.helpers import PORTAL, SECRET, client_for, open_session, say, web_bot

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200


def put_cookie(client, value: str) -> None:
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: value}, response_url=client.make_url("/webchat/"))


def uid() -> str:
    return str(uuid.uuid4())


async def read_events(response, count: int, timeout: float = 5.0) -> list[tuple[str, dict]]:
    """The next `count` SSE events of a streaming response: (id, data)."""
    events: list[tuple[str, dict]] = []
    event_id, data = "", ""

    async def run() -> None:
        nonlocal event_id, data
        while len(events) < count:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                events.append((event_id, json.loads(data)))
                event_id, data = "", ""

    await asyncio.wait_for(run(), timeout)
    return events


async def test_other_origins_are_refused(sqlite_engine, pack):
    bot = await web_bot(sqlite_engine, pack)
    async with client_for(bot) as client:
        evil = "https://evil.example"
        r = await client.get("/webchat/api/session", headers={"Origin": evil})
        assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
        assert (await client.options("/webchat/api/messages", headers={"Origin": evil})).status == 403
        ok = await client.options("/webchat/api/messages", headers={"Origin": PORTAL})
        assert ok.status == 204 and ok.headers["Access-Control-Allow-Origin"] == PORTAL
        assert "X-Webchat-Token" in ok.headers["Access-Control-Allow-Headers"]
        session = await open_session(client)
        # a page elsewhere cannot post on the visitor's behalf, even with the cookie and the right token
        r = await say(client, session["token"], uid(), origin=evil, text="xin chào")
        assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
        r = await client.post("/webchat/api/messages", json={"id": uid(), "text": "x"},
                              headers={"X-Webchat-Token": session["token"]})  # no Origin at all
        assert r.status == 403
        assert (await say(client, session["token"], uid(), text="xin chào")).status == 202


async def test_forged_cookie_and_missing_token_are_refused(sqlite_engine, pack):
    bot = await web_bot(sqlite_engine, pack)
    async with client_for(bot) as client:
        session = await open_session(client)
        cookie = client.session.cookie_jar.filter_cookies(client.make_url("/webchat/api/"))[COOKIE].value
        visitor, _, mac = cookie.partition(".")
        assert (await say(client, "not-the-token", uid(), text="a")).status == 401
        forged = Signer(["x" * 40]).cookie(visitor)  # the right visitor id signed with another secret
        put_cookie(client, forged)
        r = await say(client, session["token"], uid(), text="a")
        assert r.status == 401 and "tải lại trang" in (await r.json())["message"]
        assert (await client.get("/webchat/api/history", headers={"Origin": PORTAL})).status == 401
        # a forged cookie never names a visitor: the session endpoint starts a new one
        fresh = await open_session(client)
        assert fresh["token"] != session["token"] and fresh["last_id"] == 0


async def test_rotated_secret_keeps_the_visitor(sqlite_engine, pack):
    old = Signer([SECRET])
    visitor = Signer.new_visitor()
    bot = await web_bot(sqlite_engine, pack, CCHC_WEBCHAT_SECRET="n" * 40 + "," + SECRET)
    async with client_for(bot) as client:
        put_cookie(client, old.cookie(visitor))
        r = await client.get("/webchat/api/session", headers={"Origin": PORTAL})
        assert r.status == 200
        renewed = r.cookies[COOKIE]
        assert renewed.value.startswith(visitor + ".") and renewed.value != old.cookie(visitor)
        assert renewed["httponly"] and renewed["samesite"] == "Lax"
        assert old.token_ok(visitor, (await r.json())["token"]) is False  # signed with the newest secret


async def test_rate_limit_per_visitor_is_polite(sqlite_engine, pack):
    bot = await web_bot(sqlite_engine, pack, CCHC_WEBCHAT_RATE_VISITOR="3/60")
    async with client_for(bot) as client:
        token = (await open_session(client))["token"]
        for _ in range(3):
            assert (await say(client, token, uid(), text="thủ tục")).status == 202
        r = await say(client, token, uid(), text="thủ tục")
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert "chờ một chút" in (await r.json())["message"]
        assert r.headers["Access-Control-Allow-Origin"] == PORTAL  # the widget can read the message


async def test_rate_limit_per_ip_covers_many_visitors(sqlite_engine, pack):
    """New visitors and their messages count against their address: cookies cannot be thrown away to
    escape the limit."""
    bot = await web_bot(sqlite_engine, pack, CCHC_WEBCHAT_RATE_IP="3/60")
    async with client_for(bot) as client:
        token = (await open_session(client))["token"]  # 1
        assert (await say(client, token, uid(), text="a")).status == 202  # 2
        client.session.cookie_jar.clear()
        token = (await open_session(client))["token"]  # 3: another visitor, same address
        r = await say(client, token, uid(), text="a")
        assert r.status == 429 and "chờ một chút" in (await r.json())["message"]
        client.session.cookie_jar.clear()
        assert (await client.get("/webchat/api/session", headers={"Origin": PORTAL})).status == 429


async def test_uploads_are_checked_from_their_bytes(sqlite_engine, pack):
    import aiohttp

    bot = await web_bot(sqlite_engine, pack)
    async with client_for(bot) as client:
        token = (await open_session(client))["token"]
        headers = {"Origin": PORTAL, "X-Webchat-Token": token}

        def form(data: bytes, name: str) -> aiohttp.FormData:
            f = aiohttp.FormData()
            f.add_field("id", uid())
            f.add_field("file", data, filename=name, content_type="image/jpeg")
            return f

        big = JPEG + b"\x00" * (10 * 1024 * 1024)
        r = await client.post("/webchat/api/upload", data=form(big, "anh.jpg"), headers=headers)
        assert r.status == 413 and "10 MB" in (await r.json())["message"]
        r = await client.post("/webchat/api/upload", data=form(b"<html><script>x</script>", "anh.jpg"), headers=headers)
        assert r.status == 415 and "JPEG" in (await r.json())["message"]
        r = await client.post("/webchat/api/upload", data=form(JPEG, "../../ảnh <1>.jpg"), headers=headers)
        assert r.status == 202
        history = await (await client.get("/webchat/api/history", headers={"Origin": PORTAL})).json()
        mine = [m for m in history["messages"] if m["dir"] == "in"]
        assert mine[-1]["kind"] == "file" and mine[-1]["text"] == "ảnh 1.jpg"


async def test_conversation_live_delivery_and_resume(db_engine, pack):
    """Both databases: answers and an official's later message reach an open stream; history resumes."""
    bot = await web_bot(db_engine, pack)
    channel = bot.senders["web"]
    async with client_for(bot) as client:
        token = (await open_session(client))["token"]
        stream = await client.get("/webchat/api/events?after=0", headers={"Origin": PORTAL})
        assert stream.headers["Content-Type"] == "text/event-stream"
        first = uid()
        assert (await say(client, token, first, text="lam the nao de nop ho so truc tuyen")).status == 202
        events = await read_events(stream, 2)
        (_, question), (answer_id, answer) = events
        assert question == {**question, "dir": "in", "text": "lam the nao de nop ho so truc tuyen", "cid": first}
        assert answer["dir"] == "out" and answer["reply_to"] == first and "<p>" in answer["html"]
        visitor = channel.signer.visitor(
            client.session.cookie_jar.filter_cookies(client.make_url("/webchat/api/"))[COOKIE].value)[0]
        # an official's answer, sent through the channel later, is pushed to the open panel at once
        await channel.send(visitor, [Reply(text="Trả lời của cán bộ: **đã xử lý** <b>xong</b>")])
        (pushed_id, pushed), = await read_events(stream, 1)
        assert pushed["html"] == "<p>Trả lời của cán bộ: <strong>đã xử lý</strong> &lt;b&gt;xong&lt;/b&gt;</p>"
        stream.close()
        # a panel that reconnects gets only what it has not seen (Last-Event-ID), and history resumes too
        await channel.send(visitor, [Reply(text="Tin sau")])
        again = await client.get("/webchat/api/events", headers={"Origin": PORTAL, "Last-Event-ID": pushed_id})
        (_, later), = await read_events(again, 1)
        assert later["html"] == "<p>Tin sau</p>"
        again.close()
        r = await client.get(f"/webchat/api/history?after={answer_id}", headers={"Origin": PORTAL})
        texts = [m["html"] for m in (await r.json())["messages"]]
        assert texts == [pushed["html"], "<p>Tin sau</p>"]


async def test_retried_post_is_stored_once_and_download_returns_the_upload(sqlite_engine, pack):
    import aiohttp

    bot = await web_bot(sqlite_engine, pack)
    channel = bot.senders["web"]
    async with client_for(bot) as client:
        token = (await open_session(client))["token"]
        same = uid()
        for _ in range(2):
            assert (await say(client, token, same, text="xin chào")).status == 202
        history = (await (await client.get("/webchat/api/history", headers={"Origin": PORTAL})).json())["messages"]
        assert [m["cid"] for m in history if m["dir"] == "in"] == [same]
        f = aiohttp.FormData()
        f.add_field("id", uid())
        f.add_field("file", JPEG, filename="a.jpg")
        seen: list = []
        original = channel.submit

        async def spy(incoming):
            seen.append(incoming)
            await original(incoming)

        channel.submit = spy
        r = await client.post("/webchat/api/upload", data=f, headers={"Origin": PORTAL, "X-Webchat-Token": token})
        assert r.status == 202
        attachment = seen[0].attachments[0]
        assert attachment.kind == "photo" and attachment.mime_type == "image/jpeg" and attachment.size == len(JPEG)
        assert await channel.download(attachment) == JPEG
    from core.channel import PermanentError

    with pytest.raises(PermanentError):
        await channel.download(Attachment(kind="photo", file_id="web:" + "x" * 32))


async def test_public_pages_security_headers_and_feed(sqlite_engine, pack):
    bot = await web_bot(sqlite_engine, pack, CCHC_TELEGRAM_USERNAME="TroLyCCHC_bot")
    async with client_for(bot) as client:
        for path in ("/", "/bantin", "/duongdaynong", "/bantin/999"):
            r = await client.get(path)
            assert r.status in (200, 404), path
            csp = r.headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        home = await (await client.get("/")).text()
        assert pack.config.bot_name in home and 'src="/webchat.js"' in home and "https://t.me/TroLyCCHC_bot" in home
        assert "<style" not in home and "<script>" not in home  # CSP-friendly: no inline style or script
        hotlines = await (await client.get("/duongdaynong")).text()
        assert 'href="tel:18001096"' in hotlines
        js = await client.get("/webchat.js")
        assert js.headers["Content-Type"].startswith("text/javascript")
        assert js.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        feed = await client.get("/bantin/feed.xml")
        assert feed.headers["Content-Type"].startswith("application/atom+xml")
        root = ET.fromstring(await feed.read())
        ns = {"a": "http://www.w3.org/2005/Atom"}
        assert root.find("a:title", ns).text.startswith("Bản tin Cải cách hành chính")
        assert root.find("a:link[@rel='self']", ns).get("href").endswith("/bantin/feed.xml")


async def test_behind_two_proxies_each_citizen_has_their_own_address_limit(sqlite_engine, pack):
    """A TLS proxy in front of nginx: both append to X-Forwarded-For; the citizen is two hops from the
    right (CCHC_WEBCHAT_TRUSTED_PROXIES=2), so citizens do not share nginx's address limit, and a left part
    the citizen wrote does not let them escape theirs."""
    bot = await web_bot(sqlite_engine, pack, CCHC_WEBCHAT_RATE_IP="2/60", CCHC_WEBCHAT_TRUST_PROXY="1",
                        CCHC_WEBCHAT_TRUSTED_PROXIES="2")

    async def session(forwarded: str) -> int:
        client.session.cookie_jar.clear()
        r = await client.get("/webchat/api/session", headers={"Origin": PORTAL, "X-Forwarded-For": forwarded})
        return r.status

    async with client_for(bot) as client:
        assert await session("203.0.113.7, 10.0.0.2") == 200
        assert await session("6.6.6.6, 203.0.113.7, 10.0.0.2") == 200  # forged left part: still 203.0.113.7
        assert await session("7.7.7.7, 203.0.113.7, 10.0.0.2") == 429
        assert await session("198.51.100.9, 10.0.0.2") == 200  # another citizen behind the same proxies
