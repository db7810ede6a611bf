"""Issue 9: login attempts counted atomically, the client address from trusted proxies, slowing not locking."""
from __future__ import annotations

import asyncio

from dashboard.state import DashboardConfig
from dashboard.throttle import ACCOUNT_POLICY
from tests.dashboard.helpers import accounts_for, add_official, csrf, dashboard_client


async def test_parallel_wrong_passwords_are_counted_before_verifying(bot):
    await add_official(bot, "song.song", "ttphhc")
    accounts = accounts_for(bot)
    verified = 0
    real = accounts.authenticate

    async def counting(username, password):
        nonlocal verified
        verified += 1
        return await real(username, password)

    accounts.authenticate = counting
    async with dashboard_client(bot) as client:
        token = await csrf(client)
        responses = await asyncio.gather(*[
            client.post("/dashboard/login", data={"username": "song.song", "password": f"doan-sai-{i}",
                                                  "_csrf": token}, allow_redirects=False)
            for i in range(15)])
        statuses = sorted(r.status for r in responses)
    assert verified <= ACCOUNT_POLICY.free
    assert statuses.count(401) == verified and statuses.count(429) == 15 - verified


async def _ip_seen(bot, headers: dict[str, str], config: DashboardConfig) -> str:
    from dashboard import state

    bot.services.extra["dashboard_config"] = config
    seen: list[str] = []
    real = state.client_ip

    def spy(request):
        seen.append(real(request))
        return seen[-1]

    import dashboard.auth as auth
    auth.client_ip = spy
    try:
        async with dashboard_client(bot) as client:
            token = await csrf(client)
            await client.post("/dashboard/login", data={"username": "x.y", "password": "p", "_csrf": token},
                              headers=headers, allow_redirects=False)
    finally:
        auth.client_ip = real
    return seen[-1]


async def test_client_address_is_the_rightmost_untrusted_hop(bot):
    one = DashboardConfig(trust_proxy=True, trusted_proxies=1)
    # nginx appends the real peer: the client-written left part is ignored, whatever it says
    assert await _ip_seen(bot, {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}, one) == "203.0.113.7"
    assert await _ip_seen(bot, {"X-Forwarded-For": "1.1.1.1, 2.2.2.2, 203.0.113.7"}, one) == "203.0.113.7"
    two = DashboardConfig(trust_proxy=True, trusted_proxies=2)
    assert await _ip_seen(bot, {"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.0.0.2"}, two) == "203.0.113.7"
    off = DashboardConfig(trust_proxy=False)
    assert await _ip_seen(bot, {"X-Forwarded-For": "6.6.6.6"}, off) == "127.0.0.1"


def test_waits_are_short_and_grow_slowly():
    waits = [ACCOUNT_POLICY.lock_for(n) for n in range(1, 30)]
    assert waits[:ACCOUNT_POLICY.free - 1] == [0.0] * (ACCOUNT_POLICY.free - 1)
    assert 0 < waits[ACCOUNT_POLICY.free - 1] <= 10 and max(waits) <= 120


def test_trusted_proxies_setting_is_validated():
    assert DashboardConfig.from_env({"CCHC_DASHBOARD_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    for bad in ("0", "x", "-1"):
        try:
            DashboardConfig.from_env({"CCHC_DASHBOARD_TRUSTED_PROXIES": bad})
        except ValueError as exc:
            assert "CCHC_DASHBOARD_TRUSTED_PROXIES" in str(exc)
        else:
            raise AssertionError(bad)
