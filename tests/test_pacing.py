"""The channel pacer (core/pacing.py): what the platform sees — never more than the cap in any window,
whatever the latencies, the whole cap usable, the cap split between processes — and citizens' messages
ahead of bulletin deliveries. Correctness only: the throughput is `make bench`'s to measure."""
from __future__ import annotations

import asyncio
import random

from core.pacing import ChannelPacer
from tests.fakes.telegram_api import busiest_window


def test_the_ceiling_is_the_platform_cap_exactly_split_between_processes() -> None:
    pacer = ChannelPacer("telegram", 30.0)
    assert pacer.window_max == 30 and pacer.rate == 30.0  # Telegram's 30 a second, not 29
    pacer.set_share(2)
    assert pacer.window_max == 15 and pacer.rate == 15.0  # two processes: 15 + 15
    pacer.set_share(3)
    assert pacer.window_max == 10
    pacer.set_share(4)
    assert pacer.window_max * 4 <= 30  # 7 each: the processes together never exceed the cap
    assert ChannelPacer("zalo", 20.5).window_max == 20
    assert ChannelPacer("telegram", 1000.0).window_max == 1000
    assert ChannelPacer("telegram", 0.3, window=10.0).window_max == 3
    # an operator may still keep a margin for a platform that counts differently
    assert ChannelPacer("telegram", 30.0, window_fill=0.9).window_max == 27


async def _platform(pacers: list[ChannelPacer], requests: int, seed: int) -> list[float]:
    """Senders on every pacer; the platform stamps each request at a random moment between its send and
    its answer (the worst case for the pacer) after a random latency. Returns the stamps."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    stamps: list[float] = []
    left = [requests]

    async def one(pacer: ChannelPacer) -> None:
        await asyncio.sleep(rng.uniform(0, 0.03))  # on the way
        stamps.append(loop.time())
        await asyncio.sleep(rng.uniform(0, 0.03))  # the answer on its way back
        pacer.release()

    async def sender(pacer: ChannelPacer) -> None:
        tasks = []
        while left[0] > 0:
            left[0] -= 1
            await pacer.acquire()
            tasks.append(asyncio.create_task(one(pacer)))
        await asyncio.gather(*tasks)

    await asyncio.gather(*(sender(p) for p in pacers for _ in range(3)))
    return stamps


async def test_no_platform_window_ever_holds_more_than_the_cap() -> None:
    # 50/s with a 0.2 s window: 10 requests in any 0.2 s, whenever the platform counts them
    pacer = ChannelPacer("telegram", 50.0, window=0.2)
    stamps = await _platform([pacer], 60, seed=1)
    assert len(stamps) == 60
    assert busiest_window(stamps, 0.2) <= 10


async def test_two_processes_together_stay_under_the_cap() -> None:
    a, b = ChannelPacer("telegram", 50.0, window=0.2), ChannelPacer("telegram", 50.0, window=0.2)
    a.set_share(2)
    b.set_share(2)
    stamps = await _platform([a, b], 50, seed=2)
    assert len(stamps) == 50
    assert busiest_window(stamps, 0.2) <= 10


async def test_the_whole_cap_goes_in_one_window_and_the_next_waits_for_the_oldest_answer() -> None:
    loop = asyncio.get_running_loop()
    # a fast bucket, so only the window ceiling decides here
    pacer = ChannelPacer("telegram", 30.0, window=0.5, safety=1000.0)
    for _ in range(15):  # 30/s over 0.5 s: 15 requests, none held back
        await asyncio.wait_for(pacer.acquire(), 5)
    nxt = asyncio.create_task(pacer.acquire())
    await asyncio.sleep(0.05)
    assert not nxt.done(), "a 16th request in the same window"
    pacer.release()
    answered = loop.time()
    await asyncio.wait_for(nxt, 5)
    assert loop.time() >= answered + 0.5, "went before the oldest answer left the window"


async def test_a_citizens_message_goes_ahead_of_bulletin_deliveries_already_waiting() -> None:
    # two requests in any 0.3 s, a fast bucket: only the window decides who goes
    pacer = ChannelPacer("telegram", 2 / 0.3, window=0.3, safety=1000.0)
    assert pacer.window_max == 2
    await pacer.acquire()
    await pacer.acquire()
    bulletin = [asyncio.create_task(pacer.acquire()) for _ in range(3)]  # deliveries waiting for room
    await asyncio.sleep(0.02)
    pacer.release()  # room for one request, 0.3 s after this answer
    await asyncio.sleep(0.1)
    citizen = asyncio.create_task(pacer.acquire(priority=True))  # comes later than the deliveries
    await asyncio.wait_for(citizen, 5)
    await asyncio.sleep(0.4)
    assert not any(t.done() for t in bulletin), "a bulletin delivery took the citizen's place"
    pacer.release()  # the next room goes to the deliveries
    await asyncio.wait_for(asyncio.wait(bulletin, return_when=asyncio.FIRST_COMPLETED), 5)
    assert sum(t.done() for t in bulletin) == 1
    for t in bulletin:
        t.cancel()
    await asyncio.gather(*bulletin, return_exceptions=True)
