"""Nothing acknowledged is lost: updates Telegram got a 200 for survive a `kill -9` of the bot process.

The bot runs as a real `cchc-bot run` process in webhook mode against the fake Bot API on loopback; the
fake answers sendMessage slowly so most turns are still unfinished at the kill. A second process started
on the same database answers every one of them, each exactly once.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.telegram_api import FakeTelegramAPI

ROOT = Path(__file__).resolve().parents[2]
USERS = [7100 + i for i in range(8)]
PER_USER = 5
SECRET = "Ws8kQ2vN7xLp4RzT9mB3cF6hJ1dY5gKaU0eVnXo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(api: FakeTelegramAPI, db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "TELEGRAM_BOT_TOKEN": api.token,
           "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_WEBHOOK_URL": "https://bot.example.vn/telegram/webhook",
           "TELEGRAM_WEBHOOK_SECRET": SECRET, "CCHC_WEB_PORT": str(port), "CCHC_INBOX_DEAD_AFTER": "2",
           "CCHC_CONTENT_RELOAD_SECONDS": "0", "CCHC_CONTENT_DIR": str(ROOT / "content")}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--no-chat"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            assert proc.poll() is None, "the bot process exited"
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:  # ready: the webhook takes updates
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the bot did not become healthy")


@pytest.mark.timeout(120)
async def test_webhook_updates_survive_kill_9(tmp_path: Path) -> None:
    async with FakeTelegramAPI(token="123456:" + "A" * 35) as api:
        db = tmp_path / "crash.db"
        port = _free_port()
        first = _start(api, db, port)
        try:
            await _wait_healthy(port, first)
            api.delay_next("sendMessage", 0.15, times=1000, deliver=True)  # turns finish slowly
            acked = 0
            async with aiohttp.ClientSession() as http:
                for round_ in range(PER_USER):
                    for user in USERS:
                        update = api.make_text(user, "/start" if round_ == 0 else "/khauhieu")
                        async with http.post(f"http://127.0.0.1:{port}/telegram/webhook", json=update,
                                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                            acked += r.status == 200
            assert acked == len(USERS) * PER_USER
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            answered_before = len(api.messages)
        finally:
            if first.poll() is None:
                first.kill()
        assert answered_before < acked, "every turn finished before the kill: the test proves nothing"
        api._faults.clear()  # the restarted bot gets prompt answers
        second = _start(api, db, _free_port())
        try:
            for user in USERS:
                await api.wait_for(user, PER_USER, timeout=60)
            await asyncio.sleep(1.0)  # nothing more may arrive
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(15)
            except subprocess.TimeoutExpired:
                second.kill()
        for user in USERS:
            sent = api.sent_to(user)
            # every update answered; only the user's one event in flight at the kill may be answered twice
            assert PER_USER <= len(sent) <= PER_USER + 1, (user, [(m.text[:25], m.time) for m in sent])
