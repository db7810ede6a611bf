"""Single jobs across processes: each named job runs at most once at a time across every process sharing
the database, and once per period (pruning, draft expiry, the deadline digest...).

A run is an atomic claim of the job's row in ``job_runs`` (a compare-and-set UPDATE, the same SQL on
SQLite and PostgreSQL): it succeeds only when the job is due (``next_due_at``) and nobody holds an unexpired
lease. The claim moves ``next_due_at`` to the next period at once, so the other processes skip this
period; the lease (longer than the job may take) frees the job if its process died mid-run.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.storage.models import JobRun, utcnow
from core.storage.upsert import insert_for

log = logging.getLogger(__name__)

NextDue = Callable[[dt.datetime], dt.datetime]  # now -> when the job is due next


def every(period: dt.timedelta) -> NextDue:
    return lambda now: now + period


class Jobs:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], process_id: str, *,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.sessions = sessions
        self.process_id = process_id[:64]
        self.clock = clock
        self.claimed_at: dict[str, dt.datetime] = {}  # job -> the time of this process's last claim

    async def claim(self, name: str, next_due: NextDue, *, lease: dt.timedelta, first_now: bool = True) -> bool:
        """True when this process may run ``name`` now (and nobody else until it finishes or the lease ends).
        A job never run is due at once with ``first_now``, else at ``next_due(now)``."""
        now = self.clock()
        async with self.sessions.begin() as session:
            await session.execute(insert_for(session, JobRun.__table__).values(
                name=name, next_due_at=now if first_now else next_due(now), runs=0).on_conflict_do_nothing(index_elements=["name"]))
            got = await session.execute(
                update(JobRun).where(JobRun.name == name, JobRun.next_due_at <= now,
                                     or_(JobRun.lease_until.is_(None), JobRun.lease_until < now))
                .values(holder=self.process_id, lease_until=now + lease, started_at=now, next_due_at=next_due(now))
                .execution_options(synchronize_session=False))
            if got.rowcount != 1:
                return False
        self.claimed_at[name] = now
        return True

    async def finish(self, name: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(JobRun).where(and_(JobRun.name == name, JobRun.holder == self.process_id))
                                  .values(holder=None, lease_until=None, finished_at=self.clock(),
                                          runs=JobRun.runs + 1).execution_options(synchronize_session=False))

    async def run_once(self, name: str, job: Callable[[], Awaitable[object]], next_due: NextDue, *,
                       lease: dt.timedelta = dt.timedelta(minutes=30), first_now: bool = True) -> bool:
        """Run ``job`` if this process wins the claim; True when it ran (even if it raised: logged)."""
        if not await self.claim(name, next_due, lease=lease, first_now=first_now):
            return False
        try:
            await job()
        except Exception:  # noqa: BLE001 - logged; the next period tries again
            log.exception("job %s failed", name)
        finally:
            await asyncio.shield(self.finish(name))
        return True

    async def periodic(self, name: str, job: Callable[[], Awaitable[object]], next_due: NextDue, *,
                       poll: float = 30.0, lease: dt.timedelta = dt.timedelta(minutes=30),
                       first_now: bool = True) -> None:
        """Forever (a background task): every ``poll`` seconds, run ``job`` when due and won."""
        while True:
            try:
                await self.run_once(name, job, next_due, lease=lease, first_now=first_now)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - database hiccup: try at the next poll
                log.warning("job %s: claim failed: %s", name, type(exc).__name__)
            await asyncio.sleep(poll)
