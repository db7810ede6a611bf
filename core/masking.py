"""Personal numbers in free text, masked for officials who do not own the text (issue 9).

`mask_numbers(text)` hides ID numbers (CMND: 9 digits, CCCD: 12 digits, spaces/dots/dashes between groups
allowed) and phone numbers (found by `phonenumbers`, region VN, any usual format: "0912 345 678",
"+84 912.345.678", "(0255) 3822 222", foreign "+1 415 555 0123") — keeping the first and last digits, enough to
recognise a number, not to use it. Everything else is left as written. Used by the FAQ's "Câu hỏi chưa trả lời"
page and by the feedback report page and CSV export for roles that do not own the report."""
from __future__ import annotations

import re

import phonenumbers

__all__ = ["mask_numbers", "mask_digits"]

# 9 or 12 digits, optionally grouped by one space, dot or dash, not inside a longer number or a code.
_ID = re.compile(r"(?<![\w+.\-])(?:(?:\d[ .\-]?){11}|(?:\d[ .\-]?){8})\d(?![\w]|[.\-]\w)")
_MAX_CHARS = 20_000  # longer texts are masked in slices (phonenumbers works on bounded input)


def mask_digits(number: str, keep_start: int = 3, keep_end: int = 3) -> str:
    """`number` as written, its digits but the first `keep_start` and last `keep_end` replaced by '*'
    ("+84 912.345.678" → "+84 9**.***.678")."""
    total = sum(c.isdigit() for c in number)
    if total <= keep_start + keep_end:
        keep_start = keep_end = 0
    out, seen = [], 0
    for c in number:
        if c.isdigit():
            seen += 1
            if keep_start < seen <= total - keep_end:
                c = "*"
        out.append(c)
    return "".join(out)


def _mask_phones(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in phonenumbers.PhoneNumberMatcher(text, "VN", leniency=phonenumbers.Leniency.VALID,
                                                 max_tries=200):
        out.append(text[last:match.start])
        out.append(mask_digits(match.raw_string))
        last = match.end
    out.append(text[last:])
    return "".join(out)


def mask_numbers(text: str | None) -> str:
    """`text` with ID numbers and phone numbers masked (see the module docstring)."""
    if not text:
        return ""
    if len(text) > _MAX_CHARS:
        return "".join(mask_numbers(text[i:i + _MAX_CHARS]) for i in range(0, len(text), _MAX_CHARS))
    text = _mask_phones(text)
    return _ID.sub(lambda m: mask_digits(m.group(0), 0, 3), text)
