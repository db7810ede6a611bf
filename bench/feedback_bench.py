"""Feedback intake benchmark: 1,000 simulated citizens file a report at the same time through the core.

    .venv/bin/python bench/feedback_bench.py [--citizens 1000] [--pg postgresql+asyncpg://...] [--no-pg]

Each citizen runs the whole chat flow (/phananh → category button → typed commune → description → a photo →
"Xong" → typed phone → "Gửi") as one asyncio task; all tasks are started together with asyncio.gather, so
every step of every citizen competes for the database at once. Measured per backend (SQLite file, and
PostgreSQL in a throw-away schema when reachable): wall time, reports/s, p50/p99 latency of one chat turn,
`completed` (citizens whose script reached the confirmation), and zero loss: every confirmed report is in the
database exactly once with its one attachment (reports == confirmations == distinct codes == attachments); turns
answered with the internal-error message. Prints ONE JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text

from bot.app import build_bot
from bot.config import Settings
from bot.content import load_pack
from bot.feedback.models import Attachment, Report
from bot.storage.db import make_engine, upgrade
from handlers.types import Attachment as InAttachment
from handlers.types import Incoming

PG_URL = os.environ.get("CCHC_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


class NullSender:
    channel = "telegram"

    async def send(self, user_id, replies, *, retry=True):
        return None


async def run_backend(name: str, engine, pack, citizens: int) -> dict:
    await upgrade(engine)
    bot = await build_bot(Settings(database_url="sqlite+aiosqlite:///:memory:", content_dir=ROOT / "content"),
                          pack=pack, engine=engine, migrate=False)
    bot.senders["telegram"] = NullSender()
    error_text = pack.texts.render("errors/internal")
    latencies: list[float] = []
    errors = 0
    communes = [c.name for c in pack.agencies.communes]

    async def turn(uid: str, **kw) -> list:
        """One message; like a real citizen, send it again when the bot says it is busy (counted)."""
        nonlocal errors
        for _attempt in range(5):
            t0 = time.perf_counter()
            replies = await bot.core.handle(Incoming(channel="telegram", user_id=uid, display_name="Công dân", **kw))
            latencies.append(time.perf_counter() - t0)
            if not any(r.text == error_text for r in replies):
                return replies
            errors += 1
        return replies

    def find(replies: list, needle: str) -> str:
        for r in replies:
            for row in r.buttons:
                for b in row:
                    if needle in b.payload:
                        return b.payload
        raise RuntimeError(f"missing button {needle}: {[r.text[:80] for r in replies]}")

    async def citizen(i: int) -> bool:
        uid = f"bench-{i}"
        r = await turn(uid, text="/phananh")
        r = await turn(uid, payload=find(r, f":c:{i % len(pack.agencies.categories)}"))
        r = await turn(uid, text=communes[i % len(communes)])
        if any(":m:0" in b.payload for x in r for row in x.buttons for b in row):
            r = await turn(uid, payload=find(r, ":m:0"))
        r = await turn(uid, text=f"Phản ánh số {i}: hồ sơ nộp trực tuyến bị yêu cầu bổ sung giấy tờ nhiều lần.")
        r = await turn(uid, text="", attachments=(InAttachment("photo", f"file-{i}", mime_type="image/jpeg", size=1000),))
        r = await turn(uid, payload=find(r, ":a:done"))
        r = await turn(uid, text=f"09{i:08d}")
        r = await turn(uid, payload=find(r, ":s"))
        return any("đã được gửi" in x.text for x in r)

    started = time.perf_counter()
    results = await asyncio.gather(*(citizen(i) for i in range(citizens)), return_exceptions=True)
    wall = time.perf_counter() - started
    async with bot.services.store.sessions() as s:
        reports = int((await s.execute(select(func.count()).select_from(Report))).scalar_one())
        attachments = int((await s.execute(
            select(func.count()).select_from(Attachment).where(Attachment.report_id.is_not(None)))).scalar_one())
        codes = int((await s.execute(select(func.count(func.distinct(Report.code))))).scalar_one())
    confirmed = sum(1 for r in results if r is True)
    crashed = [repr(r)[:200] for r in results if isinstance(r, BaseException)][:3]
    lat = sorted(latencies)
    return {
        "backend": name, "citizens": citizens, "turns": len(lat), "wall_s": round(wall, 2),
        "reports_per_s": round(reports / wall, 1) if wall else None,
        "turn_p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
        "turn_p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1) if lat else None,
        "reports_in_db": reports, "distinct_codes": codes, "attachments_in_db": attachments,
        "confirmed": confirmed, "internal_errors": errors, "task_crashes": crashed,
        "completed": confirmed,
        # nothing confirmed to a citizen is missing or doubled, and each report kept its one photo
        "zero_loss": reports == confirmed == codes == attachments,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, default=1000)
    parser.add_argument("--pg", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    pack = load_pack(ROOT / "content")
    out: dict = {"benchmark": "feedback_intake", "citizens": args.citizens, "results": []}
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            out["results"].append(await run_backend("sqlite", engine, pack, args.citizens))
        finally:
            await engine.dispose()
    if not args.no_pg:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(args.pg, pool_size=1, max_overflow=0)
        try:
            async with admin.begin() as conn:
                await asyncio.wait_for(conn.execute(text(f'CREATE SCHEMA "{schema}"')), 5)
        except Exception as exc:  # noqa: BLE001
            out["results"].append({"backend": "postgresql", "skipped": f"unreachable: {type(exc).__name__}"})
            schema = ""
        if schema:
            engine = make_engine(args.pg, schema=schema)
            try:
                out["results"].append(await run_backend("postgresql", engine, pack, args.citizens))
            finally:
                await engine.dispose()
                async with admin.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()
    out["zero_loss"] = all(r.get("zero_loss", True) for r in out["results"])
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
