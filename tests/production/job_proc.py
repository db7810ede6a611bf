"""One process of the single-job test: for `seconds`, try the job `t` (due every `period`) every 20 ms;
each run appends "start" and "end" lines (pid, monotonic clock) to `out`."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import time

from core.jobs import Jobs, every
from core.storage.db import make_engine, session_factory


async def main(url: str, schema: str, out: str, seconds: float, period: float) -> None:
    engine = make_engine(url, schema=schema or None)
    jobs = Jobs(session_factory(engine), f"proc-{os.getpid()}")

    async def job() -> None:
        with open(out, "a") as f:
            f.write(f"start {os.getpid()} {jobs.claimed_at['t'].timestamp():.4f}\n")  # the claim's own clock
        await asyncio.sleep(0.15)
        with open(out, "a") as f:
            f.write(f"end {os.getpid()} {time.time():.4f}\n")

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await jobs.run_once("t", job, every(dt.timedelta(seconds=period)), lease=dt.timedelta(seconds=30))
        await asyncio.sleep(0.02)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
