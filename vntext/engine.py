"""FAQ matching engine: normalise → candidate generation (BM25, inverted index) → rescoring → decision.

Pure Python (rapidfuzz for edit distances); no bot or platform imports. See faq/README.md for how the
scores are computed and how the thresholds were calibrated.
"""
from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from .normalize import Normalizer, fold, has_diacritics, has_tone, load_lexicon, toneless

__all__ = ["FaqDoc", "Decision", "Thresholds", "FaqEngine"]


@dataclass(frozen=True)
class FaqDoc:
    id: str
    title: str
    questions: Sequence[str]
    keywords: Sequence[str]
    group: str = ""


@dataclass(frozen=True)
class Decision:
    kind: Literal["answer", "suggest", "none"]
    answer_id: str | None
    score: float
    suggestions: list[str]
    normalized: str


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds (calibrated on data, see faq/README.md)."""

    answer: float = 0.45  # top entry score needed for a direct answer
    margin: float = 0.06  # ... and its lead over the second entry
    answer_coverage: float = 0.50  # ... and the share of the question the entry explains
    min_units: int = 2  # ... and at least this many distinct content syllables of the question matched
    suggest: float = 0.30  # top score needed to offer choices
    suggest_coverage: float = 0.40  # share of the question the top entry explains, to offer choices
    n_suggestions: int = 3


# --- scoring constants (see README) -------------------------------------------------------------
BM25_K1 = 1.2
BM25_B = 0.75
STOP_FACTOR = 0.2  # weight of a stopword unigram relative to its idf
BIGRAM_FACTOR = 0.8  # bigram weight relative to its idf
BIGRAM_STOP_FACTOR = 0.35  # bigram with one stopword
BIGRAM_BOTH_STOP_FACTOR = 0.25  # bigram made of two stopwords ("ở đâu", "là gì")
UNKNOWN_BIGRAM_KNOWN_PARTS = 0.5  # unseen bigram of two known syllables: a recombination, mild penalty
FUZZY_MIN_SIM = 0.75  # OSA similarity for typo correction of an unknown syllable
FUZZY_CONTEXT_CONF = 0.85  # correction confirmed by a known bigram with a neighbour
FUZZY_BLIND_CONF = 0.5  # correction of a long token without bigram confirmation
FUZZY_BLIND_MIN_LEN = 6
SPLIT_CONF = 0.9  # "dichvucong" → "dich vu cong"
CANDIDATES = 24  # entries rescored per query
POSTING_BUDGET = 3000  # postings visited per query in candidate generation
MIN_POSTINGS = 64  # ... but at least this many (best impact) per query term
W_VARIANT = 0.45
W_DOC = 0.40
W_FUZZ = 0.15
F_BETA = 1.6  # variant F-score weighs question coverage over variant coverage
OBJECT_TERMS = 2  # the query's heaviest known content terms: what it is about ("khai tử", "hộ chiếu")
OBJECT_PENALTY = 0.15  # share of the score an entry loses when it misses all of them


@dataclass(slots=True)
class _Variant:
    total: float  # sum of the weights of its distinct folded unigrams/bigrams
    text: str  # folded text for rapidfuzz


def _accents_agree(accented: str | None, eterms: Mapping[str, int]) -> bool:
    """`vntext.normalize.word_matches` on the index: every syllable of a query term the citizen typed with a
    tone mark must occur with the same spelling in the entry ("đỗ xe" does not match an entry about "đơ"), one
    with vowel marks but no tone ("mât") with those vowel marks ("~" and "^" keys of the entry's term masks);
    syllables typed without diacritics match by their folded form."""
    if accented is None:
        return True
    return all((("~" + syl) if has_tone(syl) else ("^" + syl)) in eterms
               for syl in accented.split(" ") if has_diacritics(syl))


@dataclass
class _QTerm:
    term: str
    weight: float
    accented: str | None  # the accented spelling typed by the user (None if typed without)
    content: bool = True  # a content syllable, or a bigram with at least one content syllable


@dataclass
class _Query:
    normalized: str
    terms: list[_QTerm]
    total: float
    text: str  # folded text
    known: float  # weight of terms known to the index
    objects: list[_QTerm] = field(default_factory=list)  # the heaviest content terms (see OBJECT_TERMS)
    syllables: int = 0  # distinct content syllables known to the index


def _bigrams(toks: Sequence[str]) -> list[str]:
    return [f"{a} {b}" for a, b in zip(toks, toks[1:])]


class FaqEngine:
    def __init__(self) -> None:  # use FaqEngine.build
        self.docs: list[FaqDoc] = []
        self.thresholds = Thresholds()
        self.normalizer = Normalizer()
        self.stop: frozenset[str] = frozenset()
        self.n = 0
        self.idf: dict[str, float] = {}
        self.idf_unknown = 1.0
        self.weight: dict[str, float] = {}  # term → weight of an indexed term
        self.postings: dict[str, tuple[array, array]] = {}  # term → (entries, BM25 impacts), best first
        self.variants: list[_Variant] = []
        self.entry_variants: list[range] = []
        # per entry: folded term → bitmask of the entry's variants containing it; "~"+accented syllable → 0
        self.entry_terms: list[dict[str, int]] = []
        self.vocab: frozenset[str] = frozenset()
        self.vocab_by_len: dict[int, list[str]] = {}
        self.max_vocab_len = 1

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        docs: Sequence[FaqDoc],
        *,
        extra_lexicon: Mapping[str, str] | None = None,
        thresholds: Thresholds | None = None,
    ) -> "FaqEngine":
        self = cls()
        self.docs = list(docs)
        self.thresholds = thresholds or Thresholds()
        self.normalizer = Normalizer(load_lexicon(extra=extra_lexicon))
        self.stop = frozenset(fold(s) for s in self.normalizer.stopwords)
        n = self.n = len(self.docs)

        # Tokenise every text once.
        entry_texts: list[list[list[str]]] = []  # per entry: list of token lists (variants first)
        accents: list[set[str]] = []
        for d in self.docs:
            texts = []
            for t in [d.title, *(d.questions or [])]:
                toks = self.normalizer.tokens(t or "")
                if toks:
                    texts.append(toks)
            for k in d.keywords or []:
                toks = self.normalizer.tokens(k or "")
                if toks:
                    texts.append(toks)
            entry_texts.append(texts)
            accents.append({t for toks in texts for t in toks})

        # Document frequencies over entries (folded unigrams and bigrams).
        df: Counter[str] = Counter()
        entry_tf: list[Counter[str]] = []
        for texts in entry_texts:
            tf: Counter[str] = Counter()
            for toks in texts:
                f = [fold(t) for t in toks]
                tf.update(f)
                tf.update(_bigrams(f))
            entry_tf.append(tf)
            df.update(tf.keys())
        self.idf = {t: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.idf_unknown = math.log(1.0 + (n + 0.5) / 0.5)

        vocab = {t for t in df if " " not in t}
        self.vocab = frozenset(vocab)
        intern = {t: t for t in df}  # one string object per term across all structures
        self.weight = {t: (self._bigram_weight(t) if " " in t else self._unigram_weight(t)) for t in intern}

        # BM25 impacts per term, postings sorted by impact (best first), stored as compact arrays.
        lengths = [sum(c for t, c in tf.items() if " " not in t) for tf in entry_tf]
        avgdl = (sum(lengths) / n) if n else 1.0
        postings: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for e, tf in enumerate(entry_tf):
            norm = BM25_K1 * (1 - BM25_B + BM25_B * (lengths[e] / avgdl if avgdl else 1.0))
            for t, c in tf.items():
                postings[intern[t]].append((-self.idf[t] * c * (BM25_K1 + 1) / (c + norm), e))
        self.postings = {}
        for t, plist in postings.items():
            plist.sort()
            self.postings[t] = (array("i", [e for _, e in plist]), array("d", [-i for i, _ in plist]))
        del postings

        # Variants (title, questions and keyword phrases); entry-level term sets.
        self.variants = []
        self.entry_variants = []
        self.entry_terms = []
        for e, texts in enumerate(entry_texts):
            first = len(self.variants)
            masks: dict[str, int] = {}
            for i, toks in enumerate(texts):
                f = [fold(t) for t in toks]
                terms = set(f)
                terms.update(_bigrams(f))
                bit = 1 << i
                for t in terms:
                    t = intern[t]
                    masks[t] = masks.get(t, 0) | bit
                total = sum(self.weight[t] for t in terms) or 1.0
                self.variants.append(_Variant(total, " ".join(f)))
            for a in accents[e]:  # the entry's spellings, for `_accents_agree`
                masks["~" + a] = 0
                masks["^" + toneless(a)] = 0
            self.entry_variants.append(range(first, len(self.variants)))
            self.entry_terms.append(masks)
        del entry_tf, entry_texts, accents

        by_len: dict[int, list[str]] = defaultdict(list)
        for t in sorted(vocab, key=lambda x: (-df[x], x)):
            if not any(ch.isdigit() for ch in t):
                by_len[len(t)].append(t)
        self.max_vocab_len = max(by_len, default=1)
        self.vocab_by_len = {
            length: [t for k in (length - 1, length, length + 1) for t in by_len.get(k, [])]
            for length in range(1, self.max_vocab_len + 2)
        }
        return self

    # ------------------------------------------------------------------ weights
    def _unigram_weight(self, t: str) -> float:
        w = self.idf.get(t, self.idf_unknown)
        return w * STOP_FACTOR if t in self.stop else w

    def _bigram_weight(self, b: str) -> float:
        a, c = b.split(" ", 1)
        sa, sc = a in self.stop, c in self.stop
        factor = BIGRAM_BOTH_STOP_FACTOR if (sa and sc) else BIGRAM_STOP_FACTOR if (sa or sc) else BIGRAM_FACTOR
        idf = self.idf.get(b)
        if idf is None:
            idf = self.idf_unknown
            if a in self.vocab and c in self.vocab:
                factor *= UNKNOWN_BIGRAM_KNOWN_PARTS
        return idf * factor

    # ------------------------------------------------------------------ query analysis
    def _split(self, tok: str) -> list[str] | None:
        """Split a run-together token ("dichvucong") into known syllables (fewest pieces)."""
        n = len(tok)
        if n < 4 or n > 40:
            return None
        best: list[list[str] | None] = [None] * (n + 1)
        best[0] = []
        maxl = min(self.max_vocab_len, 8)
        for i in range(n):
            if best[i] is None:
                continue
            for j in range(i + 2, min(n, i + maxl) + 1):
                piece = tok[i:j]
                if piece in self.vocab:
                    cand = best[i] + [piece]  # type: ignore[operator]
                    if best[j] is None or len(cand) < len(best[j]):  # type: ignore[arg-type]
                        best[j] = cand
        res = best[n]
        if not res or len(res) < 2:
            return None
        # Every adjacent pair must be a bigram seen in the FAQ ("dich vu", "vu cong"), else it is noise.
        if all(f"{a} {b}" in self.idf for a, b in zip(res, res[1:])):
            return res
        return None

    def _correct(
        self, tok: str, left: str | None, right: str | None, context_only: bool = False
    ) -> tuple[str, float] | None:
        if len(tok) < 3 or any(ch.isdigit() for ch in tok) or len(tok) > self.max_vocab_len + 1:
            return None
        choices = self.vocab_by_len.get(len(tok))
        if not choices:
            return None
        found = process.extract(
            tok, choices, scorer=OSA.normalized_similarity, score_cutoff=FUZZY_MIN_SIM, limit=6
        )
        if not found:
            return None
        for cand, sim, _ in found:  # prefer a correction confirmed by a known bigram
            if (left and f"{left} {cand}" in self.idf) or (right and f"{cand} {right}" in self.idf):
                return cand, FUZZY_CONTEXT_CONF * sim
        if len(tok) >= FUZZY_BLIND_MIN_LEN and not context_only:
            return found[0][0], FUZZY_BLIND_CONF * found[0][1]
        return None

    def _analyse(self, text: object) -> _Query:
        toks = self.normalizer.tokens(text)
        normalized = " ".join(toks)
        # (folded, accented-or-None, confidence) per syllable after splitting/correction.
        sylls: list[tuple[str, str | None, float]] = []
        for t in toks:
            f = fold(t)
            acc = t if t != f else None
            if f in self.vocab or not self.vocab:
                sylls.append((f, acc, 1.0))
                continue
            parts = self._split(f) if acc is None else None
            if parts:
                sylls.extend((p, None, SPLIT_CONF) for p in parts)
            else:
                sylls.append((f, acc, 0.0))  # unknown for now (confidence 0 marks it)
        folded = [s[0] for s in sylls]
        for i, (f, acc, conf) in enumerate(sylls):
            if conf == 0.0:
                # An accented word the index does not know is more often a real out-of-domain word
                # than a typo: it is corrected only when a known bigram with a neighbour confirms it.
                corr = self._correct(
                    f, folded[i - 1] if i > 0 else None, folded[i + 1] if i + 1 < len(folded) else None,
                    context_only=acc is not None,
                )
                if corr:
                    sylls[i] = (corr[0], None, corr[1])
                else:
                    sylls[i] = (f, acc, -1.0)  # stays unknown
        terms: list[_QTerm] = []
        seen: set[str] = set()
        total = 0.0
        known = 0.0
        for f, acc, conf in sylls:
            if f in seen:
                continue
            seen.add(f)
            w = self._unigram_weight(f)
            total += w
            if conf > 0:
                known += w * conf
                terms.append(_QTerm(f, w * conf, acc, f not in self.stop))
        for (f1, a1, c1), (f2, a2, c2) in zip(sylls, sylls[1:]):
            b = f"{f1} {f2}"
            if b in seen:
                continue
            seen.add(b)
            w = self._bigram_weight(b)
            total += w
            conf = min(c1, c2)
            if conf > 0 and b in self.idf:
                known += w * conf
                terms.append(_QTerm(b, w * conf, f"{a1 or f1} {a2 or f2}" if (a1 or a2) else None,
                                    not (f1 in self.stop and f2 in self.stop)))
        content = [t for t in terms if t.content and (" " in t.term or t.term not in self.stop)]
        objects = sorted(content, key=lambda t: -t.weight)[:OBJECT_TERMS]
        syllables = sum(1 for t in content if " " not in t.term)
        return _Query(normalized, terms, total, " ".join(s[0] for s in sylls), known, objects, syllables)

    # ------------------------------------------------------------------ scoring
    def _candidates(self, q: _Query) -> list[int]:
        """Top entries by BM25 over the query's content terms (rarest first, bounded postings)."""
        acc: dict[int, float] = {}
        get = acc.get
        budget = POSTING_BUDGET
        terms = [qt for qt in q.terms if qt.content] or q.terms
        for qt in sorted(terms, key=lambda x: -self.idf.get(x.term, 0.0)):
            plist = self.postings.get(qt.term)
            if not plist:
                continue
            ents, imps = plist
            k = len(ents)
            if k > budget:
                k = max(budget, MIN_POSTINGS)  # long lists: only their best-impact entries
            budget -= k
            w = qt.weight
            for e, imp in zip(ents[:k], imps[:k]):
                acc[e] = get(e, 0.0) + w * imp
            if budget < 0:
                budget = 0
        if not acc:
            return []
        return heapq.nlargest(CANDIDATES, acc, key=acc.__getitem__)

    def _score_entry(self, e: int, q: _Query) -> tuple[float, float, int, float]:
        """(score, doc coverage, matched content syllables, object coverage) of entry e for query q.

        Object coverage is the share of the query's heaviest content terms the entry contains: an entry
        that shares generic words ("thủ tục", "giấy tờ", "trực tuyến") but not what the question is about
        ("khai tử") loses up to OBJECT_PENALTY of its score."""
        if q.total <= 0:
            return 0.0, 0.0, 0, 0.0
        eterms = self.entry_terms[e]
        # per-term query weight, with accent agreement for this entry
        matched_doc = 0.0
        units = 0
        qw: dict[str, float] = {}
        for qt in q.terms:
            if qt.term not in eterms:
                continue
            if not _accents_agree(qt.accented, eterms):
                continue  # typed with diacritics, and this entry has only other words folding alike
            w = qt.weight
            qw[qt.term] = w
            matched_doc += w
            if qt.content and " " not in qt.term and qt.term not in self.stop:
                units += 1
        dcov = matched_doc / q.total
        if not qw:  # every shared term was typed with other diacritics: the entry shares no word
            return 0.0, 0.0, 0, 0.0
        best_f = 0.0
        b2 = F_BETA * F_BETA
        weight = self.weight
        variants = self.variants
        vr = self.entry_variants[e]
        if qw:
            nv = len(vr)
            mq = [0.0] * nv
            mv = [0.0] * nv
            for t, w in qw.items():
                mask = eterms[t]
                wt = weight[t]
                while mask:
                    low = mask & -mask
                    i = low.bit_length() - 1
                    mq[i] += w
                    mv[i] += wt
                    mask ^= low
            first = vr.start
            for i in range(nv):
                if mq[i] > 0:
                    r = mq[i] / q.total
                    p = mv[i] / variants[first + i].total
                    f = (1 + b2) * p * r / (b2 * p + r)
                    if f > best_f:
                        best_f = f
        best_fz = 0.0
        if q.text and len(vr):
            hit = process.extractOne(q.text, [variants[vi].text for vi in vr], scorer=fuzz.token_sort_ratio)
            if hit:
                best_fz = hit[1] / 100.0
        score = W_VARIANT * best_f + W_DOC * dcov + W_FUZZ * best_fz
        obj_total = sum(t.weight for t in q.objects)
        obj = sum(t.weight for t in q.objects if t.term in qw) / obj_total if obj_total else 0.0
        score *= 1.0 - OBJECT_PENALTY * (1.0 - obj)
        return score, dcov, units, obj

    def rank(self, text: object) -> tuple[_Query, list[tuple[int, float, float, int, float]]]:
        """Query analysis and ranked (entry, score, coverage, syllables, object coverage), best first."""
        q = self._analyse(text)
        cands = self._candidates(q)
        scored = []
        for e in cands:
            scored.append((e, *self._score_entry(e, q)))
        scored.sort(key=lambda x: (-x[1], x[0]))
        return q, scored

    def match(self, text: str) -> Decision:
        try:
            q, scored = self.rank(text)
        except Exception:  # never fail on user input
            return Decision("none", None, 0.0, [], "")
        return self._decide(q, scored)

    def _decide(self, q: _Query, scored: list[tuple[int, float, float, int, float]]) -> Decision:
        th = self.thresholds
        if not scored:
            return Decision("none", None, 0.0, [], q.normalized)
        e1, s1, c1, u1, _ = scored[0]
        s2 = scored[1][1] if len(scored) > 1 else 0.0
        top = [self.docs[x[0]].id for x in scored[: th.n_suggestions]]
        score = round(s1, 4)
        if s1 >= th.answer and (s1 - s2) >= th.margin and c1 >= th.answer_coverage and u1 >= th.min_units:
            return Decision("answer", self.docs[e1].id, score, [], q.normalized)
        if s1 >= th.suggest and c1 >= th.suggest_coverage:
            return Decision("suggest", None, score, top, q.normalized)
        return Decision("none", None, score, [], q.normalized)

    def features(self, text: object) -> dict:
        """Diagnostics for calibration and debugging."""
        q, scored = self.rank(text)
        return {
            "normalized": q.normalized,
            "folded": q.text,
            "known": q.known / q.total if q.total else 0.0,
            "objects": [t.term for t in q.objects],
            "top": [(self.docs[e].id, round(s, 3), round(c, 3), u, round(o, 2)) for e, s, c, u, o in scored[:4]],
        }
