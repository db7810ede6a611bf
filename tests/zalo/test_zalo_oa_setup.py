"""Zalo OA settings, build(), the `cchc-bot zalo` commands and migration 0006."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from bot.database import MIGRATIONS_DIR
from channels import zalo_oa
from channels.zalo_oa.cli import add_commands, set_tokens, token_status
from channels.zalo_oa.settings import ZaloOASettings
from channels.zalo_oa.store import TokenStore
from core.feature import CliHost
from core.storage.db import alembic_config, session_factory

GOOD = {"ZALO_OA_APP_ID": "1234567890", "ZALO_OA_SECRET_KEY": "s", "ZALO_OA_APP_SECRET": "a"}


@pytest.mark.parametrize(("override", "variable"), [
    ({"ZALO_OA_APP_ID": ""}, "ZALO_OA_APP_ID"),
    ({"ZALO_OA_APP_ID": "abc"}, "ZALO_OA_APP_ID"),
    ({"ZALO_OA_SECRET_KEY": " "}, "ZALO_OA_SECRET_KEY"),
    ({"ZALO_OA_APP_SECRET": ""}, "ZALO_OA_APP_SECRET"),
    ({"ZALO_OA_WEBHOOK_PATH": "zalo"}, "ZALO_OA_WEBHOOK_PATH"),
    ({"ZALO_OA_API_BASE_URL": "openapi.zalo.me"}, "ZALO_OA_API_BASE_URL"),
    ({"ZALO_OAUTH_BASE_URL": "ftp://x"}, "ZALO_OAUTH_BASE_URL"),
    ({"ZALO_OA_PROACTIVE_MONTHLY_QUOTA": "nhiều"}, "ZALO_OA_PROACTIVE_MONTHLY_QUOTA"),
    ({"ZALO_OA_PROACTIVE_MONTHLY_QUOTA": "-1"}, "ZALO_OA_PROACTIVE_MONTHLY_QUOTA"),
    ({"ZALO_OA_SIGNATURE_KEY": "hmac"}, "ZALO_OA_SIGNATURE_KEY"),
    ({"ZALO_OA_SIGNATURE_ID": "oa_id"}, "ZALO_OA_ID"),
])
def test_a_wrong_setting_is_one_line_naming_it(override, variable) -> None:
    with pytest.raises(ValueError) as info:
        ZaloOASettings.from_env({**GOOD, **override})
    message = str(info.value)
    assert message.startswith(variable + ":") and "\n" not in message


def test_defaults_and_build(sqlite_engine) -> None:
    s = ZaloOASettings.from_env(GOOD)
    assert (s.webhook_path, s.api_base_url, s.oauth_base_url) == (
        "/zalo/oa/webhook", "https://openapi.zalo.me", "https://oauth.zaloapp.com")
    assert s.proactive_monthly_quota == 0 and s.signing_secret == "s"
    assert zalo_oa.build({}, None, None) == []

    async def submit(_):  # noqa: ANN001, ANN202
        return None

    [channel] = zalo_oa.build({**GOOD, "ZALO_OA_PROACTIVE_MONTHLY_QUOTA": "1000"}, submit,
                              session_factory(sqlite_engine))
    assert channel.channel == "zalo_oa" and channel.settings.proactive_monthly_quota == 1000
    with pytest.raises(ValueError, match="^ZALO_OA_APP_SECRET"):
        zalo_oa.build({"ZALO_OA_APP_ID": "1", "ZALO_OA_SECRET_KEY": "s"}, submit, None)


async def test_set_token_and_status(db_engine) -> None:
    sessions = session_factory(db_engine)
    assert "chưa có token" in await token_status(sessions, "42")
    await set_tokens(sessions, "42", "AT-1", "RT-1", 3600)
    first = await TokenStore(sessions, "42").load()
    await set_tokens(sessions, "42", "AT-2", "RT-2", 3600)
    second = await TokenStore(sessions, "42").load()
    assert first is not None and second is not None
    assert (second.access_token, second.refresh_token, second.version) == ("AT-2", "RT-2", first.version + 1)
    status = await token_status(sessions, "42")
    assert "AT-2" not in status and "RT-2" not in status and "còn 1.0 giờ" in status


def test_cli_command_is_registered(tmp_path: Path, monkeypatch, capsys) -> None:
    from bot.cli import cli_host, settings_or_exit  # noqa: F401

    monkeypatch.setenv("CCHC_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ZALO_OA_APP_ID", "777")
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    host: CliHost = cli_host()
    add_commands(sub, host)
    args = parser.parse_args(["zalo", "set-token", "--access-token", "AT-x", "--refresh-token", "RT-x"])
    assert args.func(args) == 0
    args = parser.parse_args(["zalo", "token-status"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "777" in out and "AT-x" not in out and "RT-x" not in out


async def test_0006_downgrade_and_upgrade(db_engine) -> None:
    def run(sync_conn, target: str, down: bool) -> None:  # noqa: ANN001
        cfg = alembic_config(MIGRATIONS_DIR)
        cfg.attributes["connection"] = sync_conn
        (command.downgrade if down else command.upgrade)(cfg, target)

    def tables(sync_conn) -> set[str]:  # noqa: ANN001
        return set(inspect(sync_conn).get_table_names())

    async with db_engine.begin() as conn:
        assert "zalo_tokens" in await conn.run_sync(tables)
        await conn.run_sync(run, "0004", True)
        assert "zalo_tokens" not in await conn.run_sync(tables)
        await conn.run_sync(run, "head", False)
        assert "zalo_tokens" in await conn.run_sync(tables)
