"""Configuration: defaults work, and each mistake fails with one line naming the variable."""
import re
from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


GOOD_SECRET = "Zq3-k9_VbT2xLmP7wR4yN8cJ5hF1dS6gA0eU"


def env(**kw: str) -> dict[str, str]:
    return {"CCHC_CONTENT_DIR": str(REPO / "content"), **kw}


def test_defaults_are_the_embedded_setup() -> None:
    s = load_settings(env())
    assert s.database_url == DEFAULT_DATABASE_URL
    assert (s.web_host, s.web_port) == ("127.0.0.1", 8080)
    assert not s.telegram_enabled


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"CCHC_DATABASE_URL": "mysql://x"}, "CCHC_DATABASE_URL"),
        ({"CCHC_CONTENT_DIR": "/nonexistent/pack"}, "CCHC_CONTENT_DIR"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_API_BASE_URL": "ftp://x"}, "TELEGRAM_API_BASE_URL"),
        ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.vn/tg"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_URL": "https://e.vn/x", "TELEGRAM_WEBHOOK_SECRET": "bad secret!"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_URL": "https://e.vn/x", "TELEGRAM_WEBHOOK_SECRET": "a"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_URL": "https://e.vn/x", "TELEGRAM_WEBHOOK_SECRET": "a" * 40}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_URL": "http://e.vn/x", "TELEGRAM_WEBHOOK_SECRET": GOOD_SECRET}, "TELEGRAM_WEBHOOK_URL"),
        ({"TELEGRAM_WEBHOOK_URL": "https://e.vn/dashboard/x", "TELEGRAM_WEBHOOK_SECRET": GOOD_SECRET},
         "TELEGRAM_WEBHOOK_URL"),
        ({"CCHC_DATABASE_URL": "postgresql+asyncpg://u@h/db"}, "CCHC_SECRET_KEY"),
        ({"CCHC_WEB_PORT": "eighty"}, "CCHC_WEB_PORT"),
        ({"CCHC_WEB_PORT": "70000"}, "CCHC_WEB_PORT"),
        ({"CCHC_SECRET_KEY": "short"}, "CCHC_SECRET_KEY"),
        ({"CCHC_CONTENT_RELOAD_SECONDS": "soon"}, "CCHC_CONTENT_RELOAD_SECONDS"),
        ({"CCHC_CONTENT_RELOAD_SECONDS": "-1"}, "CCHC_CONTENT_RELOAD_SECONDS"),
        ({"CCHC_DB_POOL_TIMEOUT": "0"}, "CCHC_DB_POOL_TIMEOUT"),
        ({"CCHC_DB_POOL_SIZE": "abc"}, "CCHC_DB_POOL_SIZE"),
        ({"CCHC_SECRET_KEY": "change-me-at-least-32-characters-long"}, "CCHC_SECRET_KEY"),
        ({"CCHC_METRICS_TOKEN": "change-me-long-random"}, "CCHC_METRICS_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "123456:" + "A" * 30, "TELEGRAM_WEBHOOK_SECRET": "change-me-long-random"},
         "TELEGRAM_WEBHOOK_SECRET"),
        ({"ZALO_OA_APP_ID": "12345", "ZALO_OA_SECRET_KEY": "change-me"}, "ZALO_OA_SECRET_KEY"),
        ({"MESSENGER_PAGE_ACCESS_TOKEN": "EAAB123", "MESSENGER_APP_SECRET": "change-me-app-secret"},
         "MESSENGER_APP_SECRET"),
        ({"ZALO_BOT_TOKEN": "123:change-me-token"}, "ZALO_BOT_TOKEN"),
        ({"CCHC_DATABASE_URL": "postgresql+asyncpg://cchc:change-me@postgres:5432/cchc",
          "CCHC_SECRET_KEY": "k" * 32}, "CCHC_DATABASE_URL"),
        ({"CCHC_WORKER_PORT": "tám"}, "CCHC_WORKER_PORT"),
        ({"CCHC_DATABASE_SCHEMA": "cchc"}, "CCHC_DATABASE_SCHEMA"),
        ({"CCHC_DATABASE_URL": "postgresql+asyncpg://u@h/db", "CCHC_SECRET_KEY": "k" * 32,
          "CCHC_DATABASE_SCHEMA": "Bad-Name"}, "CCHC_DATABASE_SCHEMA"),
    ],
)
def test_invalid_configuration_names_the_variable(overrides: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env(**overrides))
    message = str(err.value)
    assert message.startswith((variable + ":", variable + " "))
    assert "\n" not in message
    # the operator reads Vietnamese: the variable's name as it is, the rest in Vietnamese
    assert re.search("[ăâđêôơưáàảãạéèẻẽẹíìỉĩịóòỏõọúùủũụýỳỷỹỵấầẩẫậắằẳẵặếềểễệốồổỗộớờởỡợứừửữự]", message), message


def test_a_number_error_says_what_is_expected_and_what_was_given() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env(CCHC_DB_POOL_SIZE="abc"))
    assert str(err.value) == "CCHC_DB_POOL_SIZE phải là số nguyên ≥ 1 (đang là 'abc')"


def test_a_channel_not_in_use_may_keep_the_template_placeholders() -> None:
    """The env file template keeps every channel's lines; only the channels in use must be filled in."""
    settings = load_settings(env(TELEGRAM_WEBHOOK_SECRET="change-me-long-random", ZALO_BOT_WEBHOOK_SECRET="change-me",
                                 MESSENGER_VERIFY_TOKEN=""))
    assert not settings.telegram_enabled


def test_worker_port_is_optional() -> None:
    assert load_settings(env()).worker_port is None
    assert load_settings(env(CCHC_WORKER_PORT="8081")).worker_port == 8081


def test_token_and_webhook_accepted() -> None:
    s = load_settings(env(TELEGRAM_BOT_TOKEN="123456:" + "A" * 35, TELEGRAM_WEBHOOK_URL="https://bot.example.vn/cchc/hook",
                          TELEGRAM_WEBHOOK_SECRET=GOOD_SECRET, CCHC_DATABASE_URL="postgresql+asyncpg://u@h/db",
                          CCHC_SECRET_KEY="k" * 16 + "K" * 16))
    assert s.telegram_enabled and s.telegram_webhook_secret == GOOD_SECRET
    # the path Telegram is given is the path served (no 404 behind a path-preserving proxy)
    assert s.telegram_webhook_path == "/cchc/hook"
    assert load_settings(env(TELEGRAM_WEBHOOK_URL="https://bot.example.vn", TELEGRAM_WEBHOOK_SECRET=GOOD_SECRET)
                         ).telegram_webhook_path == "/telegram/webhook"


async def test_the_configured_webhook_path_is_the_one_served(bot_sqlite) -> None:
    import dataclasses

    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import add_telegram

    bot = bot_sqlite
    bot.settings = dataclasses.replace(bot.settings, telegram_token="123456:" + "A" * 35,
                                       telegram_webhook_url="https://bot.example.vn/cchc/hook",
                                       telegram_webhook_secret=GOOD_SECRET)
    add_telegram(bot)
    async with TestClient(TestServer(bot.web_app())) as client:
        served = await client.post("/cchc/hook", json={}, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert served.status == 403  # the route exists (and checks the secret)
        assert (await client.post("/telegram/webhook", json={})).status in (404, 405)


def test_a_dot_env_file_is_read_under_the_environment(tmp_path, monkeypatch) -> None:
    """`.env` (copied from .env.example) is read; what the environment already sets wins."""
    from bot.cli import _load_env_file

    env_file = tmp_path / ".env"
    env_file.write_text("CCHC_WEB_PORT=8095\nCCHC_CONTENT_RELOAD_SECONDS=3\n", encoding="utf-8")
    monkeypatch.delenv("CCHC_WEB_PORT", raising=False)  # restored (absent) after the test
    monkeypatch.setenv("CCHC_CONTENT_RELOAD_SECONDS", "7")
    _load_env_file(str(env_file))
    settings = load_settings()
    assert settings.web_port == 8095 and settings.content_reload_seconds == 7
