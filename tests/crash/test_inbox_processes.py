"""Nothing acknowledged is lost in polling mode either, and two processes sharing one PostgreSQL database
answer each event once, each user's turns in order.

Real `cchc-bot run` processes against the fake Bot API on loopback (see test_inbox_crash.py).
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.crash.test_inbox_crash import ROOT, SECRET, _free_port, _wait_healthy
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.pgschema import PG_URL, pg_unreachable, throwaway_schema

USERS = [7300 + i for i in range(6)]
# Each user's five messages ask for five different things, so the order of the answers shows the order
# in which the turns ran: (command, how its answer begins).
SCRIPT = [("/start", "Xin chào"), ("/khauhieu", "📣 Khẩu hiệu"), ("/duongdaynong", "☎️ Đường dây nóng"),
          ("/trogiup", "Hướng dẫn sử dụng"), ("/bantin", "📰 Bản tin")]


def _env(api: FakeTelegramAPI, database_url: str, port: int, *, webhook: bool, schema: str = "") -> dict[str, str]:
    env = {**os.environ, "CCHC_DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": api.token,
           "TELEGRAM_API_BASE_URL": api.base_url, "CCHC_WEB_PORT": str(port), "CCHC_INBOX_DEAD_AFTER": "2",
           "CCHC_CONTENT_RELOAD_SECONDS": "0", "CCHC_CONTENT_DIR": str(ROOT / "content"),
           "CCHC_SECRET_KEY": "k" * 40, "CCHC_DB_POOL_SIZE": "4", "CCHC_DB_MAX_OVERFLOW": "4"}
    if webhook:
        env.update(TELEGRAM_WEBHOOK_URL="https://bot.example.vn/telegram/webhook", TELEGRAM_WEBHOOK_SECRET=SECRET)
    else:
        env.pop("TELEGRAM_WEBHOOK_URL", None)
    if schema:
        env["CCHC_DATABASE_SCHEMA"] = schema
    return env


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--no-chat"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _in_order(api: FakeTelegramAPI, user: int) -> list[str]:
    """The script's commands in the order their answers reached the user."""
    order = []
    for message in api.sent_to(user):
        for command, phrase in SCRIPT:
            if message.plain.startswith(phrase) and command not in order:
                order.append(command)
                break
    return order


@pytest.mark.timeout(120)
async def test_polling_updates_survive_kill_9(tmp_path: Path) -> None:
    async with FakeTelegramAPI(token="123456:" + "B" * 35) as api:
        for command, _ in SCRIPT:
            for user in USERS:
                api.enqueue(api.make_text(user, command))
        total = len(USERS) * len(SCRIPT)
        api.delay_next("sendMessage", 0.15, times=1000, deliver=True)  # turns finish slowly
        database = f"sqlite+aiosqlite:///{tmp_path / 'polling.db'}"
        first = _start(_env(api, database, _free_port(), webhook=False))
        try:
            for _ in range(300):  # until Telegram holds none of them: every update was acknowledged
                if api.pending_updates == 0 and api.calls("getUpdates"):
                    break
                assert first.poll() is None, "the bot process exited"
                await asyncio.sleep(0.05)
            assert api.pending_updates == 0
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        answered_before = len(api.messages)
        assert answered_before < total, "every turn finished before the kill: the test proves nothing"
        api.clear_faults()
        second = _start(_env(api, database, _free_port(), webhook=False))
        try:
            for user in USERS:
                await api.wait_for(user, len(SCRIPT), timeout=60)
            await asyncio.sleep(1.0)
        finally:
            _stop(second)
        for user in USERS:
            assert _in_order(api, user) == [c for c, _ in SCRIPT]
            assert len(SCRIPT) <= len(api.sent_to(user)) <= len(SCRIPT) + 1  # at most the one in flight twice


@pytest.mark.timeout(120)
async def test_two_processes_on_postgresql_answer_each_event_once_in_order() -> None:
    reason = await pg_unreachable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
        pytest.skip(reason)
    async with throwaway_schema(PG_URL, prefix="two") as (engine, schema), \
            FakeTelegramAPI(token="123456:" + "C" * 35) as api:
        from bot.database import upgrade

        await upgrade(engine)
        ports = [_free_port(), _free_port()]
        procs = [_start(_env(api, PG_URL, port, webhook=True, schema=schema)) for port in ports]
        try:
            for port, proc in zip(ports, procs):
                await _wait_healthy(port, proc)
            async with aiohttp.ClientSession() as http:
                for command, _ in SCRIPT:
                    for user in USERS:
                        update = api.make_text(user, command)
                        for port in ports:  # the same update reaches both processes (a retry, a proxy)
                            async with http.post(f"http://127.0.0.1:{port}/telegram/webhook", json=update,
                                                 headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                                assert r.status == 200
            for user in USERS:
                await api.wait_for(user, len(SCRIPT), timeout=60)
            await asyncio.sleep(1.5)  # a duplicate would arrive by now
        finally:
            for proc in procs:
                _stop(proc)
        for user in USERS:
            assert len(api.sent_to(user)) == len(SCRIPT), user
            assert _in_order(api, user) == [c for c, _ in SCRIPT], user
