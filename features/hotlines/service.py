"""Hotline search from typed text: the Vietnamese-aware matcher indexes the directory's entries, so
"sdt mot cua" or "đường dây nóng sở tư pháp" find the right number (rebuilt when the pack is reloaded)."""
from __future__ import annotations

import logging
from collections.abc import Sequence

from core.content import ContentPack
from core.content.schema import Hotline
from vntext.engine import FaqDoc, FaqEngine
from vntext.memo import TextMemo
from vntext.normalize import normalize, plain_words, strip_phrases

log = logging.getLogger(__name__)

# Words that say "I want a phone number" rather than "how do I..." (matched diacritics-aware: "lien he" and
# "liên hệ" are the intent, "liền" is not).
HOTLINE_INTENT = ("đường dây nóng", "hotline", "số điện thoại", "sdt", "tổng đài", "gọi cho", "liên hệ")


def hotline_docs(pack: ContentPack) -> list[FaqDoc]:
    """Every entry, confirmed or not: asking for an agency whose number is still unconfirmed should say
    so, not answer with a different agency."""
    return [
        FaqDoc(id=e.id, title=e.agency, questions=(e.topic, e.agency), keywords=tuple(e.keywords), group=group.id)
        for group in pack.hotlines.groups
        for e in group.entries
    ]


class HotlineService:
    def __init__(self, pack: ContentPack) -> None:
        self.rebuild(pack)

    def rebuild(self, pack: ContentPack) -> None:
        self.engine = FaqEngine.build(hotline_docs(pack))
        self._hotlines = {e.id: e for g in pack.hotlines.groups for e in g.entries}
        self._found: TextMemo[tuple[Hotline, ...]] = TextMemo()  # every text is asked here first (vntext/memo.py)
        log.info("hotline index built: %d entries", sum(1 for e in self._hotlines.values() if e.phone))

    def find(self, text: str) -> Sequence[Hotline]:
        """Entries for a text that asks for a number and names who; empty otherwise (the FAQ answers).

        Only entries that contain what the question names besides "số điện thoại / đường dây nóng" are
        returned: "sdt so tu phap" gives the Department of Justice, never three other agencies."""
        memo, hotlines, engine = self._found, self._hotlines, self.engine  # (one index, even during a rebuild)
        known = memo.get(text)
        if known is not None:
            return known
        found: tuple[Hotline, ...] = ()
        asks, rest = strip_phrases(plain_words(normalize(text)), HOTLINE_INTENT)
        if asks and rest:
            _query, scored = engine.rank(" ".join(rest))  # the citizen's diacritics kept for the engine
            suggest = engine.thresholds.suggest
            ids = [engine.docs[e].id for e, score, _cov, _units, obj in scored[:3]
                   if score >= suggest and obj >= 0.999]
            found = tuple(hotlines[i] for i in ids if i in hotlines)
        memo.keep(text, found)
        return found
