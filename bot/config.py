"""Settings from the environment, validated once at start so a mistake is one clear line."""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core.storage.db import PoolSettings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/cchc.db"
DEFAULT_TELEGRAM_API = "https://api.telegram.org/bot"
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MIN_WEBHOOK_SECRET = 32
DEFAULT_WEBHOOK_PATH = "/telegram/webhook"
# Paths the bot's own web server already serves: a webhook there would shadow them (or be shadowed).
RESERVED_PATHS = ("/dashboard", "/bantin", "/healthz", "/readyz")
MAKE_SECRET = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")


# Secrets whose deploy/*.env.example value ("change-me...") must not reach production.
PLACEHOLDER_CHECKED = ("CCHC_SECRET_KEY", "CCHC_METRICS_TOKEN", "CCHC_WEBCHAT_SECRET")
# Zalo Bot runs when one of these is set (bot.app.add_zalo_bot); a webhook secret alone switches nothing on.
ZALO_BOT_SWITCHES = ("ZALO_BOT_TOKEN", "ZALO_BOT_WEBHOOK_URL")
# A channel's secrets, checked the same way once the channel is in use (any of the first group is set): an
# env file may keep the template's lines of a channel the province does not run.
CHANNEL_PLACEHOLDERS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_URL"), ("TELEGRAM_WEBHOOK_SECRET",)),
    (("ZALO_OA_APP_ID", "ZALO_OA_SECRET_KEY", "ZALO_OA_APP_SECRET"),
     ("ZALO_OA_SECRET_KEY", "ZALO_OA_APP_SECRET", "ZALO_OA_ACCESS_TOKEN", "ZALO_OA_REFRESH_TOKEN")),
    (ZALO_BOT_SWITCHES, ("ZALO_BOT_TOKEN", "ZALO_BOT_WEBHOOK_SECRET")),
    (("MESSENGER_PAGE_ACCESS_TOKEN", "MESSENGER_APP_SECRET", "MESSENGER_VERIFY_TOKEN"),
     ("MESSENGER_PAGE_ACCESS_TOKEN", "MESSENGER_APP_SECRET", "MESSENGER_VERIFY_TOKEN")),
)

# Variables kept in Settings.extra (Bot.env): the bot's own and the channels' (checked by their adapters).
EXTRA_PREFIXES = ("CCHC_", "ZALO_", "MESSENGER_")


class ConfigError(ValueError):
    """A configuration mistake; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    database_schema: str = ""  # PostgreSQL: the schema (search_path) the bot's tables live in; "" = default
    content_dir: Path = Path("content")
    telegram_token: str | None = None
    telegram_api_base_url: str = DEFAULT_TELEGRAM_API
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    worker_port: int | None = None  # `cchc-bot worker` serves /healthz /readyz /metrics here; None: no HTTP
    secret_key: str | None = None  # signs dashboard sessions; generated per start when unset
    content_reload_seconds: float = 10.0  # 0 disables watching the pack for edits
    inbox_dead_after: float = 10.0  # seconds without a heartbeat before a process's claims are taken over
    inbox_keep_days: int = 14  # handled events and sent replies are pruned after this many days
    db_pool_size: int = 25  # PostgreSQL connections kept open
    db_max_overflow: int = 5  # extra connections opened under a burst (closed again at once)
    db_pool_timeout: float = 30.0  # seconds a transaction may wait for a connection
    extra: Mapping[str, str] = field(default_factory=dict)

    def make_engine(self, **kwargs: Any) -> Any:
        """The database engine these settings name (pool and schema included)."""
        from core.storage.db import make_engine

        kwargs.setdefault("pool", self.db_pool)
        return make_engine(self.database_url, schema=self.database_schema or None, **kwargs)

    @property
    def db_pool(self) -> PoolSettings:
        return PoolSettings(self.db_pool_size, self.db_max_overflow, self.db_pool_timeout)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def telegram_webhook_path(self) -> str:
        """The path the web server serves the webhook at: the configured URL's own path, so what Telegram
        is told and what is served can never differ."""
        path = urlparse(self.telegram_webhook_url or "").path
        return path if path and path != "/" else DEFAULT_WEBHOOK_PATH


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ConfigError(f"{name} phải là địa chỉ {'/'.join(schemes)}:// (đang là {value!r})")
    return value


def _number(get: Callable[[str], str | None], name: str, default: float, *, minimum: float,
            kind: type = int, strictly_above: bool = False, unit: str = "") -> Any:
    """One numeric variable: parsed as `kind`, checked against `minimum`, or a ConfigError naming it
    (``unit``: Vietnamese, e.g. "giây")."""
    text = get(name) or str(default)
    bound = f"{'>' if strictly_above else '≥'} {minimum:g}{' ' + unit if unit else ''}"
    what = "số nguyên" if kind is int else "số"
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{name} phải là {what} {bound} (đang là {text!r})") from None
    if value < minimum or (strictly_above and value == minimum):
        raise ConfigError(f"{name} phải là {what} {bound} (đang là {text!r})")
    return value


def _port(get: Callable[[str], str | None], name: str, default: int | None) -> int | None:
    """A TCP port 0-65535 (``default`` when unset), or a ConfigError naming the variable."""
    text = get(name)
    if text is None:
        return default
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name} phải là số cổng từ 0 đến 65535 (đang là {text!r})")
    return port


def _password(database_url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(database_url).password or ""
    except Exception:  # noqa: BLE001 - an unparsable URL is refused below, naming its scheme
        return ""


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every variable; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    checked = list(PLACEHOLDER_CHECKED)
    for in_use, secrets in CHANNEL_PLACEHOLDERS:
        if any(get(name) for name in in_use):
            checked += secrets
    for name in checked:  # the env file templates' "change-me-..." values left in place
        if "change-me" in (get(name) or "").lower():
            raise ConfigError(f"{name} vẫn là giá trị mẫu trong tệp cấu hình: hãy thay bằng giá trị thật "
                              f"(một chuỗi ngẫu nhiên tạo bằng: {MAKE_SECRET}; token, khóa của nền tảng lấy từ "
                              "trang quản lý của nền tảng)")

    database_url = get("CCHC_DATABASE_URL") or DEFAULT_DATABASE_URL
    if "change-me" in _password(database_url).lower():
        raise ConfigError("CCHC_DATABASE_URL: mật khẩu vẫn là giá trị mẫu 'change-me': đặt mật khẩu thật của "
                          "PostgreSQL (docker compose: POSTGRES_PASSWORD trong deploy/cchc.env, chạy lệnh với "
                          "--env-file deploy/cchc.env)")
    schema = get("CCHC_DATABASE_SCHEMA") or ""
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "CCHC_DATABASE_URL phải có dạng sqlite+aiosqlite:///đường/dẫn.db hoặc "
            f"postgresql+asyncpg://user@host/db (đang là {database_url.split('://', 1)[0]!r}://...)"
        )
    if schema and not database_url.startswith("postgresql"):
        raise ConfigError("CCHC_DATABASE_SCHEMA chỉ dùng với PostgreSQL (CCHC_DATABASE_URL=postgresql+asyncpg://...)")
    if schema and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ConfigError(f"CCHC_DATABASE_SCHEMA phải là tên schema PostgreSQL: chữ thường a-z, số 0-9, dấu _, "
                          f"tối đa 63 ký tự (đang là {schema!r})")

    content_dir = Path(get("CCHC_CONTENT_DIR") or "content")
    if not content_dir.is_dir():
        raise ConfigError(f"CCHC_CONTENT_DIR phải là một thư mục có sẵn (đang là {str(content_dir)!r})")

    token = get("TELEGRAM_BOT_TOKEN")
    if token and not _TOKEN_RE.match(token):
        raise ConfigError("TELEGRAM_BOT_TOKEN không giống token của bot (dạng số:chữ, lấy từ @BotFather)")

    api_base = get("TELEGRAM_API_BASE_URL") or DEFAULT_TELEGRAM_API
    _url("TELEGRAM_API_BASE_URL", api_base, ("http", "https"))

    webhook_url = get("TELEGRAM_WEBHOOK_URL")
    if webhook_url:
        # Telegram delivers webhooks over HTTPS only; an http:// URL would be refused by it (or leak the secret).
        _url("TELEGRAM_WEBHOOK_URL", webhook_url, ("https",))
        parsed = urlparse(webhook_url)
        if parsed.query or parsed.fragment:
            raise ConfigError("TELEGRAM_WEBHOOK_URL không được có ?tham số hay #đoạn (chỉ đường dẫn được phục vụ)")
        path = parsed.path.rstrip("/")
        if any(path == p or path.startswith(p + "/") for p in RESERVED_PATHS):
            raise ConfigError(f"TELEGRAM_WEBHOOK_URL: đường dẫn {parsed.path!r} máy chủ web đã dùng; "
                              f"hãy dùng ví dụ {DEFAULT_WEBHOOK_PATH}")
    # neither token nor webhook: Telegram is not in use, the template's secret line may stay as it is
    secret = get("TELEGRAM_WEBHOOK_SECRET") if token or webhook_url else None
    if secret and not _SECRET_RE.match(secret):
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET phải gồm 1-256 ký tự A-Z a-z 0-9 _ -")
    if secret and (len(secret) < MIN_WEBHOOK_SECRET or len(set(secret)) < 8):
        raise ConfigError(f"TELEGRAM_WEBHOOK_SECRET quá yếu: dùng từ {MIN_WEBHOOK_SECRET} ký tự ngẫu nhiên "
                          f"(tạo bằng: {MAKE_SECRET})")
    if webhook_url and not secret:
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET là bắt buộc khi đặt TELEGRAM_WEBHOOK_URL")

    host = get("CCHC_WEB_HOST") or "127.0.0.1"
    port = _port(get, "CCHC_WEB_PORT", 8080)
    worker_port = _port(get, "CCHC_WORKER_PORT", None)

    secret_key = get("CCHC_SECRET_KEY")
    if secret_key and len(secret_key) < 32:
        raise ConfigError(f"CCHC_SECRET_KEY phải dài ít nhất 32 ký tự (tạo bằng: {MAKE_SECRET})")
    if not secret_key and database_url.startswith("postgresql"):
        # PostgreSQL means several processes (workers, restarts behind a balancer): a key drawn per process
        # would log officials out whenever a request lands on another one. SQLite warns (bot.app).
        raise ConfigError(f"CCHC_SECRET_KEY là bắt buộc với PostgreSQL (từ 32 ký tự; tạo bằng: {MAKE_SECRET})")

    reload_seconds = _number(get, "CCHC_CONTENT_RELOAD_SECONDS", 10, minimum=0, kind=float, unit="giây")
    dead_after = _number(get, "CCHC_INBOX_DEAD_AFTER", 10, minimum=1, kind=float, unit="giây")
    keep_days = _number(get, "CCHC_INBOX_KEEP_DAYS", 14, minimum=1)
    pool_size = _number(get, "CCHC_DB_POOL_SIZE", 25, minimum=1)
    max_overflow = _number(get, "CCHC_DB_MAX_OVERFLOW", 5, minimum=0)
    pool_timeout = _number(get, "CCHC_DB_POOL_TIMEOUT", 30, minimum=0, kind=float, strictly_above=True,
                           unit="giây")

    return Settings(
        database_url=database_url,
        database_schema=schema,
        db_pool_size=pool_size,
        db_max_overflow=max_overflow,
        db_pool_timeout=pool_timeout,
        content_reload_seconds=reload_seconds,
        inbox_dead_after=dead_after,
        inbox_keep_days=keep_days,
        content_dir=content_dir,
        telegram_token=token,
        telegram_api_base_url=api_base,
        telegram_webhook_url=webhook_url,
        telegram_webhook_secret=secret,
        web_host=host,
        web_port=port,
        worker_port=worker_port,
        secret_key=secret_key,
        # the channels' own variables travel with the rest (bot.app.add_zalo_oa... read them from bot.env)
        extra={k: v for k, v in env.items() if k.startswith(EXTRA_PREFIXES)},
    )
