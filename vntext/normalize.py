"""Vietnamese text normalisation for FAQ matching (pure Python, no platform imports).

Pipeline (``Normalizer.tokens``):

1. bound the input (at most ``MAX_INPUT_CHARS`` code points are looked at), Unicode NFC, lower case;
2. split into word tokens (letters, digits and combining marks of any script; everything else —
   punctuation, emoji, control characters, HTML/SQL symbols — is a separator);
3. per token: one tone-placement convention (the widespread "hòa / khỏe / thủy" style: in an open
   syllable ending in two vowels the tone sits on the first; "hoà", "khoẻ", "thuỷ" are mapped to it),
   at most one tone mark, stray combining marks dropped, over-long tokens dropped;
4. lexicon rewriting on whole tokens (longest match first): abbreviations / teen code ("hs", "dvc",
   "ko", "đc", "ntn" ...), common misspellings, canonical synonyms ("online" → "trực tuyến") and
   filler words ("ạ", "ơi", "nhé" ...), repeated until nothing changes;
5. at most ``MAX_TOKENS`` tokens are kept.

``normalize(text)`` joins the tokens with single spaces. It never raises, is idempotent
(``normalize(normalize(x)) == normalize(x)``) and NFC / NFD spellings give the same result.
``fold(token)`` removes every diacritic (and maps đ → d); the engine indexes both forms.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import yaml

__all__ = [
    "Lexicon",
    "Normalizer",
    "load_lexicon",
    "default_normalizer",
    "normalize",
    "tokens",
    "fold",
    "canonical_token",
    "has_diacritics",
    "toneless",
    "has_tone",
    "plain_words",
    "word_matches",
    "phrase_matches",
    "contains_phrase",
    "first_phrase",
    "count_phrases",
    "strip_phrases",
]

MAX_INPUT_CHARS = 20_000  # code points looked at (a 4096-char NFD input is well below this)
MAX_RAW_TOKENS = 256  # tokens taken from the input before lexicon rewriting
MAX_TOKENS = 200  # tokens kept after rewriting
MAX_TOKEN_CHARS = 48  # longer "words" are noise (base64, hashes, keyboard mashing)
MAX_PASSES = 4

LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền, sắc, ngã, hỏi, nặng
_VOWELS = set("aăâeêioôơuưy")
_MODIFIED = set("ăâêôơư")
_VI_BASE = set("abcdefghijklmnopqrstuvwxyzăâđêôơư0123456789")
_TOKEN_RE = re.compile(r"[^\W_]+(?:[\u0300-\u036f]+[^\W_]*)*", re.UNICODE)


def _safe_str(text: object) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    elif not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # pragma: no cover - defensive
            return ""
    # Lone surrogates cannot be encoded anywhere downstream; drop them.
    return text.encode("utf-8", "ignore").decode("utf-8", "ignore") if _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _tone_position(base: str) -> int | None:
    """Index in ``base`` (a toneless NFC syllable) where the tone mark goes; None if no vowel."""
    start = 0
    if len(base) > 2 and base[2] in _VOWELS and (base.startswith("qu") or base.startswith("gi")):
        start = 2
    n = len(base)
    i = start
    while i < n and base[i] not in _VOWELS:
        i += 1
    if i >= n:
        return None
    run = []
    while i < n and base[i] in _VOWELS:
        run.append(i)
        i += 1
    if len(run) == 1:
        return run[0]
    has_final = run[-1] < n - 1
    modified = [k for k in run if base[k] in _MODIFIED]
    if modified:
        for k in modified:
            if base[k] == "ơ":
                return k
        return modified[-1]
    if has_final:
        return run[-1]
    if len(run) == 2:
        return run[0]
    return run[1]


@lru_cache(maxsize=65536)
def canonical_token(token: str) -> str:
    """One canonical spelling of a lower-case token (NFC, one tone mark at the canonical place)."""
    decomposed = unicodedata.normalize("NFD", token)
    tone = None
    base_chars = []
    for ch in decomposed:
        if ch in _TONES:
            if tone is None:
                tone = ch
            continue
        base_chars.append(ch)
    base = unicodedata.normalize("NFC", "".join(base_chars))
    if not all(ch in _VI_BASE for ch in base):
        # Not a Vietnamese syllable: drop every combining mark (keeps the result stable).
        out = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        return unicodedata.normalize("NFC", out)
    if tone is None:
        return base
    pos = _tone_position(base)
    if pos is None:
        pos = len(base) - 1
    return unicodedata.normalize("NFC", base[: pos + 1] + tone + base[pos + 1 :])


@lru_cache(maxsize=65536)
def fold(token: str) -> str:
    """Remove all diacritics (and đ → d) from a token or text."""
    out = unicodedata.normalize("NFD", token.replace("đ", "d").replace("Đ", "D"))
    out = "".join(ch for ch in out if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", out)


def has_diacritics(token: str) -> bool:
    return fold(token) != token


# Markup and injection-looking fragments carry no question: they are cut before tokenising, so "<b>cách nộp
# hồ sơ</b>" and "... '; DROP TABLE x; --" read as the words around them.
_NOISE = re.compile(
    r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]{0,200})?\s*/?>"  # HTML / XML tags
    r"|&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,6});"  # character entities
    r"|\b(?:drop|truncate|delete|alter)\s+(?:table|database|from)\b[^;]*"  # SQL statements
    r"|\b(?:union\s+(?:all\s+)?select|select\s+\S+\s+from|insert\s+into)\b[^;]*"
    r"|'\s*(?:or|and)\s+'?\w+'?\s*=\s*'?\w+'?"  # ' OR 1=1
    r"|--+[^\n]*$",  # SQL comment to the end of the line
    re.IGNORECASE | re.MULTILINE,
)


def _raw_tokens(text: str) -> list[str]:
    text = _safe_str(text)
    if len(text) > MAX_INPUT_CHARS:
        text = text[:MAX_INPUT_CHARS]
    if "<" in text or "&" in text or "-" in text or "'" in text or ";" in text:
        text = _NOISE.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    text = unicodedata.normalize("NFC", text.lower())
    out: list[str] = []
    for m in _TOKEN_RE.finditer(text):
        tok = canonical_token(m.group(0))
        if not tok or len(tok) > MAX_TOKEN_CHARS:
            continue
        # Canonicalisation can expose separators (e.g. a stray mark); re-split defensively.
        if _TOKEN_RE.fullmatch(tok) is None:
            out.extend(t for t in _TOKEN_RE.findall(tok) if t)
        else:
            out.append(tok)
        if len(out) >= MAX_RAW_TOKENS:
            break
    return out[:MAX_RAW_TOKENS]


@dataclass
class Lexicon:
    """Token-sequence rewriting rules plus stopwords, all in canonical token form."""

    rules: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    stopwords: frozenset[str] = frozenset()
    max_key_len: int = 1

    def with_extra(self, extra: Mapping[str, str] | None) -> "Lexicon":
        if not extra:
            return self
        pairs = {" ".join(k): " ".join(v) for k, v in self.rules.items()}
        pairs.update({str(k): "" if v is None else str(v) for k, v in extra.items()})
        return _build_lexicon(pairs, self.stopwords)


def _canon_phrase(text: str) -> tuple[str, ...]:
    return tuple(_raw_tokens(text))


def _build_lexicon(pairs: Mapping[str, str], stopwords: Iterable[str]) -> Lexicon:
    rules: dict[tuple[str, ...], tuple[str, ...]] = {}
    for k, v in pairs.items():
        key = _canon_phrase(k)
        val = _canon_phrase(v) if v else ()
        if key and key != val:
            rules[key] = val
    lex = Lexicon(rules=rules, max_key_len=max((len(k) for k in rules), default=1))
    # Resolve chains (a value that contains a key) so one rewrite reaches the fixpoint.
    resolved = {}
    for k, v in rules.items():
        resolved[k] = tuple(_rewrite_fixpoint(list(v), lex))
    lex.rules = {k: v for k, v in resolved.items() if k != v}
    # Drop unstable rules (a value that still rewrites, e.g. "web" → "trang web"): they would grow text.
    while True:
        unstable = [k for k, v in lex.rules.items() if _rewrite_once(list(v), lex) != list(v)]
        if not unstable:
            break
        for k in unstable:
            del lex.rules[k]
    lex.max_key_len = max((len(k) for k in lex.rules), default=1)
    lex.stopwords = frozenset(t for s in stopwords for t in _canon_phrase(s))
    return lex


def _rewrite_once(toks: list[str], lex: Lexicon) -> list[str]:
    rules = lex.rules
    if not rules:
        return toks
    out: list[str] = []
    i = 0
    n = len(toks)
    maxk = lex.max_key_len
    while i < n:
        for k in range(min(maxk, n - i), 0, -1):
            rep = rules.get(tuple(toks[i : i + k]))
            if rep is not None:
                out.extend(rep)
                i += k
                break
        else:
            out.append(toks[i])
            i += 1
    return out


def _rewrite_fixpoint(toks: list[str], lex: Lexicon) -> list[str]:
    for _ in range(MAX_PASSES):
        new = _rewrite_once(toks, lex)
        if new == toks:
            break
        toks = new
    return toks


def load_lexicon(path: str | Path | None = None, extra: Mapping[str, str] | None = None) -> Lexicon:
    """Load ``faq/lexicon.yaml`` (or ``path``); ``extra`` adds/overrides single rewrite rules."""
    p = Path(path) if path else LEXICON_PATH
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        data = {}
    pairs: dict[str, str] = {}
    for section in ("abbreviations", "misspellings", "synonyms"):
        for k, v in (data.get(section) or {}).items():
            pairs[str(k)] = "" if v is None else str(v)
    for f in data.get("fillers") or []:
        pairs[str(f)] = ""
    if extra:
        pairs.update({str(k): "" if v is None else str(v) for k, v in extra.items()})
    return _build_lexicon(pairs, [str(s) for s in data.get("stopwords") or []])


class Normalizer:
    """Normaliser bound to one lexicon (the engine builds one with its extra lexicon)."""

    def __init__(self, lexicon: Lexicon | None = None):
        self.lexicon = lexicon if lexicon is not None else load_lexicon()

    @property
    def stopwords(self) -> frozenset[str]:
        return self.lexicon.stopwords

    def tokens(self, text: object) -> list[str]:
        try:
            toks = _raw_tokens(text)  # type: ignore[arg-type]
            toks = _rewrite_fixpoint(toks, self.lexicon)
            return toks[:MAX_TOKENS]
        except Exception:  # never raise on user input
            return []

    def normalize(self, text: object) -> str:
        return " ".join(self.tokens(text))


_DEFAULT: Normalizer | None = None


def default_normalizer() -> Normalizer:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Normalizer()
    return _DEFAULT


def tokens(text: object) -> list[str]:
    return default_normalizer().tokens(text)


def normalize(text: object) -> str:
    return default_normalizer().normalize(text)


# --- Diacritics-aware matching: THE rule for every matcher of the bot ------------------------------------
# Categories' keywords and routing rules (features/feedback/routing.py), communes and their aliases
# (features/feedback/places.py), the hotline search and the FAQ (vntext.engine: a query syllable typed with
# diacritics counts only for entries that contain that same accented syllable), small talk (features/faq/intent.py)
# all match words with `word_matches`. A word the citizen typed WITH diacritics matches only the same word
# ("đỗ" is not "đơ", "lời"/"lối" are not "lỗi"); folding applies only to words typed without any ("loi").


def plain_words(text: str) -> list[str]:
    """The words of `text` as typed (lower case, canonical tone placement, diacritics KEPT); punctuation and
    emoji dropped. No lexicon rewriting: for matching short fixed phrases and keywords."""
    return [canonical_token(t) for t in _TOKEN_RE.findall(unicodedata.normalize("NFC", _safe_str(text).lower()))]


@lru_cache(maxsize=8192)
def _phrase_words(phrase: str) -> tuple[str, ...]:
    return tuple(plain_words(phrase))


@lru_cache(maxsize=65536)
def toneless(token: str) -> str:
    """`token` without its tone mark (huyền, sắc, hỏi, ngã, nặng); vowel marks and đ kept: "mật" → "mât"."""
    out = "".join(ch for ch in unicodedata.normalize("NFD", token) if ch not in _TONES)
    return unicodedata.normalize("NFC", out)


def has_tone(token: str) -> bool:
    return toneless(token) != token


def word_matches(typed: str, word: str) -> bool:
    """Diacritics-aware equality of one typed word and one reference word: a word typed WITH a tone mark
    matches only the same word ("đỏ" is not "đơ", "lối" and "lời" are not "lỗi"); folding applies only to the
    marks the citizen left out — a word without any diacritics matches every word that folds to it ("loi"
    matches "lỗi" and "lối": the citizen did not say which), one with vowel marks but no tone (a half-typed
    Telex word, "mât") every word with those vowel marks ("mật", not "mắt")."""
    typed, word = canonical_token(typed.lower()), canonical_token(word.lower())
    if typed == word:
        return True
    if not has_diacritics(typed):
        return typed == fold(word)
    return not has_tone(typed) and typed == toneless(word)


def phrase_matches(typed_words: list[str], phrase: str) -> bool:
    """`typed_words` (see `plain_words`) are exactly `phrase`, word by word, diacritics-aware."""
    ref = _phrase_words(phrase)
    return len(ref) == len(typed_words) and all(word_matches(t, r) for t, r in zip(typed_words, ref))


def contains_phrase(typed_words: list[str], phrase: str) -> bool:
    """`phrase` occurs as consecutive words in `typed_words`, diacritics-aware (see `word_matches`)."""
    ref = _phrase_words(phrase)
    n = len(ref)
    if not n:
        return False
    return any(all(word_matches(t, r) for t, r in zip(typed_words[i:i + n], ref))
               for i in range(len(typed_words) - n + 1))


def first_phrase(typed_words: list[str], phrases: Iterable[str]) -> str:
    """The first of `phrases` (keywords) occurring in `typed_words` (see `contains_phrase`), or ''."""
    return next((p for p in phrases if contains_phrase(typed_words, p)), "")


def count_phrases(typed_words: list[str], phrases: Iterable[str]) -> int:
    """How many of `phrases` occur in `typed_words` (see `contains_phrase`)."""
    return sum(1 for p in phrases if contains_phrase(typed_words, p))


def strip_phrases(typed_words: list[str], phrases: Iterable[str]) -> tuple[bool, list[str]]:
    """(whether any of `phrases` occurs, `typed_words` without every occurrence), diacritics-aware. The words
    left keep the citizen's diacritics, so the next matcher still applies the same rule to them."""
    refs = sorted({_phrase_words(p) for p in phrases if _phrase_words(p)}, key=len, reverse=True)
    out: list[str] = []
    found = False
    i = 0
    n = len(typed_words)
    while i < n:
        for ref in refs:
            k = len(ref)
            if i + k <= n and all(word_matches(t, r) for t, r in zip(typed_words[i:i + k], ref)):
                found = True
                i += k
                break
        else:
            out.append(typed_words[i])
            i += 1
    return found, out
