"""What a matcher understood of a text, remembered for the next time the same text comes.

Citizens ask the same few questions again and again (after a bulletin, hundreds ask the same thing in the
same words), and understanding one costs a few hundred microseconds to milliseconds of matching. A memo is
dropped with the index it was computed from (its owner makes a new one when it rebuilds).

Personal messages are never kept: any text with a digit (phones, ID numbers, tracking codes, passwords)
and long ones (stories, not repeated questions); the owner may refuse more (the FAQ: complaints).
A bounded ``OrderedDict`` rather than ``functools.lru_cache``: it must choose per text what it keeps.
"""
from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Generic, TypeVar

V = TypeVar("V")

MEMO_SIZE = 4096  # texts remembered
MEMO_MAX_CHARS = 200  # longer texts are never remembered


class TextMemo(Generic[V]):
    """``get(text)`` the value kept for ``text`` (None when unknown); ``keep(text, value)``."""

    def __init__(self, size: int = MEMO_SIZE, max_chars: int = MEMO_MAX_CHARS) -> None:
        self.size = size
        self.max_chars = max_chars
        self._kept: collections.OrderedDict[str, V] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def __iter__(self) -> Iterator[str]:
        """The texts remembered, oldest first."""
        return iter(list(self._kept))

    def get(self, text: str) -> V | None:
        value = self._kept.get(text)
        if value is not None:
            self._kept.move_to_end(text)
        return value

    def keep(self, text: str, value: V) -> None:
        """Remember ``value`` for ``text`` unless the text may be personal (a digit) or is long."""
        if len(text) > self.max_chars or any(ch.isdigit() for ch in text):
            return
        self._kept[text] = value
        if len(self._kept) > self.size:
            self._kept.popitem(last=False)
