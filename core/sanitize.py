"""Every string that comes from outside is cleaned once, at the boundary, before anything stores or logs it.

NUL makes PostgreSQL refuse the insert (and the turn fail on every message after); other C0/C1 control
characters, zero-width and bidi override/isolate characters (U+202A–U+202E, U+2066–U+2069) can hide or
reverse text in officials' pages and logs ("Trần‮ nahK" shown reversed). Names and file names lose them;
message text keeps newlines and tabs.
"""
from __future__ import annotations

import dataclasses
import re

from core.types import Attachment, Incoming

MAX_TEXT = 4096
MAX_NAME = 256
MAX_PAYLOAD = 64
# C0 (but \t \n \r in text), DEL, C1, zero-width, LRM/RLM, bidi embeddings/overrides/isolates, BOM.
_TEXT_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_LINE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """Message text: control and invisible direction characters dropped, length capped, trimmed."""
    return _TEXT_BAD.sub("", text or "")[:limit].strip()


def clean_line(text: str, limit: int = MAX_NAME) -> str:
    """One-line values (display names, file names, phone numbers, ids): no line breaks either."""
    return " ".join(_LINE_BAD.sub(" ", text or "").split())[:limit]


def clean_token(text: str, limit: int) -> str:
    """Ids, payloads, MIME types: the bad characters simply dropped (no spaces put in their place)."""
    return _LINE_BAD.sub("", text or "").strip()[:limit]


def clean_incoming(incoming: Incoming) -> Incoming:
    """A copy of `incoming` with every string cleaned (text, name, payload, phone, attachments' names)."""
    attachments = tuple(
        dataclasses.replace(a, kind=clean_token(a.kind, 16), file_id=clean_token(a.file_id, 512),
                            file_name=clean_line(a.file_name), mime_type=clean_token(a.mime_type, 128))
        for a in incoming.attachments if isinstance(a, Attachment))
    return dataclasses.replace(
        incoming, text=clean_text(incoming.text), display_name=clean_line(incoming.display_name),
        payload=clean_token(incoming.payload, MAX_PAYLOAD), contact_phone=clean_line(incoming.contact_phone, 32),
        user_id=clean_token(incoming.user_id, 128), message_id=clean_token(incoming.message_id, 128),
        attachments=attachments)
