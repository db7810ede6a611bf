"""Repositories for the foundation tables: users, dialogue state, interaction log."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from core.storage.db import single, transaction
from core.storage.group import GroupCommit
from core.storage.writes import ClosingWrites
from core.storage.models import DialogueState, Interaction, OutboxMessage, User, utcnow
from core.storage.upsert import insert_for


@dataclass
class FlowState:
    """A user's position in a multi-step flow, detached from the session."""

    flow: str
    step: str
    data: dict[str, Any]
    expires_at: dt.datetime | None = None


class _Unchanged:
    """Marker type: `finish_turn(state=UNCHANGED)` leaves the dialogue state alone."""


UNCHANGED = _Unchanged()


class StaleTurn(Exception):
    """Another process finished a turn of this user after this turn began: this turn's writes were rolled
    back (the inbox runs it again on the fresh state)."""


# ``also(writes)``: more writes of the turn's closing transaction (the inbox's), core/storage/writes.py
AlsoInTurn = Callable[[ClosingWrites], Awaitable[None]]


@dataclass(slots=True)
class _Closing:
    """One turn's closing writes, waiting for its group (``Store.finish_turn``)."""

    user: User
    params: dict[str, Any]
    state: FlowState | None | _Unchanged
    log: dict[str, Any] | None
    also: AlsoInTurn | None


def _interaction_values(*, user_id: int | None, channel: str, kind: str, text: str = "", normalized: str = "",
                        answer: str = "", decision: str = "", score: float | None = None) -> dict[str, Any]:
    """An interaction-log row's columns, cut to their sizes."""
    return {"user_id": user_id, "channel": channel, "kind": kind, "text": text[:4096],
            "normalized": normalized[:4096], "answer": answer[:128], "decision": decision, "score": score}


def _count_decision(row: dict[str, Any]) -> None:
    """The FAQ's decisions for /metrics (answer / suggest / none ...), counted where the log row is written."""
    if row.get("kind") == "faq":
        from core.metrics import FAQ_DECISIONS

        FAQ_DECISIONS.labels(row.get("decision") or "none").inc()


# The statements every turn runs, built once (values bound per call): building a statement and its cache
# key again at each turn cost more CPU than running it (measured with py-spy on the turn benchmark).
# They are plain Core statements on the tables, run on the transaction's connection: the ORM's per-statement
# work (bulk-update machinery, session bookkeeping) was a third of their cost.
_USERS = User.__table__
_FINISH_USER = (
    update(_USERS).where(_USERS.c.id == bindparam("b_id"), _USERS.c.turn_seq == bindparam("b_seq"))
    .values(last_seen=bindparam("b_seen"), display_name=bindparam("b_name"), blocked_at=None,
            turn_seq=_USERS.c.turn_seq + 1))  # the user object is the caller's: nothing to synchronise
_FINISH_USER_MEMO = _FINISH_USER.values(memo=bindparam("b_memo", type_=_USERS.c.memo.type))
_LOCK_USERS = (select(_USERS.c.id, _USERS.c.turn_seq)  # (no FOR UPDATE on SQLite: its writer is single)
               .where(_USERS.c.id.in_(bindparam("b_ids", expanding=True))).with_for_update())
_CLEAR_STATE = delete(DialogueState.__table__).where(DialogueState.__table__.c.user_id == bindparam("b_user"))
_LOG_TURN = insert(Interaction.__table__)  # a plain INSERT: no unit-of-work flush, no id fetched back

CLOSINGS_PER_COMMIT = 64  # turns' closing writes in one transaction at most (group commit)
RECENT_TURNS_WINDOW = 60  # seconds: `begin_turn` counts the user's turns in this window (`User.recent_turns`)
_RECENT = (select(func.count()).select_from(Interaction)  # the per-user rate limit's count (core/turns.py)
           .where(Interaction.user_id == User.id, Interaction.created_at >= bindparam("b_since"))
           .correlate(User).scalar_subquery())
# Messages waiting for this person to write again (core/outbox.py): when there are none — nearly always —
# the turn's closing transaction skips releasing them (one statement less per turn).
_HAS_DEFERRED = (select(OutboxMessage.id).where(OutboxMessage.channel == User.channel,
                                                 OutboxMessage.external_id == User.external_id,
                                                 OutboxMessage.status == "deferred")
                 .correlate(User).exists())
# The users of turns that begin together, with their states, in one SELECT (group read, ``Store.readers``)
_STATES = DialogueState.__table__
_BEGIN_TURNS = (select(_USERS, _STATES.c.flow, _STATES.c.step, _STATES.c.data, _STATES.c.expires_at,
                       _RECENT.label("recent"), _HAS_DEFERRED.label("has_deferred"))
                .select_from(_USERS.outerjoin(_STATES, _STATES.c.user_id == _USERS.c.id))
                .where(tuple_(_USERS.c.channel, _USERS.c.external_id).in_(bindparam("b_keys", expanding=True))))
UserKey = tuple[str, str]  # (channel, external id)
BlockedHook = Callable[[AsyncSession, list[int], dt.datetime], Awaitable[None]]


def _upsert_users(conn: AsyncConnection) -> Any:
    """INSERT of a user row (bound values ``b_channel``, ``b_external``, ``b_name``, ``b_now``, ``b_memo``),
    or, when it exists, last_seen refreshed, no longer blocked, the display name when one is given;
    RETURNING the whole row, in the order of the value sets."""
    stmt = insert_for(conn, _USERS).values(
        channel=bindparam("b_channel"), external_id=bindparam("b_external"), display_name=bindparam("b_name"),
        first_seen=bindparam("b_now"), last_seen=bindparam("b_now"), turn_seq=0,
        memo=bindparam("b_memo", type_=_USERS.c.memo.type))
    fresh = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["channel", "external_id"],
        set_={"last_seen": fresh.last_seen, "blocked_at": None,
              "display_name": case((fresh.display_name != "", fresh.display_name), else_=_USERS.c.display_name)},
    ).returning(*_USERS.c, sort_by_parameter_order=True)


class Store:
    """The foundation's data access. One short transaction per call; safe across workers."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        # What features do when people block the bot (the bulletin ends their subscription): called by
        # `mark_blocked` inside its transaction with the users' ids and the time. A feature registers one in
        # its `install(host)`; the channels and the outbox only report "blocked" to the core.
        self.blocked_hooks: list[BlockedHook] = []
        # The closing transactions of turns that end together are one transaction (core/storage/group.py).
        self.closings: GroupCommit[_Closing, None] = GroupCommit(self._close_together, max_items=CLOSINGS_PER_COMMIT)
        # ... and the reads of turns that begin together one SELECT
        self.readers: GroupCommit[UserKey, Any] = GroupCommit(self._read_turns, max_items=CLOSINGS_PER_COMMIT)
        # ... and the rows of the people writing for the first time one INSERT
        self.newcomers: GroupCommit[tuple[str, str, str], User] = GroupCommit(self._create_users,
                                                                              max_items=CLOSINGS_PER_COMMIT)
        self._create_user: Any = None  # built at the first newcomer (its dialect is the database's)

    # users -------------------------------------------------------------------------------------------
    async def touch_user(self, channel: str, external_id: str, display_name: str = "") -> User:
        """Create or refresh the user row (one atomic upsert, race-free across workers)."""
        async with self.sessions.begin() as session:
            return await self._upsert_user(session, channel, external_id, display_name)

    async def begin_turn(self, channel: str, external_id: str, display_name: str = "") -> tuple[User, FlowState | None]:
        """What a chat turn needs first: the user and their live flow state, in one read (shared with the
        turns that begin at the same time: :attr:`readers`).

        A known user is only read here; `finish_turn` refreshes last_seen/display_name/blocked_at in the
        turn's one write transaction (each commit is a disk sync: on SQLite's single writer that, not the
        query count, bounds throughput). A new user (first message) or an expired state is written here."""
        found = await self.readers.submit((channel, external_id))
        user, state = (found[0], found[1]) if found is not None else (None, None)
        if found is not None:
            user.recent_turns = found[2]  # not a column: turns in the last RECENT_TURNS_WINDOW s
            user.has_deferred = found[3]  # not a column: messages wait for this person's next message
        expired = state is not None and state.expires_at is not None and state.expires_at <= utcnow()
        if user is None:
            # A new person has no state and nothing waiting for them (messages go to people who wrote): their
            # row is created (with the other newcomers' of the moment: :attr:`newcomers`) and nothing more
            # read; a second turn of theirs racing this one is told apart by finish_turn's turn number.
            user = await self.newcomers.submit((channel, external_id, display_name[:256]))
            user.recent_turns, user.has_deferred = 0, False
            return user, None
        if expired:
            recent_turns, has_deferred = user.recent_turns, user.has_deferred
            async with self.sessions.begin() as session:
                user = await self._upsert_user(session, channel, external_id, display_name)
                user.recent_turns, user.has_deferred = recent_turns, has_deferred
                return user, await self._live_state(session, user.id)
        # what finish_turn will store, as the turn's handlers should already see it
        user.blocked_at = None
        if display_name:
            user.display_name = display_name[:256]
        return user, state

    async def _read_turns(self, keys: list[UserKey]) -> list[tuple[User, FlowState | None, int, bool] | None]:
        """The flush of :attr:`readers`: for each (channel, external id) a detached User, their flow state
        (expired or not) or None, their turns in the last RECENT_TURNS_WINDOW s and whether messages wait
        for them; None for an unknown user — one SELECT on a connection (no ORM session), in autocommit on
        PostgreSQL. Each asker gets their own User object, even when two ask for the same person."""
        async with single(self.sessions, read=True) as conn:
            rows = (await conn.execute(_BEGIN_TURNS, {
                "b_keys": list(dict.fromkeys(keys)),
                "b_since": utcnow() - dt.timedelta(seconds=RECENT_TURNS_WINDOW)})).all()
        found = {(row.channel, row.external_id): row for row in rows}
        outcomes: list[tuple[User, FlowState | None, int, bool] | None] = []
        for key in keys:
            row = found.get(key)
            if row is None:
                outcomes.append(None)
                continue
            values = row._mapping
            user = User(**{column.key: values[column] for column in _USERS.c})
            state = (FlowState(row.flow, row.step, dict(row.data or {}), row.expires_at)
                     if row.flow is not None else None)
            outcomes.append((user, state, int(row.recent or 0), bool(row.has_deferred)))
        return outcomes

    async def _create_users(self, people: list[tuple[str, str, str]]) -> list[User]:
        """The flush of :attr:`newcomers`: the rows of people writing for the first time ((channel, external
        id, display name) each), created — or refreshed when they exist by now — in one INSERT .. ON
        CONFLICT DO UPDATE .. RETURNING; detached User objects, in order."""
        now = utcnow()
        async with single(self.sessions) as conn:  # one statement: atomic alone (no BEGIN/COMMIT on PG)
            if self._create_user is None:
                self._create_user = _upsert_users(conn)
            rows = (await conn.execute(self._create_user, [
                {"b_channel": channel, "b_external": external, "b_name": name, "b_now": now, "b_memo": {}}
                for channel, external, name in people])).all()
        return [User(**row._asdict()) for row in rows]

    async def finish_turn(self, user: User, *, state: FlowState | None | _Unchanged = UNCHANGED,
                          log: dict[str, Any] | None = None, also: AlsoInTurn | None = None,
                          memo: dict[str, Any] | None = None) -> None:
        """What a chat turn leaves behind, in ONE write transaction: the user's last_seen (display name,
        no longer blocked), the new flow state (a FlowState to save, None to clear, UNCHANGED to leave it),
        the interaction-log row (`log_interaction` keywords, None when already written) and whatever
        ``also(writes)`` adds (the inbox: the event done and the replies owed); ``memo``: the user's
        memo to store (None: unchanged). Returns when that transaction committed.

        Turns that finish together share the transaction (group commit, :attr:`closings`): each turn's
        writes land all together or not at all, and one turn's failure is never another's — when the shared
        transaction fails, each of its turns is written again alone (core/storage/group.py).

        Raises :class:`StaleTurn` (and writes nothing) when another turn of this user committed since
        ``begin_turn`` read ``user.turn_seq``."""
        params: dict[str, Any] = {"b_id": user.id, "b_seq": user.turn_seq, "b_name": user.display_name}
        if memo is not None:  # the user's whole memo, as the turn leaves it
            params["b_memo"] = memo
        await self.closings.submit(_Closing(user, params, state, log, also))

    async def _close_together(self, group: list[_Closing]) -> list[StaleTurn | None]:
        """The flush of :attr:`closings`: the group's writes in one transaction, each statement once for
        the group (core/storage/writes.py). The users' rows are locked and their turn numbers checked first:
        a turn whose user moved on since its ``begin_turn`` writes nothing and gets :class:`StaleTurn`."""
        now = utcnow()
        outcomes: list[StaleTurn | None] = []
        async with transaction(self.sessions) as conn:
            writes = ClosingWrites(conn)
            if len(group) == 1:  # alone (a quiet moment): its UPDATE's row count is the check, one statement less
                closing = group[0]
                done = await writes.conn.execute(*self._finish_user(closing, now))
                if done.rowcount != 1:
                    return [StaleTurn(f"user {closing.user.id}")]
                await self._close(writes, closing, now)
                outcomes.append(None)
            else:
                seqs = dict((await writes.conn.execute(_LOCK_USERS, {
                    "b_ids": list({closing.user.id for closing in group})})).all())
                for closing in group:
                    user = closing.user
                    if seqs.get(user.id) != user.turn_seq:  # (a second turn of one user in the group: stale too)
                        outcomes.append(StaleTurn(f"user {user.id}"))
                        continue
                    seqs[user.id] = user.turn_seq + 1
                    writes.add(*self._finish_user(closing, now))
                    await self._close(writes, closing, now)
                    outcomes.append(None)
            await writes.run()
        for closing, outcome in zip(group, outcomes):  # committed: what the callers' objects say now
            if outcome is None:
                closing.user.turn_seq += 1
                if closing.log is not None:
                    _count_decision(closing.log)
        return outcomes

    @staticmethod
    def _finish_user(closing: _Closing, now: dt.datetime) -> tuple[Any, dict[str, Any]]:
        """The statement and values that move the user's turn number on (last seen, name, memo)."""
        return (_FINISH_USER_MEMO if "b_memo" in closing.params else _FINISH_USER), {**closing.params, "b_seen": now}

    async def _close(self, writes: ClosingWrites, closing: _Closing, now: dt.datetime) -> None:
        """One turn's closing writes after its user's (added to the group's)."""
        user, state = closing.user, closing.state
        if isinstance(state, FlowState):
            await self._save_state(writes.conn, user.id, state)
        elif state is None:
            writes.add(_CLEAR_STATE, {"b_user": user.id})
        if closing.log is not None:  # a plain INSERT: no unit-of-work flush, no id fetched back
            writes.add(_LOG_TURN, {**_interaction_values(**closing.log), "created_at": now,
                                   "turn_seq": user.turn_seq + 1})
        if closing.also is not None:
            await closing.also(writes)

    async def _upsert_user(self, session: AsyncSession, channel: str, external_id: str, display_name: str) -> User:
        """INSERT .. ON CONFLICT DO UPDATE .. RETURNING: one statement creates or refreshes the row, and
        clears `blocked_at` (they wrote to us again, so they no longer block the bot)."""
        now = utcnow()
        set_: dict[str, Any] = {"last_seen": now, "blocked_at": None}
        if display_name:
            set_["display_name"] = display_name[:256]
        stmt = (
            insert_for(session, User)
            .values(channel=channel, external_id=external_id, display_name=display_name[:256],
                    first_seen=now, last_seen=now, memo={})
            .on_conflict_do_update(index_elements=["channel", "external_id"], set_=set_)
            .returning(User)
        )
        return (await session.scalars(stmt, execution_options={"populate_existing": True})).one()

    async def get_user(self, user_id: int) -> User | None:
        async with self.sessions() as session:
            return await session.get(User, user_id)

    async def find_user(self, channel: str, external_id: str) -> User | None:
        async with self.sessions() as session:
            return (
                await session.execute(select(User).where(User.channel == channel, User.external_id == external_id))
            ).scalar_one_or_none()

    async def set_memo(self, user_id: int, key: str, value: Any) -> None:
        async with self.sessions.begin() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is not None:
                user.memo = {**(user.memo or {}), key: value}

    async def recent_turns(self, user_id: int, seconds: float, answers: tuple[str, ...] = ()) -> int:
        """How many turns of this user the interaction log holds from the last `seconds` (only those answered
        with one of `answers`, when given). The log is the database's, so the count is the same in every
        process: what per-user rate limits count (core/turns.py, the tracking-code look-up)."""
        from sqlalchemy import func

        since = utcnow() - dt.timedelta(seconds=seconds)
        stmt = select(func.count()).select_from(Interaction).where(
            Interaction.created_at >= since, Interaction.user_id == user_id)
        if answers:
            stmt = stmt.where(Interaction.answer.in_(answers))
        async with self.sessions() as session:
            return int(await session.scalar(stmt) or 0)

    async def mark_blocked(self, channel: str, external_id: str) -> None:
        """The person blocked the bot (a channel's "kicked" update, or a send refused for good): the user is
        marked blocked and every `blocked_hooks` runs in the same transaction."""
        now = utcnow()
        async with self.sessions.begin() as session:
            ids = list((await session.execute(
                update(User)
                .where(User.channel == channel, User.external_id == external_id)
                .values(blocked_at=now)
                .returning(User.id)
            )).scalars())
            for hook in self.blocked_hooks if ids else ():
                await hook(session, ids, now)

    # dialogue state ----------------------------------------------------------------------------------
    async def get_state(self, user_id: int) -> FlowState | None:
        """The user's live flow, or None (an expired one is removed)."""
        async with self.sessions.begin() as session:
            return await self._live_state(session, user_id)

    async def _live_state(self, session: AsyncSession, user_id: int) -> FlowState | None:
        row = await session.get(DialogueState, user_id)
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= utcnow():
            await session.delete(row)
            return None
        return FlowState(row.flow, row.step, dict(row.data or {}), row.expires_at)

    async def save_state(self, user_id: int, state: FlowState) -> None:
        async with self.sessions.begin() as session:
            await self._save_state(session, user_id, state)

    async def _save_state(self, session: AsyncSession | AsyncConnection, user_id: int, state: FlowState) -> None:
        values = {
            "flow": state.flow, "step": state.step, "data": state.data,
            "expires_at": state.expires_at, "updated_at": utcnow(),
        }
        stmt = insert_for(session, DialogueState.__table__).values(user_id=user_id, version=1, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_={**values, "version": DialogueState.__table__.c.version + 1},
        )
        await session.execute(stmt)

    async def clear_state(self, user_id: int) -> None:
        async with self.sessions.begin() as session:
            await session.execute(delete(DialogueState).where(DialogueState.user_id == user_id))

    # interaction log ---------------------------------------------------------------------------------
    async def log_interaction(
        self,
        *,
        user_id: int | None,
        channel: str,
        kind: str,
        text: str = "",
        normalized: str = "",
        answer: str = "",
        decision: str = "",
        score: float | None = None,
    ) -> int:
        async with self.sessions.begin() as session:
            values = _interaction_values(user_id=user_id, channel=channel, kind=kind, text=text,
                                         normalized=normalized, answer=answer, decision=decision, score=score)
            row = Interaction(**values)
            session.add(row)
            await session.flush()
        _count_decision(values)
        return row.id

    async def rate_turn(self, user_id: int, turn: int, value: int) -> bool:
        """Record 👍 (+1) / 👎 (-1) on the answer of the user's own turn ``turn`` (users.turn_seq as that turn
        left it); False when that turn logged nothing."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Interaction)
                .where(Interaction.user_id == user_id, Interaction.turn_seq == turn)
                .values(feedback=value)
            )
            return result.rowcount >= 1

    async def rate_interaction(self, interaction_id: int, user_id: int, value: int) -> bool:
        """Record 👍 (+1) / 👎 (-1) on the user's own interaction; False if it is not theirs."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Interaction)
                .where(Interaction.id == interaction_id, Interaction.user_id == user_id)
                .values(feedback=value)
            )
            return result.rowcount == 1

    async def unanswered(self, *, since: dt.datetime | None = None, limit: int = 100) -> list[tuple[str, int]]:
        """Questions the FAQ could not answer, most frequent first.

        The same question typed with and without diacritics ("giá vàng" / "gia vang") counts once, shown
        in its most frequent spelling, so a province sees real demand when it adds FAQ variants.
        """
        from sqlalchemy import func

        from vntext.normalize import fold

        async with self.sessions() as session:
            stmt = (
                select(Interaction.normalized, func.count().label("n"))
                .where(Interaction.kind == "faq", Interaction.decision == "none", Interaction.normalized != "")
                .group_by(Interaction.normalized)
            )
            if since is not None:
                stmt = stmt.where(Interaction.created_at >= since)
            rows = [(row[0], int(row[1])) for row in await session.execute(stmt)]
        merged: dict[str, tuple[int, str, int]] = {}  # folded -> (total, best spelling, its count)
        for text, count in rows:
            key = fold(text)
            total, best, best_count = merged.get(key, (0, text, 0))
            if count > best_count or (count == best_count and text > best):
                best, best_count = text, count
            merged[key] = (total + count, best, best_count)
        ranked = sorted(merged.values(), key=lambda v: (-v[0], v[1]))
        return [(best, total) for total, best, _ in ranked[:limit]]
