"""Shared helpers for dashboard tests: a test client on the real app, accounts, login, CSRF scraping."""
from __future__ import annotations

import re
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from core.storage.db import session_factory
from dashboard.accounts import Accounts

PASSWORD = "mat-khau-dung-1"
# Cheap argon2 parameters keep the suite fast; production uses argon2-cffi's defaults (see the rehash test).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')


def accounts_for(bot) -> Accounts:
    accounts = bot.services.extra.get("dashboard_accounts")
    if accounts is None:
        accounts = Accounts(session_factory(bot.engine), FAST_HASHER)
        bot.services.extra["dashboard_accounts"] = accounts
    return accounts


@asynccontextmanager
async def dashboard_client(bot):
    accounts_for(bot)
    client = TestClient(TestServer(bot.web_app()))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def add_official(bot, username: str, agency: str, role: str = "officer", name: str = "") -> int:
    view = await accounts_for(bot).create(username, PASSWORD, agency_id=agency, role=role,
                                          display_name=name or username.title())
    return view.id


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def csrf(client: TestClient, path: str = "/dashboard/login") -> str:
    response = await client.get(path)
    return csrf_of(await response.text())


async def login(client: TestClient, username: str, password: str = PASSWORD, *, expect: int = 302):
    token = await csrf(client)
    response = await client.post("/dashboard/login", data={"username": username, "password": password,
                                                           "_csrf": token}, allow_redirects=False)
    assert response.status == expect, await response.text()
    return response


async def post_form(client: TestClient, path: str, data: dict[str, str], *, token_from: str = "/dashboard/"):
    """POST with the session's CSRF token (taken from any dashboard page)."""
    token = await csrf(client, token_from)
    return await client.post(path, data={**data, "_csrf": token}, allow_redirects=False)


class RecordingSender:
    """A channel that records what it was asked to deliver (stands in for Telegram)."""

    channel = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    async def send(self, user_id: str, replies, *, retry: bool = True, paid_broadcast: bool = False,
                   reply_to: str = "") -> None:
        self.sent.append((user_id, list(replies)))

    def texts_to(self, user_id: str) -> list[str]:
        return [reply.text for uid, replies in self.sent if uid == user_id for reply in replies]


async def submit_report(bot, *, category: str = "thu-tuc", description: str = "Cán bộ yêu cầu nộp thêm giấy tờ không có trong quy định.",
                        external_id: str = "5001", name: str = "Nguyễn Văn An", phone: str | None = "0912345678",
                        commune: str | None = "xa-tinh-khe") -> tuple[int, str, str]:
    """A report submitted by a citizen on Telegram; returns (report id, display code, agency id)."""
    import uuid

    from features.feedback.service import Draft

    user = await bot.services.store.touch_user("telegram", external_id, name)
    service = bot.services.extra["feedback"]
    done = await service.submit(Draft(
        draft_id=uuid.uuid4().hex[:16], user_id=user.id, channel="telegram", category_id=category,
        commune_id=commune, description=description, phone=phone, contact_name=name,
        consent_version="2025-1" if phone else None))
    return done.report_id, done.code, done.agency_id
