"""Login throttling per account and per client IP, with exponential backoff, shared through the database.

Why hand-written rather than `aiolimiter`: aiolimiter is an in-process leaky bucket for *pacing* calls;
login protection needs (1) state shared by every worker and surviving restarts, so an attacker cannot
reset it by hitting another process, (2) counting *failures only* (successful logins cost nothing), and
(3) a growing lock-out after a run of failures. That is one small table and ~40 lines, below.

Policy: every login attempt is counted on its keys *before* the password is verified, in one transaction
with the rows locked (`attempt`), so attempts sent in parallel cannot all slip through: once `free`
attempts are counted, each further one makes the key wait `base * 2**(extra)` seconds, capped at `cap`
(short: we slow guessing down rather than lock officials out for long). A correct password clears the
account's count and gives the address its attempt back; attempts older than `window` are forgotten.
A waiting key refuses even the right password until the wait ends (the response does not say which).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.storage.upsert import insert_for
from dashboard.models import LoginThrottle


@dataclass(frozen=True)
class Policy:
    free: int  # failures allowed before locking
    base_s: float = 30.0
    cap_s: float = 900.0
    window_s: float = 3600.0

    def lock_for(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap_s, self.base_s * 2 ** (failures - self.free))


ACCOUNT_POLICY = Policy(free=5, base_s=5.0, cap_s=120.0)
IP_POLICY = Policy(free=20, base_s=2.0, cap_s=120.0)


class Throttle:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock, *,
                 account: Policy = ACCOUNT_POLICY, ip: Policy = IP_POLICY) -> None:
        self.sessions = sessions
        self.clock = clock
        self.policies = {"user": account, "ip": ip}

    @staticmethod
    def keys(username: str, ip: str) -> list[str]:
        return [f"user:{username.strip().lower()[:64]}", f"ip:{ip[:64]}"]

    async def retry_after(self, keys: list[str]) -> float:
        """Seconds until every key is unlocked (0 when a login may be tried now)."""
        now = self.clock()
        async with self.sessions() as session:
            rows = (await session.execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))).scalars()
            waits = [(row.locked_until - now).total_seconds() for row in rows if row.locked_until]
        return max([0.0, *waits])

    async def attempt(self, keys: list[str]) -> float:
        """Count one login attempt on every key, atomically, before the password is checked. Returns the
        seconds to wait (> 0: refused, nothing counted) or 0 (go on and verify the password)."""
        now = self.clock()
        async with self.sessions.begin() as session:
            rows = []
            for key in sorted(keys):  # a fixed order: two attempts never wait on each other's locks
                await session.execute(
                    insert_for(session, LoginThrottle.__table__)
                    .values(key=key, failures=0, last_failure_at=now, locked_until=None)
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                rows.append((await session.execute(
                    select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
                )).scalar_one())
            waits = [(row.locked_until - now).total_seconds() for row in rows if row.locked_until]
            wait = max([0.0, *waits])
            if wait > 0:
                return wait
            for row in rows:
                policy = self.policies[row.key.split(":", 1)[0]]
                stale = row.failures and (now - row.last_failure_at).total_seconds() > policy.window_s
                row.failures = 1 if stale else row.failures + 1
                row.last_failure_at = now
                lock = policy.lock_for(row.failures)
                row.locked_until = now + dt.timedelta(seconds=lock) if lock else None
            return 0.0

    async def succeeded(self, keys: list[str]) -> None:
        """A correct password clears the account's count and gives the address back the attempt it cost (an
        office behind one address does not use up its allowance by logging in)."""
        from sqlalchemy import update

        account, *others = keys
        async with self.sessions.begin() as session:
            await session.execute(delete(LoginThrottle).where(LoginThrottle.key == account))
            if others:
                await session.execute(update(LoginThrottle).where(LoginThrottle.key.in_(others),
                                                                  LoginThrottle.failures > 0)
                                      .values(failures=LoginThrottle.failures - 1))
