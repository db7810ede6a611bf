"""Find the commune/ward a citizen types: with or without diacritics, old names (aliases), typos.

Every name and alias is indexed twice: lower-case with diacritics, and folded (no diacritics, đ → d),
each also without its "Xã / Phường / Đặc khu" prefix. An input equal to a name or alias *with* its
diacritics is an exact hit. An input with some diacritics goes through the diacritics-aware word match of
`vntext.normalize` (the rule of every matcher: a word typed with diacritics matches only the same word, one
typed without matches any word that folds to it): "son hạ" is only Sơn Hạ. An input without any ("son ha")
gets the folded candidates (Sơn Hà and Sơn Hạ both offered, the citizen picks).
Otherwise candidates come from rapidfuzz over the folded forms (typos).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from vntext.normalize import fold, phrase_matches, plain_words

_PREFIXES = ("dac khu ", "thi tran ", "phuong ", "xa ", "tt ", "p ", "x ")
_SPACE = re.compile(r"[^\w]+", re.UNICODE)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    return _SPACE.sub(" ", text).strip()


def _strip_prefix(folded_or_not: str) -> str:
    probe = fold(folded_or_not)
    for prefix in _PREFIXES:
        if probe.startswith(prefix) and len(probe) > len(prefix):
            return folded_or_not[len(prefix):].strip()
    return folded_or_not


@dataclass
class CommuneIndex:
    exact: dict[str, set[str]]  # lower-case with diacritics -> commune ids
    keys: list[str]  # folded variants
    owners: list[str]  # commune id for each key
    names: list[tuple[str, str]]  # (name or alias with diacritics, with and without prefix; commune id)

    @classmethod
    def build(cls, communes: list) -> CommuneIndex:  # list[core.content.schema.Commune]
        exact: dict[str, set[str]] = {}
        keys: list[str] = []
        owners: list[str] = []
        names: list[tuple[str, str]] = []
        for c in communes:
            for name in [c.name, *c.aliases]:
                n = _norm(name)
                for variant in {n, _strip_prefix(n)}:
                    exact.setdefault(variant, set()).add(c.id)
                    names.append((variant, c.id))
                    folded = fold(variant)
                    keys.append(folded)
                    owners.append(c.id)
        return cls(exact, keys, owners, names)

    def search(self, query: str, limit: int = 5, cutoff: float = 72.0) -> tuple[str | None, list[str]]:
        """(the exact commune id or None, ranked candidate ids up to `limit`)."""
        q = _norm(query)
        if not q:
            return None, []
        for variant in (q, _strip_prefix(q)):
            hit = self.exact.get(variant)
            if hit and len(hit) == 1:
                return next(iter(hit)), list(hit)
        matched: list[str] = []
        typed_marks = fold(q) != q  # typed without any diacritics: the folded candidates below, to confirm
        for words in {tuple(plain_words(q)), tuple(plain_words(_strip_prefix(q)))} if typed_marks else ():
            for name, cid in self.names:
                if cid not in matched and phrase_matches(list(words), name):
                    matched.append(cid)
        if len(matched) == 1:
            return matched[0], matched
        if matched:
            return None, matched[:limit]
        fq = fold(_strip_prefix(q))
        results = process.extract(fq, self.keys, scorer=fuzz.WRatio, limit=limit * 8, score_cutoff=cutoff)
        ranked: dict[str, float] = {}
        for _key, score, idx in results:
            cid = self.owners[idx]
            # Prefer whole-name similarity over partial hits ("son" inside every "Sơn ...").
            score = (score + fuzz.ratio(fq, self.keys[idx])) / 2
            if score > ranked.get(cid, -1):
                ranked[cid] = score
        ordered = sorted(ranked.items(), key=lambda kv: -kv[1])
        return None, [cid for cid, _ in ordered[:limit]]


_CACHE: dict[int, tuple[object, CommuneIndex]] = {}


def index_for(agencies: object) -> CommuneIndex:
    """One index per loaded pack (rebuilt when the pack is reloaded)."""
    key = id(agencies)
    cached = _CACHE.get(key)
    if cached is None or cached[0] is not agencies:
        _CACHE.clear()
        cached = (agencies, CommuneIndex.build(list(agencies.communes)))  # type: ignore[attr-defined]
        _CACHE[key] = cached
    return cached[1]
