"""Personal data in what citizens typed: phone numbers, identity/insurance/tax numbers, e-mail addresses.

The one place the FAQ feature finds and masks them (the "Câu hỏi chưa trả lời" page shows questions
masked; a question an official turns into an FAQ variant is refused while it still holds one, so personal
data never reaches a learned variant, the pack or its version control).

- ``find_personal(text)`` -> the kinds found, in Vietnamese for officials ("số điện thoại", ...), with a
  masked placeholder counting as its kind (an official must rewrite the sentence, not keep "[số điện thoại]");
- ``mask_personal(text)`` -> the text with each one replaced by a placeholder such as "[số điện thoại]".

Numbers are read as runs of digits; a phone may be written in groups ("0912 345 678", "0912.345.678",
"+84 912 345 678"), an identity number is 9 digits (CMND) or 12 (CCCD), and any other run of 10 or more
digits (social insurance, tax code, account numbers) is masked too. Years, fees, dates and short codes stay.
"""
from __future__ import annotations

import re

__all__ = ["PHONE", "ID_NUMBER", "EMAIL", "find_personal", "mask_personal", "refusal"]

PHONE = "số điện thoại"
ID_NUMBER = "số giấy tờ cá nhân"  # CMND/CCCD, BHXH, mã số thuế, số tài khoản...
EMAIL = "địa chỉ email"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A Vietnamese phone: 0 or +84/84, then 8-10 more digits, optionally grouped by spaces, dots or dashes.
_PHONE = re.compile(r"(?<![\w+])(?:\+84|84|0)(?:[ .\-]?\d){8,10}(?!\d)")
# Any other long run of digits (an identity number is 9 or 12; insurance and tax codes 10 or 13).
_LONG_NUMBER = re.compile(r"(?<!\d)(?:\d{9}|\d{10,})(?!\d)")
_PLACEHOLDER = re.compile(r"\[(" + "|".join(map(re.escape, (PHONE, ID_NUMBER, EMAIL))) + r")\]")


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _phone_like(match: re.Match[str]) -> bool:
    digits = _digits(match.group(0))
    if match.group(0).startswith(("+84", "84")):
        return digits in (11, 12)
    return digits in (10, 11)


def _spans(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in found)

    for m in _EMAIL.finditer(text):
        found.append((m.start(), m.end(), EMAIL))
    for m in _PHONE.finditer(text):
        if _phone_like(m) and free(m.start(), m.end()):
            found.append((m.start(), m.end(), PHONE))
    for m in _LONG_NUMBER.finditer(text):
        if free(m.start(), m.end()):
            found.append((m.start(), m.end(), ID_NUMBER))
    return sorted(found)


def find_personal(text: str) -> list[str]:
    """The kinds of personal data in ``text`` (each once, in order of appearance); masked ones count."""
    kinds: list[str] = []
    hits = [(s, kind) for s, _, kind in _spans(text)] + [(m.start(), m.group(1)) for m in _PLACEHOLDER.finditer(text)]
    for _, kind in sorted(hits):
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def mask_personal(text: str) -> str:
    """``text`` with every phone number, long number and e-mail address replaced by "[kind]"."""
    out, last = [], 0
    for start, end, kind in _spans(text):
        out += [text[last:start], f"[{kind}]"]
        last = end
    out.append(text[last:])
    return "".join(out)


def refusal(kinds: list[str]) -> str:
    """Why a question cannot become an FAQ variant, for the official (empty when it can)."""
    if not kinds:
        return ""
    return (f"Câu hỏi có {', '.join(kinds)} của người dân. Không đưa thông tin cá nhân vào bộ hỏi đáp: "
            "hãy bỏ phần đó (kể cả phần đã che) rồi thêm lại.")
