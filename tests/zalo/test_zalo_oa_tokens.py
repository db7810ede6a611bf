"""Zalo OA tokens: stored in the database, refreshed before expiry and on -216/-220, the single-use
refresh token rotated by exactly one process at a time (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from channels.zalo_oa.store import TokenPair, TokenStore
from channels.zalo_oa.tokens import OAuthError
from core.channel import PermanentError
from core.storage.db import session_factory
from core.types import Reply
from tests.zalo.conftest import oa_channel, oa_env


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_configured_tokens_are_stored_once(zalo, sqlite_engine) -> None:
    store = TokenStore(session_factory(sqlite_engine), zalo.app_id)
    async with oa_channel(zalo, sqlite_engine):
        stored = await store.load()
        assert stored is not None and stored.access_token == zalo.access_token
    # a restart with (now stale) configured tokens keeps the stored ones
    await store.save(TokenPair("AT-newer", "RT-newer", _now() + dt.timedelta(hours=20)))
    env = oa_env(zalo)
    async with oa_channel(zalo, sqlite_engine, env=env):
        assert (await store.load()).access_token == "AT-newer"  # type: ignore[union-attr]


async def test_expired_token_is_refreshed_on_error_and_rotated(zalo, db_engine) -> None:
    async with oa_channel(zalo, db_engine) as (channel, _):
        _, mid = await zalo.user_sends_text("u1", "hỏi")
        old_refresh = zalo.refresh_token
        zalo.expire_access_tokens()
        await channel.send("u1", [Reply(text="trả lời")], reply_to=mid)
        assert zalo.refresh_count == 1
        assert -220 in zalo.errors()
        stored = await TokenStore(session_factory(db_engine), zalo.app_id).load()
        assert stored is not None and stored.refresh_token == zalo.refresh_token != old_refresh
        assert [s.text for s in zalo.sent_to("u1")] == ["trả lời"]


async def test_token_is_refreshed_before_it_expires(zalo, db_engine) -> None:
    store = TokenStore(session_factory(db_engine), zalo.app_id)
    await store.save(TokenPair(zalo.access_token, zalo.refresh_token, _now() + dt.timedelta(minutes=5)))
    async with oa_channel(zalo, db_engine) as (channel, _):
        _, mid = await zalo.user_sends_text("u1", "hỏi")
        await channel.send("u1", [Reply(text="trả lời")], reply_to=mid)
        assert zalo.refresh_count == 1
        assert zalo.errors() == []  # never sent with a token about to expire
        stored = await store.load()
        assert stored is not None and stored.access_expires_at > _now() + dt.timedelta(hours=24)


async def test_a_refused_refresh_token_is_a_permanent_error(zalo, sqlite_engine) -> None:
    store = TokenStore(session_factory(sqlite_engine), zalo.app_id)
    await store.save(TokenPair("AT-unknown", "RT-unknown", _now() + dt.timedelta(hours=5)))
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        _, mid = await zalo.user_sends_text("u1", "hỏi")
        with pytest.raises(OAuthError):
            await channel.send("u1", [Reply(text="x")], reply_to=mid)
        assert issubclass(OAuthError, PermanentError)
        assert zalo.refresh_rejected == 1


async def test_two_processes_refresh_an_expired_token_once(zalo, two_engines) -> None:
    first, second = two_engines
    zalo.refresh_delay = 0.3  # both find the token rejected while the first refresh is under way
    async with oa_channel(zalo, first) as (a, _), oa_channel(zalo, second) as (b, _):
        m = [zalo.user_wrote(f"u{i}") for i in range(4)]
        zalo.expire_access_tokens()
        await asyncio.gather(
            a.send("u0", [Reply(text="A0")], reply_to=m[0]),
            b.send("u1", [Reply(text="B1")], reply_to=m[1]),
            a.send("u2", [Reply(text="A2")], reply_to=m[2]),
            b.send("u3", [Reply(text="B3")], reply_to=m[3]),
        )
        assert zalo.refresh_count == 1
        assert zalo.refresh_rejected == 0
        assert sorted(s.text for s in zalo.sent) == ["A0", "A2", "B1", "B3"]
        # both keep sending with the new token, no further refresh
        await asyncio.gather(a.send("u0", [Reply(text="A")], reply_to=m[0]),
                             b.send("u1", [Reply(text="B")], reply_to=m[1]))
        assert zalo.refresh_count == 1 and len(zalo.sent) == 6
        assert a.tokens.refreshes + b.tokens.refreshes == 1


async def test_two_processes_refresh_a_token_near_expiry_once(zalo, two_engines) -> None:
    first, second = two_engines
    store = TokenStore(session_factory(first), zalo.app_id)
    await store.save(TokenPair(zalo.access_token, zalo.refresh_token, _now() + dt.timedelta(minutes=1)))
    zalo.refresh_delay = 0.2
    async with oa_channel(zalo, first) as (a, _), oa_channel(zalo, second) as (b, _):
        assert zalo.refresh_count == 1  # the first start refreshed; the second picked the new token up
        tokens = await asyncio.gather(a.tokens.current(), b.tokens.current())
        assert tokens[0] == tokens[1] == zalo.access_token
        assert zalo.refresh_rejected == 0


async def test_lock_serialises_concurrent_refreshes_directly(zalo, two_engines) -> None:
    """The store's lock on its own: two stores, each told the same version is stale, refresh once."""
    first, second = two_engines
    s1, s2 = TokenStore(session_factory(first), "app"), TokenStore(session_factory(second), "app")
    stale = await s1.save(TokenPair("AT0", "RT0", _now()))
    calls: list[str] = []

    async def refresh(current: TokenPair) -> TokenPair:
        calls.append(current.refresh_token)
        await asyncio.sleep(0.2)
        return TokenPair("AT1", "RT1", _now() + dt.timedelta(hours=25))

    r1, r2 = await asyncio.gather(s1.refresh_exclusive(stale, refresh), s2.refresh_exclusive(stale, refresh))
    assert calls == ["RT0"]
    assert r1.access_token == r2.access_token == "AT1" and r1.version == r2.version == stale.version + 1
