"""`cchc-bot worker` is a sending process (issue 15): real worker processes on one PostgreSQL schema send
what citizens are owed through the fake Telegram Bot API on loopback, with no `run` process alive.

* an official's answer to a Telegram citizen, written while no process could send it, reaches the citizen
  exactly once, from a worker; SIGTERM stops the worker with exit 0 and its claims released;
* two workers share a backlog of owed messages; one gets SIGTERM in the middle: every citizen gets their
  message, nobody twice.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.config import load_settings
from core.delivery import MessageKind
from core.storage.models import OutboxMessage, Process
from core.types import Reply
from tests.conftest import require_pg
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.pgschema import PG_URL, throwaway_schema

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "worker-test-secret-key-0123456789abcdefgh"


def worker_env(api: FakeTelegramAPI, schema: str) -> dict[str, str]:
    env = {**os.environ, "CCHC_DATABASE_URL": PG_URL, "CCHC_DATABASE_SCHEMA": schema,
           "CCHC_DB_POOL_SIZE": "3", "CCHC_DB_MAX_OVERFLOW": "2", "CCHC_SECRET_KEY": SECRET_KEY,
           "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url,
           "CCHC_INBOX_DEAD_AFTER": "3", "CCHC_CONTENT_RELOAD_SECONDS": "0", "CCHC_CONTENT_DIR": str(ROOT / "content")}
    for name in ("PROMETHEUS_MULTIPROC_DIR", "TELEGRAM_WEBHOOK_URL", "CCHC_WORKER_PORT"):
        env.pop(name, None)
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log.open("ab"))


async def terminate(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, and the clean exit it must lead to (waited for in a thread: the fake API in this event
    loop must keep answering the worker's last send)."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.to_thread(proc.wait, 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the worker did not stop on SIGTERM: {log.read_text()[-2000:]}") from None
    assert code == 0, log.read_text()[-2000:]
    assert "did not stop in time" not in log.read_text()  # it stopped after its current message, not by force


def kill(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def open_bot(schema: str):  # noqa: ANN201
    """The officials' side, in this test's process: no channel runs here, so nothing is sent from it."""
    from bot.app import build_bot

    settings = load_settings({"CCHC_DATABASE_URL": PG_URL, "CCHC_DATABASE_SCHEMA": schema,
                              "CCHC_SECRET_KEY": SECRET_KEY, "CCHC_CONTENT_DIR": str(ROOT / "content"),
                              "CCHC_CONTENT_RELOAD_SECONDS": "0", "CCHC_DB_POOL_SIZE": "2"})
    return await build_bot(settings)


async def test_an_officials_answer_is_sent_by_a_worker_once(tmp_path: Path) -> None:
    await require_pg()
    from tests.feedback.conftest import Chat, receiving_supervisor

    async with throwaway_schema(PG_URL, prefix="worker") as (_engine, schema), \
            FakeTelegramAPI(token="123456:" + "W" * 35) as api:
        bot = await open_bot(schema)
        try:
            citizen = Chat(bot, user_id="9201")
            code = await citizen.file_report()
            feedback = bot.services.extra["feedback"]
            report = await feedback.find_id(code)
            await feedback.reply(receiving_supervisor(bot.services.pack), report,
                                 "Sở đã liên hệ bộ phận một cửa; hồ sơ của anh được nhận từ hôm nay.")
            async with bot.services.store.sessions() as s:
                [owed] = (await s.execute(select(OutboxMessage).where(
                    OutboxMessage.kind == MessageKind.OFFICIAL_ANSWER.value))).scalars().all()
            assert (owed.status, owed.channel, owed.external_id) == ("pending", "telegram", "9201")
            assert api.sent_to(9201) == []  # nothing could send it yet

            log = tmp_path / "worker.log"
            worker = start_worker(worker_env(api, schema), log)
            try:
                [message] = await api.wait_for(9201, 1, timeout=60)
                assert "hồ sơ của anh được nhận từ hôm nay" in message.plain
                assert code in message.plain  # the citizen sees which report it answers
                await asyncio.sleep(1.5)  # a second copy would arrive by now
                assert len(api.sent_to(9201)) == 1
                await terminate(worker, log)
            finally:
                kill([worker])
            async with bot.services.store.sessions() as s:
                row = await s.get(OutboxMessage, owed.id)
                assert (row.status, row.claimed_by) == ("sent", None)
                assert await s.scalar(select(func.count()).select_from(Process)) == 0  # it said goodbye
            assert not api.calls("getUpdates") and not api.calls("setWebhook")  # it never took updates
        finally:
            await bot.close()


async def test_two_workers_one_stopped_midway_send_everything_once(tmp_path: Path) -> None:
    await require_pg()
    users = [9300 + i for i in range(40)]
    async with throwaway_schema(PG_URL, prefix="workers") as (_engine, schema), \
            FakeTelegramAPI(token="123456:" + "V" * 35) as api:
        bot = await open_bot(schema)
        try:
            outbox = bot.services.outbox
            async with bot.services.store.sessions.begin() as s:
                for user in users:
                    await outbox.enqueue(s, channel="telegram", external_id=str(user), kind=MessageKind.STATUS_CHANGE,
                                         replies=[Reply(text=f"Phản ánh của bạn đã được tiếp nhận ({user}).")])
        finally:
            await bot.close()
        api.delay_next("sendMessage", 0.1, times=10_000, deliver=True)  # slow sends: the stop lands mid-way
        env = worker_env(api, schema)
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        workers = [start_worker(env, log) for log in logs]
        try:
            await api.wait_until(lambda: len(api.calls("sendMessage")) >= 8, timeout=60)
            await terminate(workers[0], logs[0])
            stopped_at = len(api.calls("sendMessage"))
            assert stopped_at < len(users), "everything was sent before the stop: the test proves nothing"
            for user in users:
                await api.wait_for(user, 1, timeout=60)
            await asyncio.sleep(1.5)  # a duplicate would arrive by now
            await terminate(workers[1], logs[1])
        finally:
            kill(workers)
        for user in users:
            [message] = api.sent_to(user)
            assert f"({user})" in message.plain
