"""What an operator sees when `cchc-bot run` / `worker` cannot start: one line naming what to fix, never a
token or a password, and an exit code the systemd units act on (2: fix a setting, no restart loop; 69: a
service cannot be reached yet, restart)."""
from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.cli import EXIT_SETTING, EXIT_UNAVAILABLE
from tests.fakes.telegram_api import FakeTelegramAPI

REPO = Path(__file__).resolve().parents[2]
WRONG_TOKEN = "987654:AAwrong-token-that-looks-fine-xyz"


async def _cchc(*args: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "MESSENGER_", "CCHC_"))}
    full.update({"CCHC_CONTENT_DIR": str(REPO / "content"), "CCHC_WEB_PORT": "0", **env})
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", *args, cwd=REPO, env=full,
                                                   stdin=asyncio.subprocess.DEVNULL,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, (out + err).decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("command", [("run", "--no-chat"), ("worker",)])
async def test_a_token_telegram_rejects_is_one_line_without_the_token(tmp_path: Path, command: tuple[str, ...]) -> None:
    async with FakeTelegramAPI(token="123:ABC") as api:  # answers 401 to any other token, as Telegram does
        code, output = await _cchc(*command, env={
            "CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "TELEGRAM_BOT_TOKEN": WRONG_TOKEN, "TELEGRAM_API_BASE_URL": api.base_url})
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == EXIT_SETTING, output
    assert lines[-1].startswith("Cấu hình sai: Telegram từ chối TELEGRAM_BOT_TOKEN"), output
    assert "Traceback" not in output and "AAwrong-token" not in output and "987654" not in output
    assert "đang phục vụ" not in output and "đang gửi" not in output  # no "serving" line before the failure


async def test_with_json_logs_every_line_of_a_failed_start_is_json(tmp_path: Path) -> None:
    import json

    async with FakeTelegramAPI(token="123:ABC") as api:
        code, output = await _cchc("run", "--no-chat", env={
            "CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", "CCHC_LOG_FORMAT": "json",
            "TELEGRAM_BOT_TOKEN": WRONG_TOKEN, "TELEGRAM_API_BASE_URL": api.base_url})
    records = [json.loads(line) for line in output.splitlines() if line.strip()]  # ValueError on a plain line
    assert code == EXIT_SETTING
    assert records[-1]["level"] == "error" and records[-1]["event"].startswith("Cấu hình sai: Telegram từ chối")


async def test_a_zalo_bot_token_rejected_or_out_of_reach_is_one_line(tmp_path: Path) -> None:
    from tests.fakes.zalo_bot_api import FakeZaloBotAPI

    database = {"CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}
    async with FakeZaloBotAPI() as api:
        code, output = await _cchc("run", "--no-chat", env={**database, "ZALO_BOT_TOKEN": "12345:wrongZaloBotKey",
                                                           "ZALO_BOT_API_BASE_URL": api.base_url})
    assert code == EXIT_SETTING, output
    assert output.splitlines()[-1].startswith("Cấu hình sai: Zalo Bot từ chối ZALO_BOT_TOKEN"), output
    assert "wrongZaloBotKey" not in output and "Traceback" not in output


async def test_telegram_out_of_reach_is_not_called_a_database_fault(tmp_path: Path) -> None:
    code, output = await _cchc("run", "--no-chat", env={
        "CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "TELEGRAM_BOT_TOKEN": WRONG_TOKEN, "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{_free_port()}/bot"})
    assert code == EXIT_UNAVAILABLE, output
    assert output.splitlines()[-1].startswith("Không kết nối được Telegram (127.0.0.1:"), output
    assert "cơ sở dữ liệu" not in output and "Traceback" not in output and "AAwrong-token" not in output


async def test_a_database_newer_than_the_code_is_left_alone_and_reported(tmp_path: Path) -> None:
    """A rollback of the code after an upgrade: `db upgrade` changes nothing and says why (exit 0, so
    compose's migrate service lets the older release start); the bot serves and /readyz names the mismatch."""
    database = tmp_path / "bot.db"
    env = {"CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    code, output = await _cchc("db", "upgrade", env=env)
    assert code == 0 and "Cơ sở dữ liệu đã được cập nhật: migration (trống) → 00" in output, output
    code, output = await _cchc("db", "upgrade", env=env)
    assert code == 0 and "Cơ sở dữ liệu đã ở migration mới nhất (00" in output, output  # not "updated" again
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")

    code, output = await _cchc("db", "upgrade", env=env)
    assert code == 0 and "Traceback" not in output, output
    assert "Cơ sở dữ liệu đang ở migration 0099_from_the_future, mới hơn mã này" in output
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099_from_the_future",)]

    from bot.app import build_bot
    from bot.config import load_settings
    from aiohttp.test_utils import TestClient, TestServer

    bot = await build_bot(load_settings({**env, "CCHC_CONTENT_DIR": str(REPO / "content")}))  # no crash
    try:
        async with TestClient(TestServer(bot.web_app())) as client:
            response = await client.get("/readyz")
            body = await response.json()
    finally:
        await bot.close()
    assert response.status == 503
    assert "newer than this code" in body["checks"]["migrations"]


def test_a_start_call_telegram_refuses_is_a_setting_not_the_network() -> None:
    """PTB's BadRequest is a NetworkError subclass, but Telegram answered: a setting to fix (exit 2)."""
    from telegram.error import BadRequest, TimedOut

    from bot.app import ChannelStartFailed
    from bot.failures import known_failure as _known_failure

    def failed(cause: BaseException) -> BaseException:
        try:
            raise ChannelStartFailed("telegram", "api.telegram.org") from cause  # as start_channel names it
        except ChannelStartFailed as exc:
            return exc

    message, code = _known_failure(failed(BadRequest("Bad webhook: an https url must be provided")))  # type: ignore[misc]
    assert code == EXIT_SETTING and message.startswith("Cấu hình sai: Telegram từ chối khi khởi động: Bad webhook")
    message, code = _known_failure(failed(TimedOut()))  # type: ignore[misc]
    assert code == EXIT_UNAVAILABLE and message.startswith("Không kết nối được Telegram (api.telegram.org)")
