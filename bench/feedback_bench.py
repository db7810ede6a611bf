"""Feedback intake benchmark: 1,000 citizens file a report at the same time THROUGH THE TELEGRAM ADAPTER.

    .venv/bin/python bench/feedback_bench.py [--citizens 1000] [--pg postgresql+asyncpg://...] [--no-pg]
                                             [--no-core] [--think-ms 0] [--telegram-cap 0]

The production path: the real `TelegramChannel` (long polling getUpdates), wired as `cchc-bot run` wires it
(bot/app.py), stores every update in the durable inbox, the inbox runs the turns and the replies go back
through the adapter to the fake Bot API on loopback. Each citizen is a sequence of updates (see
`telegram_crowd.py`): /phananh, a category
button, a typed commune, a description, a photo, "Xong", a shared contact, "Gửi". Every citizen waits for
the bot's replies before its next step; all are interleaved. With no think time this is a closed loop of
1,000 always-waiting clients, so turn latency ≈ citizens / throughput (Little's law). Turns run at most
`max_parallel_turns` at a time (the inbox's bound, from the database's connection pool). Replies are paced
by the outbox like every send; ``--telegram-cap N`` keeps Telegram's send cap at N messages/s (30 is the
real platform's), the default 0 lifts it (CCHC_RATE_TELEGRAM), so the pipeline's own speed is measured.

Measured per backend (SQLite file; PostgreSQL in a throw-away schema when reachable): wall time, reports/s,
turn latency p50/p99 (update enqueued → turn finished, last reply received), completed citizens, database transactions
per turn, and ZERO LOSS: reports in the database == confirmations received == distinct codes == the codes
confirmed, each report kept its photo, no internal-error/"busy" reply. A secondary section drives the core
directly (no HTTP), with the same bounded concurrency as the adapter. Prints ONE JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram_crowd import Crowd

from bot.app import Bot, add_telegram, build_bot, use_inbox
from bot.config import Settings
from core.content import ContentPack
from bot.features import load_pack
from features.feedback.models import Attachment, Report
from core.storage.db import make_engine, max_concurrent_turns
from bot.database import upgrade
from core.turns import LAST_RESORT
from core.types import Attachment as InAttachment
from core.types import Incoming
from tests.fakes.citizen import JPEG
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.pgschema import PG_URL, pg_unreachable, throwaway_schema

TOKEN = "123456:bench-token-abcdefghijklmnopqrstuvwxyz"


class TxCounter:
    """Counts database transactions (BEGIN) on an engine, to report transactions per turn."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "begin", self._begin)

    def _begin(self, _conn: Any) -> None:
        self.count += 1


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))] * 1000, 1)


async def _db_counts(bot: Bot) -> tuple[int, set[str], int]:
    async with bot.services.store.sessions() as s:
        reports = int((await s.execute(select(func.count()).select_from(Report))).scalar_one())
        codes = set((await s.execute(select(Report.code))).scalars())
        attachments = int((await s.execute(
            select(func.count()).select_from(Attachment).where(Attachment.report_id.is_not(None)))).scalar_one())
    return reports, codes, attachments


async def _bot(engine: AsyncEngine, pack: ContentPack, extra: dict[str, str] | None = None,
               **settings_kw: Any) -> Bot:
    """The app as `cchc-bot run` builds it; attachments go to a throw-away file store (CCHC_FILES_DIR),
    not the checkout's data/files."""
    await upgrade(engine)
    files = tempfile.mkdtemp(prefix="cchc-bench-files-")
    atexit.register(shutil.rmtree, files, True)  # also when a run fails before _drop_files
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", content_dir=ROOT / "content",
                        content_reload_seconds=0, extra={**(extra or {}), "CCHC_FILES_DIR": files},
                        **settings_kw)
    return await build_bot(settings, pack=pack, engine=engine, migrate=False)


def _drop_files(bot: Bot) -> None:
    shutil.rmtree(bot.settings.extra["CCHC_FILES_DIR"], ignore_errors=True)


async def via_adapter(engine: AsyncEngine, pack: ContentPack, citizens: int, think: float,
                      telegram_cap: float = 0.0) -> dict[str, Any]:
    """The main measurement: the whole path a Telegram user's message takes (``telegram_cap``: messages/s,
    0 = lifted)."""
    errors = [LAST_RESORT, pack.texts.render("errors/internal")]
    rate = {"CCHC_RATE_TELEGRAM": str(telegram_cap or 100_000)}
    async with FakeTelegramAPI(token=TOKEN) as api:
        bot = await _bot(engine, pack, telegram_token=TOKEN, telegram_api_base_url=api.base_url, extra=rate)
        add_telegram(bot, api_base_file_url=api.base_file_url, polling_timeout=10, read_timeout=30,
                     write_timeout=30, connect_timeout=10, pool_timeout=30)
        [channel] = bot.channels
        inbox = use_inbox(bot)
        crowd = Crowd(api, inbox, categories=len(pack.agencies.categories),
                      communes=[c.name for c in pack.agencies.communes], error_texts=errors, think_seconds=think)
        await channel.start()
        runner = asyncio.create_task(inbox.run())
        tx = TxCounter(engine)
        try:
            started = time.perf_counter()
            result = await crowd.run(citizens)
            wall = time.perf_counter() - started
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await channel.stop()
        bad_requests = len(api.bad_requests)
    reports, db_codes, attachments = await _db_counts(bot)
    _drop_files(bot)
    confirmed = set(result.codes)
    lat = result.latencies
    return {
        "path": "telegram-adapter+inbox", "max_parallel_turns": inbox.max_parallel,
        "telegram_cap_per_s": telegram_cap or "lifted", "turns": len(lat),
        "wall_s": round(wall, 2), "reports_per_s": round(reports / wall, 1) if wall else None,
        "turns_per_s": round(len(lat) / wall, 1) if wall else None,
        "turn_p50_ms": _percentile(lat, 0.50), "turn_p99_ms": _percentile(lat, 0.99),
        "turn_max_ms": round(max(lat) * 1000, 1) if lat else None,
        "transactions_per_turn": round(tx.count / len(lat), 2) if lat else None,
        "completed": result.completed, "confirmations": len(result.codes), "distinct_codes": len(confirmed),
        "reports_in_db": reports, "attachments_in_db": attachments, "error_replies": result.error_replies,
        "telegram_bad_requests": bad_requests, "failures": result.failures,
        "zero_loss": (reports == len(result.codes) == len(confirmed) == attachments == result.completed == citizens
                      and confirmed == db_codes and result.error_replies == 0),
    }


async def via_core(engine: AsyncEngine, pack: ContentPack, citizens: int) -> dict[str, Any]:
    """Secondary: the same script straight into `Core.handle` (no HTTP), at the adapter's concurrency. The
    photo's bytes come from a local downloader standing in for the adapter's (as `add_telegram` registers)."""
    bot = await _bot(engine, pack)

    async def download(_attachment: Any) -> bytes:
        return JPEG

    bot.services.extra["downloaders"]["telegram"] = download
    gate = asyncio.Semaphore(max_concurrent_turns(engine))
    error_texts = {pack.texts.render("errors/internal"), LAST_RESORT}
    latencies: list[float] = []
    errors = 0
    communes = [c.name for c in pack.agencies.communes]

    async def turn(uid: str, **kw: Any) -> list[Any]:
        nonlocal errors
        t0 = time.perf_counter()
        async with gate:
            replies = await bot.core.handle(Incoming(channel="telegram", user_id=uid, display_name="Dân", **kw))
        latencies.append(time.perf_counter() - t0)
        errors += any(r.text in error_texts for r in replies)
        return replies

    def find(replies: list[Any], suffix: str) -> str | None:
        return next((b.payload for r in replies for row in r.buttons for b in row if b.payload.endswith(suffix)), None)

    async def citizen(i: int) -> bool:
        uid = f"core-{i}"
        r = await turn(uid, text="/phananh")
        r = await turn(uid, payload=find(r, f":c:{i % len(pack.agencies.categories)}"))
        r = await turn(uid, text=communes[i % len(communes)])
        if find(r, ":m:0"):
            r = await turn(uid, payload=find(r, ":m:0"))
        r = await turn(uid, text=f"Phản ánh số {i}: hồ sơ nộp trực tuyến bị yêu cầu bổ sung giấy tờ nhiều lần.")
        r = await turn(uid, attachments=(InAttachment("photo", f"file-{i}", mime_type="image/jpeg", size=1000),))
        r = await turn(uid, payload=find(r, ":a:done"))
        r = await turn(uid, contact_phone=f"09{i:08d}")
        r = await turn(uid, payload=find(r, ":s"))
        return any("đã được gửi" in x.text for x in r)

    tx = TxCounter(engine)
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(citizen(i) for i in range(citizens)), return_exceptions=True)
    wall = time.perf_counter() - started
    reports, _codes, attachments = await _db_counts(bot)
    _drop_files(bot)
    confirmed = sum(1 for o in outcomes if o is True)
    return {
        "path": "core", "turns": len(latencies), "wall_s": round(wall, 2),
        "reports_per_s": round(reports / wall, 1) if wall else None,
        "turn_p50_ms": _percentile(latencies, 0.50), "turn_p99_ms": _percentile(latencies, 0.99),
        "transactions_per_turn": round(tx.count / len(latencies), 2) if latencies else None,
        "completed": confirmed, "reports_in_db": reports, "attachments_in_db": attachments, "error_replies": errors,
        "zero_loss": reports == confirmed == attachments == citizens and errors == 0,
    }


Runner = Callable[[AsyncEngine], Awaitable[dict[str, Any]]]


@asynccontextmanager
async def sqlite_engine() -> AsyncIterator[AsyncEngine]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            yield engine
        finally:
            await engine.dispose()


@asynccontextmanager
async def pg_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """A throw-away schema on PostgreSQL, dropped afterwards."""
    async with throwaway_schema(url, prefix="bench") as (engine, _schema):
        yield engine


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, default=1000)
    parser.add_argument("--pg", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-core", action="store_true", help="skip the secondary core-level section")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause of each citizen after a reply")
    parser.add_argument("--telegram-cap", type=float, default=0.0,
                        help="Telegram send cap in messages/s for the replies (30: the platform's; 0: lifted)")
    args = parser.parse_args()
    pack = load_pack(ROOT / "content")
    out: dict[str, Any] = {"benchmark": "feedback_intake", "citizens": args.citizens, "results": [], "core": []}
    backends: list[tuple[str, Callable[[], Any]]] = [("sqlite", sqlite_engine)]
    if not args.no_pg:
        reason = await pg_unreachable(args.pg)
        if reason:
            out["results"].append({"backend": "postgresql", "skipped": reason})
        else:
            backends.append(("postgresql", lambda: pg_engine(args.pg)))
    for name, engine_cm in backends:
        async with engine_cm() as engine:
            out["results"].append({"backend": name, **await via_adapter(engine, pack, args.citizens,
                                                                         args.think_ms / 1000, args.telegram_cap)})
        if not args.no_core:
            async with engine_cm() as engine:
                out["core"].append({"backend": name, **await via_core(engine, pack, args.citizens)})
    out["zero_loss"] = all(r.get("zero_loss", True) for r in out["results"] + out["core"])
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
