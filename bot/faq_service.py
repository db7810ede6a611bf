"""The FAQ engine bound to the current content pack (rebuilt when the pack is reloaded).

Also serves the hotline directory search: the same Vietnamese-aware engine indexes hotline entries, so
"sdt mot cua" or "đường dây nóng sở tư pháp" find the right number.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from bot.content import ContentPack
from bot.content.schema import Hotline
from faq.engine import Decision, FaqDoc, FaqEngine
from faq.normalize import fold, normalize

log = logging.getLogger(__name__)

# Words (folded) that say "I want a phone number" rather than "how do I...".
HOTLINE_INTENT = ("duong day nong", "hotline", "so dien thoai", "sdt", "tong dai", "goi cho", "lien he")
_NOT_WORD = re.compile(r"[^\w]+")


def plain_fold(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces: for whole-phrase comparison."""
    return " ".join(_NOT_WORD.sub(" ", fold(text.lower())).split())


def faq_docs(pack: ContentPack) -> list[FaqDoc]:
    return [
        FaqDoc(id=i.entry.id, title=i.entry.title, questions=tuple(i.entry.questions),
               keywords=tuple(i.entry.keywords), group=i.group.id)
        for i in pack.faq
    ]


def hotline_docs(pack: ContentPack) -> list[FaqDoc]:
    """Every entry, confirmed or not: asking for an agency whose number is still unconfirmed should say
    so, not answer with a different agency."""
    return [
        FaqDoc(id=e.id, title=e.agency, questions=(e.topic, e.agency), keywords=tuple(e.keywords), group=group.id)
        for group in pack.hotlines.groups
        for e in group.entries
    ]


class FaqService:
    def __init__(self, pack: ContentPack) -> None:
        self.rebuild(pack)

    def rebuild(self, pack: ContentPack) -> None:
        engine = FaqEngine.build(faq_docs(pack))
        hotline_engine = FaqEngine.build(hotline_docs(pack))
        entries = {e.id: e for g in pack.hotlines.groups for e in g.entries}
        self.engine, self.hotline_engine, self._hotlines = engine, hotline_engine, entries
        self._smalltalk = {plain_fold(phrase): kind
                           for kind in ("greeting", "thanks", "goodbye")
                           for phrase in getattr(pack.smalltalk, kind)}
        log.info("FAQ index built: %d entries, %d hotlines", len(pack.faq), sum(1 for e in entries.values() if e.phone))

    def smalltalk(self, text: str) -> str | None:
        """'greeting', 'thanks' or 'goodbye' when the whole message is one of the pack's phrases."""
        return self._smalltalk.get(plain_fold(text))

    def match(self, text: str) -> Decision:
        return self.engine.match(text)

    def find_hotlines(self, text: str) -> Sequence[Hotline]:
        """Entries for a text that asks for a number and names who; empty otherwise (the FAQ answers)."""
        folded = f" {fold(normalize(text))} "
        if not any(f" {word} " in folded for word in HOTLINE_INTENT):
            return []
        decision = self.hotline_engine.match(text)
        ids = [decision.answer_id] if decision.answer_id else list(decision.suggestions)
        return [self._hotlines[i] for i in ids if i in self._hotlines]
