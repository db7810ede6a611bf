"""The FAQ engine bound to the current content pack (rebuilt when the pack is reloaded).

It indexes the FAQ entries and the procedures catalogue (procedures.yaml); `understand()` is what the chat
asks (safety, small talk, too short, complaint, answer — see faq/intent.py).

Also serves the hotline directory search: the same Vietnamese-aware engine indexes hotline entries, so
"sdt mot cua" or "đường dây nóng sở tư pháp" find the right number — and only the entries that match.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.content import ContentPack
from bot.content.schema import Hotline
from faq.engine import Decision, FaqDoc, FaqEngine
from faq.intent import Interpreter, Understanding
from faq.normalize import fold, normalize
from faq.procedures import procedure_doc

log = logging.getLogger(__name__)

# Words (folded) that say "I want a phone number" rather than "how do I...".
HOTLINE_INTENT = ("duong day nong", "hotline", "so dien thoai", "sdt", "tong dai", "goi cho", "lien he")
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
        smalltalk = {kind: list(getattr(pack.smalltalk, kind)) for kind in ("greeting", "thanks", "goodbye")}
        interpreter = Interpreter(engine, smalltalk)
        self.engine, self.hotline_engine, self._hotlines = engine, hotline_engine, entries
        self.interpreter = interpreter
        log.info("FAQ index built: %d entries, %d hotlines", len(engine.docs), sum(1 for e in entries.values() if e.phone))

    def understand(self, text: str) -> Understanding:
        return self.interpreter.understand(text)

    def match(self, text: str) -> Decision:
        return self.engine.match(text)

    def find_hotlines(self, text: str) -> Sequence[Hotline]:
        """Entries for a text that asks for a number and names who; empty otherwise (the FAQ answers).

        Only entries that contain what the question names besides "số điện thoại / đường dây nóng" are
        returned: "sdt so tu phap" gives the Department of Justice, never three other agencies."""
        folded = f" {fold(normalize(text))} "
        if not any(f" {word} " in folded for word in HOTLINE_INTENT):
            return []
        who = folded
        for word in HOTLINE_INTENT:
            who = who.replace(f" {word} ", " ")
        if not who.strip():
            return []
        query, scored = self.hotline_engine.rank(who)
        suggest = self.hotline_engine.thresholds.suggest
        ids = [self.hotline_engine.docs[e].id for e, score, _cov, _units, obj in scored[:3]
               if score >= suggest and obj >= 0.999]
        return [self._hotlines[i] for i in ids if i in self._hotlines]
