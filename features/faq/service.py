"""The FAQ engine bound to the current content pack (rebuilt when the pack is reloaded), and the pack's
small-talk phrases."""
from __future__ import annotations

import logging
import re

from core.content import ContentPack
from vntext.engine import Decision, FaqDoc, FaqEngine
from vntext.normalize import fold

log = logging.getLogger(__name__)

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


class FaqService:
    def __init__(self, pack: ContentPack) -> None:
        self.rebuild(pack)

    def rebuild(self, pack: ContentPack) -> None:
        self.engine = FaqEngine.build(faq_docs(pack))
        self._smalltalk = {plain_fold(phrase): kind
                           for kind in ("greeting", "thanks", "goodbye")
                           for phrase in getattr(pack.smalltalk, kind)}
        log.info("FAQ index built: %d entries", len(pack.faq))

    def smalltalk(self, text: str) -> str | None:
        """'greeting', 'thanks' or 'goodbye' when the whole message is one of the pack's phrases."""
        return self._smalltalk.get(plain_fold(text))

    def match(self, text: str) -> Decision:
        return self.engine.match(text)
