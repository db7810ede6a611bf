"""What an operator reads when a command fails for a reason outside the code: one line and an exit code.

* ``EXIT_SETTING`` (2): a setting to fix (a wrong value, a token the platform rejects, a port taken, a
  broken content pack): restarting cannot help, so the systemd units say ``RestartPreventExitStatus=2``.
* ``EXIT_UNAVAILABLE`` (69, sysexits.h EX_UNAVAILABLE): a service (the database, a platform's API) cannot be
  reached now; systemd restarts after ``RestartSec``.

Never a token or a password in a line: they name the setting, not its value (deploy/README.md, section 9).
"""
from __future__ import annotations

import os
import re
import socket
import traceback
from collections.abc import Callable

EXIT_SETTING = 2
EXIT_UNAVAILABLE = 69

# The platforms whose start can fail (Zalo OA and Messenger start even with a rejected token: they keep
# storing webhooks and say it in /readyz): the name an operator reads, the setting holding the token, the remedy.
_PLATFORMS = {"telegram": ("Telegram", "TELEGRAM_BOT_TOKEN", "lấy token mới từ @BotFather (/token hoặc /revoke)"),
              "zalo_bot": ("Zalo Bot", "ZALO_BOT_TOKEN", "lấy token mới trong Zalo Bot Creator")}
_BOT_TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{10,}")  # Telegram/Zalo Bot token shape, scrubbed from any text
_REFUSALS = ("InvalidPasswordError", "InvalidAuthorizationSpecificationError", "InvalidCatalogNameError",
             "CannotConnectNowError", "TooManyConnectionsError")
_DATABASE_CODE = (f"{os.sep}asyncpg{os.sep}", f"{os.sep}sqlalchemy{os.sep}", f"{os.sep}aiosqlite{os.sep}")


def known_failure(exc: BaseException) -> tuple[str, int] | None:
    """One line and an exit code for a failure the operator fixes outside the code (a rejected token, an
    unreachable database or platform API); None for anything else (a bug: the traceback is kept)."""
    database = _unreachable_database(exc)
    if database is not None:
        return (f"Không kết nối được cơ sở dữ liệu {_shown_database_url()}: {type(database).__name__}: "
                f"{_first_line(database)}. Kiểm tra PostgreSQL đang chạy, địa chỉ, cổng, tên người dùng và mật "
                "khẩu trong CCHC_DATABASE_URL.", EXIT_UNAVAILABLE)
    from bot.app import ChannelStartFailed

    failed = _in_chain(exc, lambda e: isinstance(e, ChannelStartFailed))
    if not isinstance(failed, ChannelStartFailed) or failed.__cause__ is None:
        return None
    name, variable, remedy = _PLATFORMS.get(failed.channel, (failed.channel, "", ""))
    cause = failed.__cause__
    if _rejected_credentials(cause):
        return (f"Cấu hình sai: {name} từ chối {variable or 'thông tin đăng nhập'} (token sai hoặc đã bị thu hồi): "
                f"{remedy} rồi khởi động lại.", EXIT_SETTING)
    if _out_of_reach(cause):
        return (f"Không kết nối được {name} ({failed.api_host or failed.channel}): {type(cause).__name__}. Kiểm tra "
                "mạng và tường lửa của máy chủ (cần ra được HTTPS tới máy chủ của nền tảng) rồi khởi động lại.",
                EXIT_UNAVAILABLE)
    from telegram.error import TelegramError

    from core.channel import DeliveryError

    if isinstance(cause, (DeliveryError, TelegramError)):  # the platform refused a start call (setWebhook...)
        return (f"Cấu hình sai: {name} từ chối khi khởi động: {_BOT_TOKEN.sub('***', _first_line(cause))}. Kiểm tra "
                f"các biến {variable.split('_')[0]}_* rồi khởi động lại.", EXIT_SETTING)
    return None


def _rejected_credentials(exc: BaseException) -> bool:
    from telegram.error import InvalidToken

    from core.channel import PermanentError, TokenInvalid

    return isinstance(exc, (InvalidToken, TokenInvalid)) or (
        isinstance(exc, PermanentError) and getattr(exc, "code", None) == 401)


def _out_of_reach(exc: BaseException) -> bool:
    from telegram.error import BadRequest, NetworkError

    from core.channel import TransientError

    if isinstance(exc, BadRequest):  # PTB's BadRequest is a NetworkError: Telegram answered, and refused
        return False
    return isinstance(exc, (NetworkError, TransientError, OSError, TimeoutError))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8 and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _in_chain(exc: BaseException, test: Callable[[BaseException], bool]) -> BaseException | None:
    return next((e for e in _chain(exc) if test(e)), None)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else ""


def _unreachable_database(exc: BaseException) -> BaseException | None:
    """The error (in ``exc``'s chain) saying the database refused us or could not be reached: a setting to
    fix or a server to start, not a bug. None for anything else.

    A refused connection or an unknown host counts only when it was raised while connecting to the database
    (its traceback runs through asyncpg, SQLAlchemy or aiosqlite): the same OSError from Telegram's or
    Zalo's HTTP client is a platform that cannot be reached, not the database."""
    for seen in _chain(exc):
        if type(seen).__module__.startswith("asyncpg") and type(seen).__name__ in _REFUSALS:
            return seen
        if isinstance(seen, (ConnectionRefusedError, socket.gaierror)) and _raised_in_database_code(seen):
            return seen
    return None


def _raised_in_database_code(exc: BaseException) -> bool:
    return any(any(part in frame.f_code.co_filename for part in _DATABASE_CODE)
               for frame, _ in traceback.walk_tb(exc.__traceback__))


def _shown_database_url() -> str:
    from sqlalchemy.engine import make_url

    try:  # never the password
        return make_url(os.environ.get("CCHC_DATABASE_URL", "")).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL was refused by the settings already
        return "(CCHC_DATABASE_URL)"
