"""The FAQ engine bound to the current content pack and to what officials taught it (rebuilt when either
changes, without a restart).

It indexes the FAQ entries and the procedures catalogue (procedures.yaml) plus the learned question
variants (features/faq/learning.py); `understand()` is what the chat asks (safety, small talk, too short,
complaint, answer — see features/faq/intent.py)."""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Mapping

from core.content import ContentPack
from features.faq.intent import Interpreter, Understanding
from features.faq.learning import (
    QUESTION_MAX,
    QUESTION_MIN,
    TITLE_MAX,
    TITLE_MIN,
    TOPIC,
    VARIANT,
    Learned,
    LearnedStore,
    Refused,
    topic_id,
    variants_by_entry,
)
from features.faq.privacy import find_personal, refusal
from features.faq.procedures import procedure_doc
from vntext.engine import Decision, FaqDoc, FaqEngine
from vntext.memo import TextMemo
from vntext.normalize import fold

log = logging.getLogger(__name__)

_NOT_WORD = re.compile(r"[^\w]+")


def plain_fold(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces: for whole-phrase comparison."""
    return " ".join(_NOT_WORD.sub(" ", fold(text.lower())).split())


def _with(questions: tuple[str, ...] | list[str], extra: tuple[str, ...]) -> tuple[str, ...]:
    seen = {plain_fold(q) for q in questions}
    out = list(questions)
    for q in extra:
        if plain_fold(q) not in seen:
            seen.add(plain_fold(q))
            out.append(q)
    return tuple(out)


def faq_docs(pack: ContentPack, learned: Mapping[str, tuple[str, ...]] | None = None) -> list[FaqDoc]:
    """The pack's FAQ entries and procedures as index documents, each with its learned variants added."""
    learned = learned or {}
    docs = [
        FaqDoc(id=i.entry.id, title=i.entry.title, questions=_with(i.entry.questions, learned.get(i.entry.id, ())),
               keywords=tuple(i.entry.keywords), group=i.group.id)
        for i in pack.faq
    ]
    catalogue = pack.extras.get("procedures")
    if catalogue is not None:
        docs += [procedure_doc(p.id, p.name, p.aliases, _with(p.questions, learned.get(p.id, ())))
                 for p in catalogue.procedures]
    return docs


def entry_questions(pack: ContentPack, entry_id: str) -> list[str] | None:
    """The questions the pack stores for an FAQ entry or a procedure; None when the id is not in the pack."""
    item = pack.faq_item(entry_id)
    if item is not None:
        return list(item.entry.questions)
    catalogue = pack.extras.get("procedures")
    proc = catalogue.get(entry_id) if catalogue is not None else None
    return list(proc.questions) + [proc.name, *proc.aliases] if proc is not None else None


def clean_question(text: str) -> str:
    """The question as it will be stored: one line, single spaces; refused (with the reason) when it holds
    personal data or its length is out of bounds."""
    question = " ".join(str(text).split())
    kinds = find_personal(question)
    if kinds:
        raise Refused(refusal(kinds))
    if len(question) < QUESTION_MIN:
        raise Refused("Câu hỏi trống hoặc quá ngắn.")
    if len(question) > QUESTION_MAX:
        raise Refused(f"Câu hỏi dài quá {QUESTION_MAX} ký tự; hãy rút gọn.")
    return question


class FaqService:
    def __init__(self, pack: ContentPack, learned: LearnedStore | None = None) -> None:
        self.learned = learned
        self._lock = threading.Lock()  # the pack watcher rebuilds from a thread, learning from another
        self._variants: dict[str, tuple[str, ...]] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._refreshing = asyncio.Lock()
        self.pack = pack
        self.rebuild(pack)

    def rebuild(self, pack: ContentPack) -> None:
        """Build the index for ``pack`` with the learned variants (a pack reload calls this)."""
        with self._lock:
            self.pack = pack
            self._build()

    def _use_variants(self, variants: dict[str, tuple[str, ...]], stamp: tuple[int, int, int]) -> None:
        with self._lock:  # the index and the stamp it reflects change together (even if the poller is cancelled)
            self._variants = variants
            self._build()
            self._stamp = stamp

    def _build(self) -> None:  # under self._lock
        pack = self.pack
        engine = FaqEngine.build(faq_docs(pack, self._variants))
        smalltalk = {kind: list(getattr(pack.smalltalk, kind)) for kind in ("greeting", "thanks", "goodbye")}
        self.engine, self.interpreter = engine, Interpreter(engine, smalltalk)
        self._answers = (self.interpreter, TextMemo[Understanding]())  # swapped together: no stale answer
        log.info("FAQ index built: %d entries, %d learned variants", len(engine.docs),
                 sum(map(len, self._variants.values())))

    def understand(self, text: str) -> Understanding:
        """What ``text`` asks (features/faq/intent.py). The last questions understood are remembered until
        the index is rebuilt (vntext/memo.py: never a text with a digit or a long one); messages understood
        as personal (a complaint's own story, a safety matter) are never kept either."""
        interpreter, memo = self._answers
        known = memo.get(text)
        if known is not None:
            return known
        understood = interpreter.understand(text)
        if understood.kind not in ("safety", "complaint"):
            memo.keep(text, understood)
        return understood

    def match(self, text: str) -> Decision:
        return self.engine.match(text)

    # learning ------------------------------------------------------------------------------------------
    async def refresh_learned(self) -> bool:
        """Rebuild the index when the learned decisions changed since the last look (any process may have
        taken them); True when it was rebuilt. The build runs in a thread: the event loop keeps serving."""
        if self.learned is None:
            return False
        async with self._refreshing:  # the poller and a dashboard decision never apply an older state last
            stamp = await self.learned.stamp()  # read before the rows: a change in between is seen next time
            if stamp == self._stamp:
                return False
            rows = await self.learned.list(active_only=True)
            await asyncio.to_thread(self._use_variants, variants_by_entry(rows), stamp)
            return True

    async def follow_learned(self, interval: float) -> None:
        """Background task of every bot process: pick up what officials taught the FAQ anywhere."""
        while True:
            try:
                await self.refresh_learned()
            except Exception:  # noqa: BLE001 - a poller must not die; the bot keeps serving
                log.exception("could not refresh the learned FAQ variants")
            await asyncio.sleep(interval)

    def _store(self) -> LearnedStore:
        if self.learned is None:
            raise RuntimeError("FaqService without a LearnedStore")
        return self.learned

    async def learn_variant(self, question: str, entry_id: str, *, by: str, source: str = "") -> Learned:
        """``question`` becomes another way of asking ``entry_id`` (FAQ entry or procedure), at once."""
        question = clean_question(question)
        existing = entry_questions(self.pack, entry_id)
        if existing is None:
            raise Refused(f"Không có mục hỏi đáp hoặc thủ tục '{entry_id}' trong gói nội dung.")
        known = {plain_fold(q) for q in existing} | {
            plain_fold(q) for q in self._variants.get(entry_id, ())}
        if plain_fold(question) in known:
            raise Refused("Mục này đã có câu hỏi này.")
        row = await self._store().add(kind=VARIANT, question=question, entry_id=entry_id, by=by, source=source)
        log.info("FAQ learned #%d: a variant of %s, by %s", row.id, entry_id, by)
        await self.refresh_learned()
        return row

    async def propose_topic(self, question: str, title: str, group_id: str, *, by: str, source: str = "") -> Learned:
        """A draft new topic: stored for the pack (export), not answered until the province writes its answer."""
        question = clean_question(question)
        title = " ".join(str(title).split())
        kinds = find_personal(title)
        if kinds:
            raise Refused(refusal(kinds))
        if not TITLE_MIN <= len(title) <= TITLE_MAX:
            raise Refused(f"Tên chủ đề cần từ {TITLE_MIN} đến {TITLE_MAX} ký tự.")
        if group_id not in {g.id for g in self.pack.faq_groups}:
            raise Refused("Hãy chọn nhóm hỏi đáp cho chủ đề mới.")
        drafts = [r for r in await self._store().list(active_only=True) if r.kind == TOPIC]
        if any(plain_fold(r.title) == plain_fold(title) for r in drafts):
            raise Refused("Đã có đề xuất chủ đề cùng tên.")
        taken = {i.entry.id for i in self.pack.faq} | {r.entry_id for r in drafts}
        catalogue = self.pack.extras.get("procedures")
        if catalogue is not None:
            taken |= {p.id for p in catalogue.procedures}
        row = await self._store().add(kind=TOPIC, question=question, entry_id=topic_id(title, taken), title=title,
                                      group_id=group_id, by=by, source=source)
        log.info("FAQ learned #%d: draft topic %s in %s, by %s", row.id, row.entry_id, group_id, by)
        return row

    async def withdraw(self, learned_id: int, *, by: str) -> Learned | None:
        row = await self._store().withdraw(learned_id, by)
        if row is not None:
            log.info("FAQ learned #%d withdrawn by %s", learned_id, by)
            await self.refresh_learned()
        return row
