"""Starts scheduled issues on time — or holds a late one for an official's confirmation.

Every process may run the scheduler: starting an issue is one atomic transition (``scheduled`` →
``sending`` together with creating its delivery rows), so two processes never both start it. With the
process's single jobs (core/jobs.py) a tick runs in one process at a time, once per ``interval``, across
all of them (the others do not query for due issues in vain).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging

from core.jobs import Jobs, every
from features.bulletin.service import BulletinService

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, service: BulletinService, *, interval: float = 30.0, jobs: Jobs | None = None) -> None:
        self.service = service
        self.interval = interval
        self.jobs = jobs

    async def tick(self, now: dt.datetime | None = None) -> dict[str, list[int]]:
        """One pass: start what is due, hold what is stale. Returns {"started": [...], "held": [...]}."""
        service = self.service
        now = now or service.clock()
        stale = dt.timedelta(hours=service.settings.stale_after_hours)
        started: list[int] = []
        held: list[int] = []
        for bulletin in await service.store.due(now):
            late = now - bulletin.scheduled_at
            if late > stale and not bulletin.confirmed_by:
                if await service.store.hold(bulletin.id, now):
                    log.warning("bulletin %s (số %s) is %.1f h late: waiting for an official's confirmation",
                                bulletin.id, bulletin.number, late.total_seconds() / 3600)
                    held.append(bulletin.id)
                continue
            audience = await service.store.start(bulletin.id, service.channels, now)
            if audience is not None:  # None: another worker started it first
                log.info("bulletin %s (số %s): started, %d subscribers", bulletin.id, bulletin.number, audience)
                started.append(bulletin.id)
                service._wake()
        return {"started": started, "held": held}

    async def run(self) -> None:
        try:
            result = await self.service.import_files()
            if result.created or result.updated:
                log.info("bulletin files: %d new, %d updated", result.created, result.updated)
        except Exception:  # noqa: BLE001
            log.exception("importing bulletin files failed")
        # due a little before the next poll, so the process that ran this tick may run the next one too
        period = every(dt.timedelta(seconds=self.interval * 0.8))
        while True:
            try:
                if self.jobs is None:
                    await self.tick()
                else:
                    await self.jobs.run_once("bulletin-schedule", self.tick, period,
                                             lease=dt.timedelta(minutes=10))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - try again at the next tick
                log.exception("bulletin scheduler tick failed")
            await asyncio.sleep(self.interval)
