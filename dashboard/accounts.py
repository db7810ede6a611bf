"""Officials' accounts: argon2id hashes (rehashed on login when parameters change), lookups, listing.

Hashing runs in a worker thread: argon2 is deliberately slow (~tens of ms) and must not stall the event
loop that also serves the chat webhooks.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
import hashlib
import secrets

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.storage.models import utcnow
from dashboard.models import Official, OfficialSession
from dashboard.passwords import password_problem
from dashboard.registry import ROLES

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class AccountError(ValueError):
    """A bad username, role, agency or password; the message is shown to the operator (Vietnamese)."""


def normalize_username(username: str) -> str:
    return username.strip().lower()


def check_password_policy(password: str, *, username: str = "", display_name: str = "", agency_id: str = "") -> None:
    """Refuse weak passwords with the reason (zxcvbn + a Vietnamese dictionary, see dashboard/passwords.py)."""
    problem = password_problem(password, username=username, display_name=display_name, agency_id=agency_id)
    if problem:
        raise AccountError(problem)


@dataclass(frozen=True)
class OfficialView:
    """A detached, read-only copy of an account (never carries the hash outside this module)."""

    id: int
    username: str
    display_name: str
    agency_id: str
    role: str
    active: bool
    fingerprint: str  # changes whenever the password changes: old sessions stop working

    @classmethod
    def of(cls, row: Official) -> OfficialView:
        return cls(row.id, row.username, row.display_name, row.agency_id, row.role, row.active,
                   _fingerprint(row.password_hash))


def _fingerprint(password_hash: str) -> str:
    import hashlib

    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class Accounts:
    """Data access for officials. One short transaction per call."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hasher: PasswordHasher | None = None) -> None:
        self.sessions = sessions
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def create(self, username: str, password: str, *, agency_id: str, role: str,
                     display_name: str = "") -> OfficialView:
        username = normalize_username(username)
        if not USERNAME_RE.match(username):
            raise AccountError("Tên đăng nhập: 3–64 ký tự a-z, 0-9, dấu chấm, gạch dưới, gạch ngang.")
        if role not in ROLES:
            raise AccountError(f"Vai trò phải là một trong: {', '.join(ROLES)}.")
        check_password_policy(password, username=username, display_name=display_name, agency_id=agency_id)
        row = Official(username=username, display_name=display_name.strip()[:256] or username,
                       agency_id=agency_id, role=role, password_hash=await self._hash(password), active=True)
        try:
            async with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AccountError(f"Tên đăng nhập {username!r} đã tồn tại.") from None
        return OfficialView.of(row)

    async def set_password(self, username: str, password: str) -> bool:
        async with self.sessions() as session:
            row = (await session.execute(
                select(Official).where(Official.username == normalize_username(username)))).scalar_one_or_none()
        check_password_policy(password, username=normalize_username(username),
                              display_name=row.display_name if row else "", agency_id=row.agency_id if row else "")
        new_hash = await self._hash(password)
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Official).where(Official.username == normalize_username(username))
                .values(password_hash=new_hash, password_changed_at=utcnow())
            )
            await self._end_sessions_of(session, username)  # a new password ends every open session
            return result.rowcount == 1

    async def set_active(self, username: str, active: bool) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Official).where(Official.username == normalize_username(username)).values(active=active)
            )
            if not active:  # re-activating later must not bring the old sessions back
                await self._end_sessions_of(session, username)
            return result.rowcount == 1

    # --- server-side sessions (the cookie holds only a random token) ---------------------------------
    @staticmethod
    def _token_hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    async def _end_sessions_of(self, session: AsyncSession, username: str) -> None:
        ids = select(Official.id).where(Official.username == normalize_username(username)).scalar_subquery()
        await session.execute(delete(OfficialSession).where(OfficialSession.official_id == ids))

    async def open_session(self, official_id: int) -> str:
        """A new session for a successful login; returns the token to put in the (encrypted) cookie."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.sessions.begin() as session:
            session.add(OfficialSession(token_hash=self._token_hash(token), official_id=official_id,
                                        created_at=now, last_seen_at=now))
        return token

    async def session_official(self, token: str) -> OfficialView | None:
        """The account behind a live session token (None when ended, unknown, or the account is inactive)."""
        if not token:
            return None
        async with self.sessions() as session:
            row = (await session.execute(
                select(Official).join(OfficialSession, OfficialSession.official_id == Official.id)
                .where(OfficialSession.token_hash == self._token_hash(token), Official.active.is_(True))
            )).scalar_one_or_none()
            return OfficialView.of(row) if row is not None else None

    async def end_session(self, token: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(delete(OfficialSession).where(OfficialSession.token_hash == self._token_hash(token)))

    async def end_all_sessions(self, official_id: int) -> int:
        """"Đăng xuất khỏi mọi thiết bị": every session of the official, this one included."""
        async with self.sessions.begin() as session:
            result = await session.execute(delete(OfficialSession).where(OfficialSession.official_id == official_id))
            return int(result.rowcount or 0)

    async def get(self, official_id: int) -> OfficialView | None:
        async with self.sessions() as session:
            row = await session.get(Official, official_id)
            return OfficialView.of(row) if row is not None else None

    async def list(self) -> list[tuple[OfficialView, Official]]:
        async with self.sessions() as session:
            rows = (await session.execute(select(Official).order_by(Official.agency_id, Official.username))).scalars()
            return [(OfficialView.of(row), row) for row in rows]

    async def count(self) -> int:
        async with self.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(Official))).scalar_one())

    async def authenticate(self, username: str, password: str) -> OfficialView | None:
        """The account if the password matches and it is active; rehash when argon2 parameters changed.

        Unknown users still cost one argon2 verification so timing does not reveal which names exist.
        """
        username = normalize_username(username)
        async with self.sessions() as session:
            row = (await session.execute(select(Official).where(Official.username == username))).scalar_one_or_none()
        if row is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash("not-a-real-password-0000")
            await self._verify(self._dummy_hash, password)
            return None
        if not await self._verify(row.password_hash, password) or not row.active:
            return None
        values: dict[str, object] = {"last_login_at": utcnow()}
        if self.hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = await self._hash(password)
        async with self.sessions.begin() as session:
            await session.execute(update(Official).where(Official.id == row.id).values(**values))
        row.password_hash = str(values.get("password_hash", row.password_hash))
        return OfficialView.of(row)

    async def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self.hasher.verify, password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
