"""What a message asks for, before and around the FAQ match.

`Interpreter.understand(text)` returns one `Understanding`:

- **safety**: the message asks for (or is being asked to hand over) an OTP, a password or a verification
  code, asks for someone else's personal data, or carries an identity-card number: a fixed safety answer;
- **smalltalk**: a greeting, thanks or goodbye (the pack's phrases, with politeness around them);
- **complaint**: a complaint told as a story, not a question: offer to file a report with the text as its
  description (FAQ suggestions ride along as `suggestions`);
- **clarify**: one or two words that name something the FAQ knows ("thủ tục?", "hồ sơ"): "Bạn muốn hỏi
  về…" with the groups (and the engine's best guesses) as buttons;
- **answer / suggest / none**: the FAQ engine's decision; `report=True` when the citizen also wants to
  report or complain ("vneid bị khóa, muốn phản ánh"): the answer plus the report button.

Pure Python like the rest of faq/: the cue patterns are data (faq/cues.yaml), the small-talk phrases come
from the content pack.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping

import yaml

from vntext.engine import FaqEngine
from vntext.normalize import _raw_tokens, fold, word_matches

__all__ = ["Understanding", "Interpreter", "Cues", "load_cues"]

CUES_PATH = Path(__file__).with_name("cues.yaml")
SHORT_WORDS = 2  # a message of at most this many words (fillers aside) is too short to answer
Kind = Literal["answer", "suggest", "none", "safety", "clarify", "smalltalk", "complaint"]
_CLAUSE_SPLIT = re.compile(r"[,.;:!?\n]+|\s(?:mà|nhưng|nhung|ma)\s", re.IGNORECASE)


@dataclass(frozen=True)
class Understanding:
    kind: Kind
    answer_id: str | None = None
    suggestions: tuple[str, ...] = ()
    report: bool = False  # offer to file a report carrying the message as its description
    smalltalk: str | None = None  # "greeting" | "thanks" | "goodbye"
    safety: str | None = None  # "credentials" | "personal"
    score: float = 0.0
    normalized: str = ""

    @property
    def label(self) -> str | None:
        """The one thing the reply asserts: an entry id, "@safety", "@smalltalk", "@complaint", "@clarify";
        None for suggestions only or "I don't know"."""
        if self.kind == "answer":
            return self.answer_id
        if self.kind in ("safety", "smalltalk", "complaint", "clarify"):
            return "@" + self.kind
        return None


@dataclass
class Cues:
    safety_credentials: list[re.Pattern[str]] = field(default_factory=list)
    safety_personal: list[re.Pattern[str]] = field(default_factory=list)
    personal_number: re.Pattern[str] | None = None
    report_wish: list[re.Pattern[str]] = field(default_factory=list)
    complaint_strong: list[re.Pattern[str]] = field(default_factory=list)
    complaint_weak: list[re.Pattern[str]] = field(default_factory=list)
    narrative: list[re.Pattern[str]] = field(default_factory=list)
    question: list[re.Pattern[str]] = field(default_factory=list)
    smalltalk_extra: frozenset[str] = frozenset()


def load_cues(path: str | Path | None = None) -> Cues:
    data = yaml.safe_load(Path(path or CUES_PATH).read_text(encoding="utf-8")) or {}

    def pats(key: str) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in data.get(key) or []]

    number = data.get("personal_number")
    return Cues(
        safety_credentials=pats("safety_credentials"), safety_personal=pats("safety_personal"),
        personal_number=re.compile(number) if number else None, report_wish=pats("report_wish"),
        complaint_strong=pats("complaint_strong"), complaint_weak=pats("complaint_weak"),
        narrative=pats("narrative"), question=pats("question"), smalltalk_extra=frozenset(fold(str(w)) for w in data.get("smalltalk_extra") or []),
    )


def _any(patterns: Iterable[re.Pattern[str]], text: str) -> bool:
    return any(p.search(text) for p in patterns)


class Interpreter:
    """Built once per content pack (with the engine); immutable and thread-safe afterwards."""

    def __init__(self, engine: FaqEngine, smalltalk: Mapping[str, Iterable[str]] | None = None,
                 cues: Cues | None = None) -> None:
        self.engine = engine
        self.cues = cues or load_cues()
        # small talk: folded phrase (tuple of raw words) -> kind; longest first when searching
        phrases: dict[tuple[str, ...], str] = {}
        for kind, items in (smalltalk or {}).items():
            for phrase in items:
                words = tuple(_raw_tokens(str(phrase)))  # with diacritics: compared by `word_matches`
                if words:
                    phrases.setdefault(words, kind)
        self._smalltalk = sorted(phrases.items(), key=lambda kv: -len(kv[0]))
        rules = engine.normalizer.lexicon.rules
        self._fillers = frozenset(k[0] for k, v in rules.items() if len(k) == 1 and not v)

    # ---------------------------------------------------------------------------------------------- parts
    def _folded(self, text: str) -> str:
        return " ".join(fold(t) for t in self.engine.normalizer.tokens(text))

    def _words(self, text: str) -> list[str]:
        """The words the citizen typed (no punctuation, no fillers), folded, before any expansion."""
        return [fold(t) for t in _raw_tokens(text) if t not in self._fillers]

    def _known_content(self, folded: str) -> int:
        e = self.engine
        return sum(1 for t in set(folded.split()) if t in e.vocab and t not in e.stop)

    def _smalltalk_kind(self, text: str) -> str | None:
        typed = _raw_tokens(text)
        words = [fold(t) for t in typed]
        if not words or len(words) > 12:
            return None
        for phrase, kind in self._smalltalk:
            n = len(phrase)
            for i in range(len(words) - n + 1):
                if all(word_matches(t, p) for t, p in zip(typed[i:i + n], phrase)):
                    rest = words[:i] + words[i + n:]
                    extra = self.cues.smalltalk_extra
                    if all(w in extra or w in self._fillers for w in rest):
                        return kind
                    # "xin chào, mình cần hỏi chút": nothing the FAQ knows besides the greeting
                    if len(rest) <= 5 and self._known_content(self._folded(" ".join(rest))) == 0:
                        return kind
                    return None
        return None

    def _safety(self, text: str, folded: str) -> str | None:
        c = self.cues
        if _any(c.safety_credentials, folded):
            return "credentials"
        if _any(c.safety_personal, folded) or (c.personal_number is not None and c.personal_number.search(text)):
            return "personal"
        return None

    def _without_complaint_clauses(self, text: str) -> str:
        """The message minus the clauses that only say "I want to complain" / "I am upset"."""
        c = self.cues
        kept = []
        for clause in _CLAUSE_SPLIT.split(text):
            folded = self._folded(clause)
            if not folded:
                continue
            if _any(c.report_wish, folded) or _any(c.complaint_strong, folded):
                stripped = folded
                for p in (*c.report_wish, *c.complaint_strong):
                    stripped = p.sub(" ", stripped)
                if self._known_content(stripped) <= 1:
                    continue
            kept.append(clause)
        return ", ".join(kept)

    # ---------------------------------------------------------------------------------------------- main
    def understand(self, text: object) -> Understanding:
        try:
            return self._understand("" if text is None else str(text))
        except Exception:  # never fail on user input
            return Understanding("none")

    def _understand(self, text: str) -> Understanding:
        folded = self._folded(text)
        normalized = self.engine.normalizer.normalize(text)
        safety = self._safety(text, folded)
        if safety:
            return Understanding("safety", safety=safety, normalized=normalized)
        social = self._smalltalk_kind(text)
        if social:
            return Understanding("smalltalk", smalltalk=social, normalized=normalized)
        if not folded:
            return Understanding("none", normalized=normalized)

        c = self.cues
        asks = _any(c.question, folded) or "?" in text
        wish = _any(c.report_wish, folded)
        strong = _any(c.complaint_strong, folded)
        weak = _any(c.complaint_weak, folded)
        if wish or strong or weak:
            rest = self._without_complaint_clauses(text)
            rest_folded = self._folded(rest)
            grievance = _any(c.complaint_strong, rest_folded) or _any(c.complaint_weak, rest_folded)
            d = self.engine.match(rest or text)
            if d.kind == "answer" and d.answer_id and (
                asks  # a question that also voices a problem: answer it, offer the report
                or (wish and not grievance)  # "vneid bị khóa, muốn phản ánh": the problem has an answer
                or (weak and not strong and not wish and not _any(c.narrative, folded))  # "hồ sơ quá hạn chưa có kết quả"
            ):
                return Understanding("answer", d.answer_id, report=True, score=d.score, normalized=normalized)
            guesses = tuple([d.answer_id] if d.answer_id else d.suggestions)
            return Understanding("complaint", suggestions=guesses, report=True, score=d.score, normalized=normalized)

        d = self.engine.match(text)
        words = self._words(text)
        if len(words) <= SHORT_WORDS and (self._known_content(folded) or all(w in self.engine.vocab for w in words)):
            guesses = tuple([d.answer_id] if d.answer_id else d.suggestions)
            return Understanding("clarify", suggestions=guesses, score=d.score, normalized=normalized)
        return Understanding(d.kind, d.answer_id, tuple(d.suggestions), score=d.score, normalized=normalized)
