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


def configure(level_name: str) -> None:
    """The process's logging: our modules at `level_name`, libraries never below WARNING."""
    logging.basicConfig(level=getattr(logging, level_name.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()
