"""A delivery worker PROCESS for the multi-process tests: runs one DeliveryEngine against a database and
appends every delivered external id, with the time it was sent, to a file (flushed per line, so a kill -9
keeps what was sent). Its process id (in `processes` and in its claims) is the file's stem.

    python -m tests.bulletin.worker_proc DB_URL SCHEMA|- OUT_FILE RATE DEAD_AFTER
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from features.bulletin.engine import DeliveryEngine
from features.bulletin.store import BulletinStore
from core.storage.db import make_engine, session_factory
from tests.bulletin.helpers import fast_config, simple_render


class FileSender:
    channel = "telegram"

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    async def send(self, user_id, replies, *, retry=True, paid_broadcast=False):  # noqa: ANN001, ANN201
        await asyncio.sleep(0.002)
        os.write(self.fd, f"{user_id} {time.time():.3f}\n".encode())


async def main(url: str, schema: str, out: str, rate: float, dead_after: float) -> None:
    db = make_engine(url, schema=None if schema == "-" else schema)
    engine = DeliveryEngine(BulletinStore(session_factory(db)), {"telegram": FileSender(out)}, simple_render,
                            fast_config(rates={"telegram": rate}, dead_after=dead_after, batch_size=25),
                            worker_id=Path(out).stem)
    try:
        await engine.run_until_idle(timeout=60)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
