"""Single jobs (core/jobs.py) run once at a time and once per period across THREE processes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.database import upgrade
from core.storage.db import make_engine
from tests.conftest import require_pg
from tests.pgschema import PG_URL, throwaway_schema

ROOT = Path(__file__).resolve().parents[2]
SECONDS, PERIOD = 4.0, 0.5


def run_three(url: str, schema: str, out: Path) -> list[tuple[float, float, str]]:
    procs = [subprocess.Popen([sys.executable, "-m", "tests.production.job_proc", url, schema, str(out),
                               str(SECONDS), str(PERIOD)], cwd=ROOT) for _ in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    starts: dict[str, float] = {}
    runs = []
    for line in out.read_text().splitlines():
        kind, pid, at = line.split()
        if kind == "start":
            assert pid not in starts
            starts[pid] = float(at)
        else:
            runs.append((starts.pop(pid), float(at), pid))
    return sorted(runs)


def check(runs: list[tuple[float, float, str]]) -> None:
    assert len(runs) >= 3, runs
    assert len({pid for *_, pid in runs}) >= 1
    for (s1, e1, _), (s2, _e2, _) in zip(runs, runs[1:]):
        assert s2 >= e1, "two runs overlapped"
        assert s2 - s1 >= PERIOD, "ran twice in one period"
    # (no bound on the count from SECONDS: each process runs SECONDS from its own start, and on a loaded
    # machine they start seconds apart; "once per period" is the pairwise check above)


async def test_three_processes_on_postgresql(tmp_path: Path) -> None:
    await require_pg()
    async with throwaway_schema(PG_URL, prefix="jobs") as (engine, schema):
        await upgrade(engine)
        check(run_three(PG_URL, schema, tmp_path / "runs.txt"))


async def test_three_processes_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    check(run_three(url, "", tmp_path / "runs.txt"))


@pytest.mark.parametrize("lease_s", [0.0])
async def test_a_dead_holders_lease_expires(sqlite_engine, lease_s: float) -> None:
    import datetime as dt

    from core.jobs import Jobs, every
    from core.storage.db import session_factory

    a, b = Jobs(session_factory(sqlite_engine), "a"), Jobs(session_factory(sqlite_engine), "b")
    assert await a.claim("x", every(dt.timedelta(0)), lease=dt.timedelta(hours=1))
    assert not await b.claim("x", every(dt.timedelta(0)), lease=dt.timedelta(hours=1))  # held
    await a.finish("x")
    assert await b.claim("x", every(dt.timedelta(hours=1)), lease=dt.timedelta(seconds=lease_s))
    assert not await a.claim("x", every(dt.timedelta(0)), lease=dt.timedelta(hours=1))  # not due again yet
