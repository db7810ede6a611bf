"""Group commit (core/storage/group.py): what many turns ask of the database at once is done together, and
each turn still gets its own outcome — its reply, its failure, its stale state."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select

from core.storage.group import GroupCommit
from core.storage.models import Interaction, User
from core.storage.repos import StaleTurn, Store
from core.types import Incoming


async def test_items_that_arrive_together_are_flushed_together_each_with_its_outcome() -> None:
    seen: list[list[int]] = []

    async def double(items: list[int]) -> list[int]:
        seen.append(list(items))
        await asyncio.sleep(0)
        return [2 * i for i in items]

    group: GroupCommit[int, int] = GroupCommit(double)
    assert await group.submit(1) == 2  # alone: flushed at once
    results = await asyncio.gather(*(group.submit(i) for i in range(10)))
    assert results == [2 * i for i in range(10)]
    assert seen[0] == [1] and len(seen) <= 3  # the ten went in one or two flushes, not ten


async def test_a_failing_group_is_tried_item_by_item_so_only_the_bad_item_fails() -> None:
    async def refuse_seven(items: list[int]) -> list[int]:
        if 7 in items:
            raise ValueError("the database refused 7")
        return items

    group: GroupCommit[int, int] = GroupCommit(refuse_seven)
    outcomes = await asyncio.gather(*(group.submit(i) for i in (5, 6, 7, 8)), return_exceptions=True)
    assert outcomes[:2] == [5, 6] and outcomes[3] == 8
    assert isinstance(outcomes[2], ValueError)


async def test_a_caller_cancelled_before_its_flush_takes_its_item_out() -> None:
    flushed: list[int] = []
    gate = asyncio.Event()

    async def slow(items: list[int]) -> list[None]:
        await gate.wait()
        flushed.extend(items)
        return [None] * len(items)

    group: GroupCommit[int, None] = GroupCommit(slow)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)  # the first flush runs (waiting on the gate)
    second = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    second.cancel()
    gate.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    await asyncio.sleep(0.01)
    assert flushed == [1]


async def test_turns_of_many_citizens_at_once_share_transactions_and_each_gets_their_own_reply(bot) -> None:
    """Forty citizens ask at the same moment: their turns begin with one read and end in few transactions,
    and each person's log row and reply are theirs (the group's INSERT gives each turn its own row id)."""
    transactions = [0]
    event.listen(bot.engine.sync_engine, "begin", lambda _c: transactions.__setitem__(0, transactions[0] + 1))
    store: Store = bot.services.store
    for i in range(40):  # known users (a first message writes the new user alone)
        await store.touch_user("telegram", f"g{i}", f"Người {i}")
    transactions[0] = 0
    closings_before = store.closings.flushes
    replies = await asyncio.gather(*(
        bot.core.handle(Incoming(channel="telegram", user_id=f"g{i}", text="/start")) for i in range(40)))
    assert all(r for r in replies)
    assert store.closings.flushes - closings_before < 20  # 40 turns, far fewer closing transactions
    assert transactions[0] < 40  # reads and writes together: fewer transactions than turns
    async with store.sessions() as s:
        rows = (await s.execute(select(User.external_id, User.turn_seq, Interaction.turn_seq)
                                .join(Interaction, Interaction.user_id == User.id)
                                .where(User.external_id.like("g%")))).all()
    assert sorted(r[0] for r in rows) == sorted(f"g{i}" for i in range(40))  # one log row each, their own
    assert all(user_seq == log_seq == 1 for _ext, user_seq, log_seq in rows)


async def test_two_turns_of_one_person_in_one_group_run_one_after_the_other(bot) -> None:
    """Outside the inbox (the terminal, tests) one person's turns may run at once: in the same group the
    second is stale, and the core runs it again on the state the first left."""
    store: Store = bot.services.store
    await store.touch_user("telegram", "same", "An")
    before = (await store.find_user("telegram", "same")).turn_seq
    await asyncio.gather(*(bot.core.handle(Incoming(channel="telegram", user_id="same", text="/start"))
                           for _ in range(3)))
    assert (await store.find_user("telegram", "same")).turn_seq == before + 3


async def test_a_stale_turn_in_a_group_writes_nothing(bot) -> None:
    store: Store = bot.services.store
    user, _state = await store.begin_turn("telegram", "st", "Bình")
    twin, _ = await store.begin_turn("telegram", "st", "Bình")  # the same person's turn, read at the same time
    outcomes = await asyncio.gather(store.finish_turn(user, log={"user_id": user.id, "channel": "telegram",
                                                                 "kind": "text", "text": "một"}),
                                    store.finish_turn(twin, log={"user_id": twin.id, "channel": "telegram",
                                                                 "kind": "text", "text": "hai"}),
                                    return_exceptions=True)
    assert outcomes[0] is None and isinstance(outcomes[1], StaleTurn)
    async with store.sessions() as s:
        texts = list((await s.execute(select(Interaction.text).where(Interaction.user_id == user.id))).scalars())
    assert texts == ["một"]


async def test_people_writing_for_the_first_time_together_get_their_own_rows(bot) -> None:
    store: Store = bot.services.store
    before = store.newcomers.flushes
    await asyncio.gather(*(bot.core.handle(Incoming(channel="telegram", user_id=f"new{i}", display_name=f"Chị {i}",
                                                    text="/start")) for i in range(30)))
    assert store.newcomers.flushes - before < 15  # created together, not one transaction each
    for i in (0, 17, 29):
        user = await store.find_user("telegram", f"new{i}")
        assert user is not None and user.display_name == f"Chị {i}" and user.turn_seq == 1
