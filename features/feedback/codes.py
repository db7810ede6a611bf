"""Tracking codes citizens read aloud, type on a phone, and must not be able to guess.

* Alphabet without 0/O, 1/I/L: 31 symbols (digits 2–9 and 23 letters). 31 is prime, so a weighted
  mod-31 check character catches every single-character typo and every swap of two neighbours.
* 7 random symbols from `secrets` (31**7 ≈ 2.75e10 possibilities) + 1 check = 8 characters, shown as
  "ABCD-EFGH". A look-up with a wrong check character is refused before touching the database.
* Collisions are handled by the caller (unique constraint, retry with a new code).
"""
from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
assert len(ALPHABET) == 31 and not set("01OIL") & set(ALPHABET)
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
BODY_LEN = 7
CODE_LEN = BODY_LEN + 1


def check_char(body: str) -> str:
    """Weighted sum (weights 1..n) mod 31: detects one wrong symbol and adjacent transpositions."""
    total = sum((i + 1) * _INDEX[ch] for i, ch in enumerate(body))
    return ALPHABET[total % 31]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LEN))
    return body + check_char(body)


def normalize(text: str) -> str | None:
    """Any spelling the citizen types ('abcd-efgh', ' ABCD EFGH ', 'PA-ABCDEFGH') -> 'ABCDEFGH', or None
    when it cannot be a valid code (wrong length, foreign symbol, bad check character)."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(raw) == CODE_LEN + 2 and raw.startswith("PA"):
        raw = raw[2:]
    if len(raw) != CODE_LEN or any(ch not in _INDEX for ch in raw):
        return None
    return raw if check_char(raw[:BODY_LEN]) == raw[BODY_LEN] else None


def example() -> str:
    """A code to show in prompts ("ví dụ ...") that the look-up itself accepts (right check character)."""
    return display("ABCDEFG" + check_char("ABCDEFG"))


def display(code: str) -> str:
    """'ABCDEFGH' -> 'ABCD-EFGH' (easier to read out)."""
    return f"{code[:4]}-{code[4:]}" if len(code) == CODE_LEN else code
