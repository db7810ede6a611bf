"""Logging that keeps the README's promise "nothing personal is logged" at every level, DEBUG included.

Our own modules log ids, kinds and timings, never texts, names or phone numbers. Libraries do not: at
DEBUG python-telegram-bot and httpx log whole updates and API calls (messages, names, phones), SQLAlchemy
logs statements with their bound parameters, aiohttp's access log has query strings. Those loggers are
held at WARNING whatever CCHC_LOG_LEVEL says, and SQLAlchemy engines are built with
`hide_parameters=True` (core.storage.db) so an exception never carries the citizen's data either.
"""
from __future__ import annotations

import logging

# Loggers (and their children) that may print message contents or SQL parameters below WARNING.
NOISY = ("telegram", "httpx", "httpcore", "hpack", "sqlalchemy", "aiosqlite", "asyncpg", "aiohttp.access",
         "aiohttp.client", "aiohttp.server", "aiohttp.web", "alembic", "urllib3", "asyncio")


def quiet_libraries(level: int = logging.WARNING) -> None:
    """Hold every library logger in NOISY at `level` (WARNING) or above, whatever the root level is."""
    for name in NOISY:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < level:
            logger.setLevel(level)


def configure(level_name: str, fmt: str = "text") -> None:
    """The process's logging: our modules at `level_name`, libraries never below WARNING. ``fmt="json"``
    (CCHC_LOG_FORMAT=json): one JSON object per line through structlog, with the turn id (``turn``) of
    the turn the line belongs to."""
    level = getattr(logging, level_name.upper(), logging.INFO)
    if fmt == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(json_formatter())
        logging.basicConfig(level=level, handlers=[handler], force=True)
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()


def json_formatter() -> logging.Formatter:
    """structlog's formatter for the standard library's records: JSON with time, level, logger, event
    (the message, which our modules keep free of personal data), the bound context (turn id) and, for
    errors, the exception's type and traceback."""
    import structlog

    chain = [structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
             structlog.stdlib.add_logger_name, structlog.processors.TimeStamper(fmt="iso", utc=True)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False)])


def bind_turn(turn_id: str) -> None:
    """Every log line of the current task (a turn) carries ``turn=turn_id`` (an inbox event id, never
    personal data)."""
    import structlog

    structlog.contextvars.bind_contextvars(turn=turn_id)
