"""The FAQ engine bound to the current content pack (rebuilt when the pack is reloaded).

It indexes the FAQ entries and the procedures catalogue (procedures.yaml); `understand()` is what the chat
asks (safety, small talk, too short, complaint, answer — see features/faq/intent.py)."""
from __future__ import annotations

import logging
import re

from core.content import ContentPack
from features.faq.intent import Interpreter, Understanding
from features.faq.procedures import procedure_doc
from vntext.engine import Decision, FaqDoc, FaqEngine
from vntext.normalize import fold

log = logging.getLogger(__name__)

_NOT_WORD = re.compile(r"[^\w]+")


def plain_fold(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces: for whole-phrase comparison."""
    return " ".join(_NOT_WORD.sub(" ", fold(text.lower())).split())


def faq_docs(pack: ContentPack) -> list[FaqDoc]:
    docs = [
        FaqDoc(id=i.entry.id, title=i.entry.title, questions=tuple(i.entry.questions),
               keywords=tuple(i.entry.keywords), group=i.group.id)
        for i in pack.faq
    ]
    catalogue = pack.extras.get("procedures")
    if catalogue is not None:
        docs += [procedure_doc(p.id, p.name, p.aliases, p.questions) for p in catalogue.procedures]
    return docs


class FaqService:
    def __init__(self, pack: ContentPack) -> None:
        self.rebuild(pack)

    def rebuild(self, pack: ContentPack) -> None:
        engine = FaqEngine.build(faq_docs(pack))
        smalltalk = {kind: list(getattr(pack.smalltalk, kind)) for kind in ("greeting", "thanks", "goodbye")}
        self.engine, self.interpreter = engine, Interpreter(engine, smalltalk)
        log.info("FAQ index built: %d entries", len(engine.docs))

    def understand(self, text: str) -> Understanding:
        return self.interpreter.understand(text)

    def match(self, text: str) -> Decision:
        return self.engine.match(text)
