"""Group commit: the writes (or reads) many tasks ask for at about the same time, done together.

Each statement costs the process CPU (SQLAlchemy's execution, the driver, a pool checkout) and a round trip;
a transaction costs a BEGIN and a COMMIT (a disk sync on SQLite). Under load — a bulletin brings thousands of
questions at once — the turns running side by side each ask for the same few statements, so doing them
together costs a fraction: the classic "group commit" of databases, applied one level up. Alone, an item is
flushed at once (no added wait); items that arrive while a flush runs go together in the next one.

Written here rather than taken from a library: what it batches are this project's own transactions (the
flush functions), and the part that is generic is the 40 lines below; the batching libraries on PyPI
(aiodataloader, asyncstdlib) either cache results per key for a request's life or batch per loop tick
without bounding the batch or running one flush at a time, which is what makes group commit work.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# flush(items) -> one outcome per item, in order: its result, or the exception that item's caller gets
Flush = Callable[[list[T]], Awaitable[Sequence["R | BaseException"]]]


class GroupCommit(Generic[T, R]):
    """``await group.submit(item)`` returns ``item``'s outcome of ``flush([... item ...])``.

    At most ``concurrency`` flushes run at once; each takes every item waiting (at most ``max_items``).
    When ``flush`` raises for several items, each is flushed again alone, so one item's failure (a value the
    database refuses) is never another's; when it raises for one item, that item's caller gets the exception. A caller cancelled before its
    item was flushed takes it out; once its flush began, the flush completes (the caller's writes land, as
    when a process stops just after a commit)."""

    def __init__(self, flush: Flush[T, R], *, max_items: int = 64, concurrency: int = 1) -> None:
        self.flush = flush
        self.max_items = max_items
        self.concurrency = concurrency
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing = 0
        self._drains: set[asyncio.Task[None]] = set()
        self.flushes = 0  # how many flushes ran (tests, diagnostics: items / flushes is the group size)

    async def submit(self, item: T) -> R:
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """``item`` joins the next flush; the future is its outcome (``asyncio.shield`` it to keep the item
        when the caller may be cancelled)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, done))
        if self._flushing < self.concurrency:
            self._flushing += 1
            task = loop.create_task(self._drain())
            self._drains.add(task)  # a reference until it ends (the loop itself keeps only a weak one)
            task.add_done_callback(self._drains.discard)
        return done

    @property
    def waiting(self) -> int:
        """Items not flushed yet."""
        return len(self._waiting)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = [(item, done) for item, done in self._waiting[:self.max_items] if not done.cancelled()]
                del self._waiting[:self.max_items]
                if not group:
                    continue
                self.flushes += 1
                try:
                    outcomes = await self._flush([item for item, _ in group])
                except asyncio.CancelledError:
                    for _item, done in group:
                        if not done.done():
                            done.cancel()
                    raise
                for (_item, done), outcome in zip(group, outcomes):
                    if done.done():
                        continue
                    if isinstance(outcome, BaseException):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            self._flushing -= 1

    async def _flush(self, items: list[T]) -> list[R | BaseException]:
        try:
            return self._checked(items, await self.flush(items))
        except Exception as exc:  # noqa: BLE001 - given to the callers, or each item tried alone
            if len(items) == 1:
                return [exc]
            log.info("group of %d failed (%s); each is tried alone", len(items), type(exc).__name__)
        outcomes: list[R | BaseException] = []
        for item in items:
            try:
                outcomes += self._checked([item], await self.flush([item]))
            except Exception as exc:  # noqa: BLE001 - this item's own failure, given to its caller
                outcomes.append(exc)
        return outcomes

    @staticmethod
    def _checked(items: list[T], outcomes: Sequence[R | BaseException]) -> list[R | BaseException]:
        if len(outcomes) != len(items):
            raise RuntimeError(f"flush gave {len(outcomes)} outcomes for {len(items)} items")
        return list(outcomes)
