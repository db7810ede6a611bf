"""The event loop the long-running commands use.

``uvloop`` (libuv, a well-kept drop-in asyncio loop) where it installs, the standard loop otherwise or when
``CCHC_EVENT_LOOP=asyncio``. The turn benchmark (bench/turn_bench.py) measured the bot's CPU per turn with
both; the figure is in the README's benchmark section. Everything the bot uses (aiohttp, asyncpg, aiosqlite,
python-telegram-bot/httpx) runs on either.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` unless it is missing or switched off (``CCHC_EVENT_LOOP=asyncio``)."""
    if os.environ.get("CCHC_EVENT_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # e.g. Windows: uvloop is not built there
        return None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on :func:`loop_factory`'s loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)
