"""Login, logout, sessions, throttling, CSRF and security headers of the officials' dashboard."""
from __future__ import annotations

import datetime as dt

from argon2 import PasswordHasher

from dashboard.accounts import Accounts
from dashboard.models import Official
from tests.dashboard.helpers import (
    PASSWORD,
    add_official,
    csrf,
    dashboard_client,
    login,
    post_form,
)


async def test_login_ok_then_logout(bot):
    await add_official(bot, "canbo.a", "ttphhc", "officer", name="Nguyễn Thị Lan")
    async with dashboard_client(bot) as client:
        anonymous = await client.get("/dashboard/stats", allow_redirects=False)
        assert anonymous.status == 302
        assert anonymous.headers["Location"].startswith("/dashboard/login?next=")
        response = await login(client, "canbo.a")
        assert response.headers["Location"] == "/dashboard/"
        cookie = response.headers.getall("Set-Cookie")[0]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie
        assert "Secure" not in cookie  # plain http in tests; see test_secure_cookie_when_configured
        page = await client.get("/dashboard/unanswered")
        assert page.status == 200
        assert "Nguyễn Thị Lan" in await page.text()
        out = await post_form(client, "/dashboard/logout", {}, token_from="/dashboard/unanswered")
        assert out.status == 302
        again = await client.get("/dashboard/unanswered", allow_redirects=False)
        assert again.status == 302


async def test_bad_password_and_unknown_user_look_the_same(bot):
    await add_official(bot, "canbo.b", "ttphhc")
    async with dashboard_client(bot) as client:
        wrong = await login(client, "canbo.b", "sai-mat-khau-123", expect=401)
        unknown = await login(client, "khong-co-ai", PASSWORD, expect=401)
        for response in (wrong, unknown):
            assert "Tên đăng nhập hoặc mật khẩu không đúng" in await response.text()
        assert (await client.get("/dashboard/stats", allow_redirects=False)).status == 302


async def test_throttled_after_repeated_wrong_passwords(bot):
    await add_official(bot, "canbo.c", "ttphhc")
    async with dashboard_client(bot) as client:
        for _ in range(5):
            await login(client, "canbo.c", "doan-mo-mat-khau", expect=401)
        locked = await login(client, "canbo.c", "doan-mo-mat-khau", expect=429)
        assert int(locked.headers["Retry-After"]) >= 1
        assert "thử lại sau" in await locked.text()
        # Even the right password is refused while the account is locked.
        await login(client, "canbo.c", PASSWORD, expect=429)
    # Once the lock has passed (clock moved on), the right password works and clears the counter.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    bot.services.clock = lambda: later
    async with dashboard_client(bot) as client:
        await login(client, "canbo.c", PASSWORD)


async def test_throttle_per_ip_across_accounts(bot):
    from dashboard.throttle import IP_POLICY

    async with dashboard_client(bot) as client:
        for i in range(IP_POLICY.free):
            await login(client, f"doan-ten-{i}", "sai-mat-khau-99", expect=401)
        await login(client, "ten-moi-hoan-toan", "sai-mat-khau-99", expect=429)


async def test_csrf_missing_or_invalid_is_refused(bot):
    await add_official(bot, "canbo.d", "ttphhc")
    async with dashboard_client(bot) as client:
        await csrf(client)  # a session with a token exists
        missing = await client.post("/dashboard/login", data={"username": "canbo.d", "password": PASSWORD},
                                    allow_redirects=False)
        assert missing.status == 403
        invalid = await client.post("/dashboard/login", data={"username": "canbo.d", "password": PASSWORD,
                                                              "_csrf": "x" * 43}, allow_redirects=False)
        assert invalid.status == 403
        await login(client, "canbo.d")
        logout_no_token = await client.post("/dashboard/logout", allow_redirects=False)
        assert logout_no_token.status == 403
        assert (await client.get("/dashboard/unanswered")).status == 200  # still logged in
    async with dashboard_client(bot) as other:
        # A token from another session is worthless.
        stolen = await csrf(other)
    async with dashboard_client(bot) as client:
        await csrf(client)
        cross = await client.post("/dashboard/login", data={"username": "canbo.d", "password": PASSWORD,
                                                            "_csrf": stolen}, allow_redirects=False)
        assert cross.status == 403


async def test_security_headers(bot):
    async with dashboard_client(bot) as client:
        page = await client.get("/dashboard/login")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        html = await page.text()
        assert "<script" not in html and "style=" not in html
        css = await client.get("/dashboard/static/dashboard.css")
        assert css.status == 200 and "no-store" not in css.headers.get("Cache-Control", "")
        health = await client.get("/healthz")
        assert "Content-Security-Policy" not in health.headers  # webhooks/health untouched


async def test_secure_cookie_when_configured(bot):
    from dashboard.state import DashboardConfig

    bot.services.extra["dashboard_config"] = DashboardConfig(secure_cookies=True)
    async with dashboard_client(bot) as client:
        page = await client.get("/dashboard/login")
        assert "Secure" in page.headers["Set-Cookie"]


async def test_https_behind_proxy_sets_secure(bot):
    from dashboard.state import DashboardConfig

    bot.services.extra["dashboard_config"] = DashboardConfig(trust_proxy=True)
    async with dashboard_client(bot) as client:
        page = await client.get("/dashboard/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in page.headers["Set-Cookie"]
        plain = await client.get("/dashboard/login")
        assert "Secure" not in plain.headers.get("Set-Cookie", "")


async def test_password_change_and_deactivation_end_sessions(bot):
    from tests.dashboard.helpers import accounts_for

    await add_official(bot, "canbo.e", "ttphhc")
    async with dashboard_client(bot) as client:
        await login(client, "canbo.e")
        assert (await client.get("/dashboard/unanswered")).status == 200
        await accounts_for(bot).set_password("canbo.e", "mat-khau-moi-2025")
        assert (await client.get("/dashboard/unanswered", allow_redirects=False)).status == 302
        await login(client, "canbo.e", "mat-khau-moi-2025")
        await accounts_for(bot).set_active("canbo.e", False)
        assert (await client.get("/dashboard/unanswered", allow_redirects=False)).status == 302
        await login(client, "canbo.e", "mat-khau-moi-2025", expect=401)


async def test_rehash_when_parameters_change(bot):
    from sqlalchemy import select

    from core.storage.db import session_factory

    sessions = session_factory(bot.engine)
    weak = Accounts(sessions, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    await weak.create("canbo.f", PASSWORD, agency_id="ttphhc", role="officer")
    stronger = Accounts(sessions, PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    assert await stronger.authenticate("canbo.f", PASSWORD) is not None
    async with sessions() as session:
        stored = (await session.execute(select(Official.password_hash).where(Official.username == "canbo.f"))).scalar_one()
    assert "m=2048,t=2,p=1" in stored
    assert not stronger.hasher.check_needs_rehash(stored)


async def test_open_redirect_refused(bot):
    await add_official(bot, "canbo.g", "ttphhc")
    async with dashboard_client(bot) as client:
        token = await csrf(client)
        response = await client.post("/dashboard/login", data={
            "username": "canbo.g", "password": PASSWORD, "_csrf": token, "next": "//evil.example/x"},
            allow_redirects=False)
        assert response.headers["Location"] == "/dashboard/"
