"""Zalo OA webhook: signature check and event → ``Incoming`` translation (pure functions, no I/O).

Signature: header ``X-ZEvent-Signature: mac=<hex>``, hex = SHA-256 (plain, not HMAC) of
``id + raw body + timestamp + secret``. Which id (app id or OA id), which secret (the OA secret key or the
app secret) and which timestamp (the body's ``timestamp`` or the ``X-ZEvent-Timestamp`` header) differ
between sources, so :class:`~channels.zalo_oa.settings.ZaloOASettings` makes each configurable.

Conventions (documented for the core):

* button presses: an ``oa.query.show`` button sends its payload back as the citizen's text; the adapter
  sends ``"<label> (#<payload>)"`` (the citizen sees what they chose) and maps such a text back to
  ``Incoming(payload=<payload>, text="")``;
* ``follow`` → ``Incoming(payload="sys:follow")``, ``unfollow`` → ``Incoming(payload="sys:unfollow")``,
  with ``message_id`` ``"follow:<user>:<timestamp>"`` so Zalo's re-deliveries are recognised;
* ``user_submit_info`` → ``Incoming(contact_phone=<phone as 0xxxxxxxxx>)`` (the phone the citizen chose
  to share through the OA's request-info form; name and address are not kept);
* images, files, stickers, audio, video → ``Attachment(kind, file_id=<download URL>, ...)``; fetch the
  bytes with ``ZaloOAChannel.download``.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from core.types import Attachment, Incoming, Location

__all__ = [
    "CHANNEL",
    "FOLLOW_PAYLOAD",
    "UNFOLLOW_PAYLOAD",
    "decode_query",
    "encode_query",
    "mac",
    "parse_mac_header",
    "to_incoming",
]

CHANNEL = "zalo_oa"
FOLLOW_PAYLOAD = "sys:follow"
UNFOLLOW_PAYLOAD = "sys:unfollow"
QUERY_PAYLOAD_LIMIT = 1000  # Zalo: oa.query.* payload ≤ 1000 characters

# "label (#pfx:rest)" or "#pfx:rest"; payloads always have a prefix before ":" (core.router), which keeps
# a citizen's own hashtags ("#covid") plain text.
_PAYLOAD = r"(?P<payload>[A-Za-z0-9_.-]{1,16}:[^\s()#]{0,62})"
_QUERY_RE = re.compile(rf"^(?:.*?\s?\(#{_PAYLOAD}\)|#{_PAYLOAD.replace('payload', 'bare')})$", re.DOTALL)


def mac(ident: str, body: bytes, timestamp: str, secret: str) -> str:
    """The hex SHA-256 Zalo puts in ``X-ZEvent-Signature`` (after ``mac=``)."""
    return hashlib.sha256(ident.encode() + body + timestamp.encode() + secret.encode()).hexdigest()


def parse_mac_header(value: str | None) -> str:
    """``"mac=abc"`` / ``"abc"`` → ``"abc"`` (lower case); ``""`` when missing."""
    if not value:
        return ""
    value = value.strip()
    if value.lower().startswith("mac="):
        value = value[4:].strip()
    return value.lower()


def signature_ok(expected: str, given: str) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def encode_query(label: str, payload: str) -> str:
    """The text an ``oa.query.show`` button sends back: ``"label (#payload)"``, ≤ 1000 characters."""
    suffix = f" (#{payload})"
    room = QUERY_PAYLOAD_LIMIT - len(suffix)
    label = label.strip().replace("(#", "( #")
    if len(label) > room:
        label = label[: max(0, room - 1)] + "…"
    return f"{label}{suffix}" if label else f"#{payload}"


def decode_query(text: str) -> str:
    """The payload of a button's echo (``"label (#payload)"`` or ``"#payload"``), else ``""``."""
    m = _QUERY_RE.match(text.strip())
    if not m:
        return ""
    payload = m.group("payload") or m.group("bare") or ""
    return payload if len(payload.encode()) <= 64 else ""


def _phone(raw: Any) -> str:
    digits = re.sub(r"\D", "", str(raw or ""))
    if digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits if 8 <= len(digits) <= 12 else ""


def _s(value: Any) -> str:
    return "" if value is None else str(value)


_KINDS = {"image": "photo", "gif": "photo", "file": "document", "sticker": "sticker", "audio": "audio",
          "voice": "audio", "video": "video"}
_EVENT_KINDS = {"user_send_image": "photo", "user_send_gif": "photo", "user_send_file": "document",
                "user_send_sticker": "sticker", "user_send_audio": "audio", "user_send_video": "video"}


def _attachments(event_name: str, message: dict[str, Any]) -> tuple[list[Attachment], Location | None, str]:
    attachments: list[Attachment] = []
    location: Location | None = None
    link = ""
    for item in message.get("attachments") or []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type") or "")
        payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
        if kind == "location":
            coords = payload.get("coordinates") or {}
            try:
                location = Location(float(coords["latitude"]), float(coords["longitude"]))
            except (KeyError, TypeError, ValueError):
                attachments.append(Attachment("other"))
            continue
        if kind == "link":
            link = _s(payload.get("url"))
            continue
        url = _s(payload.get("url") or payload.get("thumbnail"))
        try:
            size = int(payload.get("size") or 0)
        except (TypeError, ValueError):
            size = 0
        mime = "image/gif" if kind == "gif" else "image/jpeg" if kind == "image" else _s(payload.get("type"))
        if "/" not in mime:
            mime = ""
        attachments.append(Attachment(_KINDS.get(kind, "other"), url, _s(payload.get("name")), mime, size))
    if not attachments and location is None and event_name in _EVENT_KINDS:
        attachments.append(Attachment(_EVENT_KINDS[event_name]))
    return attachments, location, link


def to_incoming(event: dict[str, Any]) -> Incoming | None:
    """Translate one webhook event, or None for events the core does not see (the OA's own messages,
    seen/received receipts, anonymous chats...)."""
    name = str(event.get("event_name") or "")
    timestamp = _s(event.get("timestamp"))
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    if name in ("follow", "unfollow"):
        follower = event.get("follower") if isinstance(event.get("follower"), dict) else {}
        user = _s(follower.get("id") or sender.get("id") or event.get("user_id_by_app"))
        if not user:
            return None
        payload = FOLLOW_PAYLOAD if name == "follow" else UNFOLLOW_PAYLOAD
        return Incoming(channel=CHANNEL, user_id=user, payload=payload, message_id=f"{name}:{user}:{timestamp}")
    user = _s(sender.get("id"))
    if not user:
        return None
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    msg_id = _s(message.get("msg_id"))
    if name == "user_submit_info":
        info = event.get("info") if isinstance(event.get("info"), dict) else {}
        phone = _phone(info.get("phone"))
        return Incoming(channel=CHANNEL, user_id=user, contact_phone=phone,
                        attachments=() if phone else (Attachment("other"),),
                        message_id=msg_id or f"info:{user}:{timestamp}")
    if not name.startswith("user_send_") or not msg_id:
        return None
    text = _s(message.get("text"))
    if name == "user_send_text":
        payload = decode_query(text)
        if payload:
            return Incoming(channel=CHANNEL, user_id=user, payload=payload, message_id=msg_id)
        return Incoming(channel=CHANNEL, user_id=user, text=text, message_id=msg_id)
    attachments, location, link = _attachments(name, message)
    if name == "user_send_link" and not text:
        text = link
    if name == "user_send_location" and location is None and not attachments:
        attachments.append(Attachment("other"))
    if not (text or attachments or location) and name not in ("user_send_text", "user_send_link"):
        attachments.append(Attachment("other"))  # business card, unknown kinds: the core says it cannot read it
    return Incoming(channel=CHANNEL, user_id=user, text=text if name != "user_send_location" else "",
                    location=location, attachments=tuple(attachments), message_id=msg_id)
