"""Several `cchc-bot run` processes on one PostgreSQL database: a rolling restart under load loses nothing
and answers nothing twice (issue 15).

Three real processes in webhook mode share the inbox and the outbox (one throw-away schema through
CCHC_DATABASE_SCHEMA). Citizens keep asking while each process in turn gets SIGTERM (it must answer 503 to
new updates, finish its turns, release its claims and exit 0) and is started again. Updates are posted like
the reverse proxy and Telegram do: to the next process when one refuses (503) or is down.
"""
from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import require_pg
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.pgschema import PG_URL, throwaway_schema

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Rr8kQ2vN7xLp4RzT9mB3cF6hJ1dY5gKaU0eVnXo"
QUESTION = "đăng nhập bằng vneid như thế nào"
# Citizens ask at a human pace (one question every 2 s each: under the per-user limit of 40 turns a minute,
# core/turns.py); the load comes from their number.
USERS = [9100 + i for i in range(24)]
PAUSE = 2.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bot(api: FakeTelegramAPI, schema: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CCHC_DATABASE_URL": PG_URL, "CCHC_DATABASE_SCHEMA": schema,
           # small pools: three processes beside the other test worker stay far under PostgreSQL's 100
           "CCHC_DB_POOL_SIZE": "4", "CCHC_DB_MAX_OVERFLOW": "4",
           "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url,
           "TELEGRAM_WEBHOOK_URL": "https://bot.example.vn/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "CCHC_SECRET_KEY": "rolling-restart-secret-key-0123456789abcdef", "CCHC_WEB_PORT": str(port),
           "CCHC_INBOX_DEAD_AFTER": "3", "CCHC_CONTENT_RELOAD_SECONDS": "0", "CCHC_CONTENT_DIR": str(ROOT / "content")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--no-chat"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log.open("ab"))


async def wait_ready(http: aiohttp.ClientSession, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(600):
        assert proc.poll() is None, f"the bot exited: {log.read_text()[-2000:]}"
        try:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"not ready: {log.read_text()[-2000:]}")


@pytest.mark.timeout(300)
async def test_rolling_restart_of_three_processes_under_load(tmp_path: Path) -> None:
    await require_pg()
    from bot.database import upgrade

    async with throwaway_schema(PG_URL, prefix="rolling") as (engine, schema), \
            FakeTelegramAPI(token="123456:" + "R" * 35) as api, aiohttp.ClientSession() as http:
        await upgrade(engine)
        ports = [free_port() for _ in range(3)]
        logs = [tmp_path / f"bot{i}.log" for i in range(3)]
        procs = [start_bot(api, schema, port, log) for port, log in zip(ports, logs)]
        try:
            for port, proc, log in zip(ports, procs, logs):
                await wait_ready(http, port, proc, log)
            posted: collections.Counter[int] = collections.Counter()
            refused = 0
            stop_load = asyncio.Event()

            async def post(update: dict, start: int) -> None:
                """Like nginx (next upstream on 503/connection error) and Telegram (retry until a 200)."""
                nonlocal refused
                for attempt in range(400):
                    port = ports[(start + attempt) % len(ports)]
                    try:
                        async with http.post(f"http://127.0.0.1:{port}/telegram/webhook", json=update,
                                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                            if r.status == 200:
                                return
                            assert r.status in (500, 503), r.status  # Telegram retries any non-2xx
                    except aiohttp.ClientError:
                        pass
                    refused += 1
                    await asyncio.sleep(0.05)
                raise AssertionError("no process took the update")

            async def citizen(i: int, user: int) -> None:
                n = 0
                while not stop_load.is_set():
                    await post(api.make_text(user, QUESTION), i + n)
                    posted[user] += 1
                    n += 1
                    await asyncio.sleep(PAUSE)

            load = [asyncio.create_task(citizen(i, u)) for i, u in enumerate(USERS)]
            await asyncio.sleep(1.5)
            exit_codes = []
            for i in range(3):  # the rolling restart
                procs[i].send_signal(signal.SIGTERM)
                exit_codes.append(await asyncio.to_thread(procs[i].wait, 60))
                procs[i] = start_bot(api, schema, ports[i], logs[i])
                await wait_ready(http, ports[i], procs[i], logs[i])
                await asyncio.sleep(0.5)
            stop_load.set()
            await asyncio.gather(*load)
            total = sum(posted.values())

            async def all_answered() -> bool:
                return all(len(api.sent_to(u)) >= posted[u] for u in USERS)

            for _ in range(1200):
                if await all_answered():
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # a duplicate would arrive now
            answered = {u: len(api.sent_to(u)) for u in USERS}
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    await asyncio.to_thread(proc.wait, 30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        assert exit_codes == [0, 0, 0], [log.read_text()[-1500:] for log in logs]
        assert total >= 3 * len(USERS), total  # load ran through the restarts
        assert answered == dict(posted), "every question answered exactly once"
        assert refused > 0, "some updates met a draining or stopped process (the restart happened under load)"
