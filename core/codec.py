"""`Incoming` and `Reply` to and from JSON-ready dicts, for the inbox and outbox tables.

Hand-written rather than pickle (never unpickle what a database row holds) or a serialisation library:
the types are five small frozen dataclasses, and these functions are their whole schema.
"""
from __future__ import annotations

from typing import Any

from core.types import Attachment, Button, ButtonKind, ContactCard, Incoming, Location, Reply


def incoming_to_dict(incoming: Incoming) -> dict[str, Any]:
    return {
        "channel": incoming.channel, "user_id": incoming.user_id, "display_name": incoming.display_name,
        "text": incoming.text, "payload": incoming.payload, "contact_phone": incoming.contact_phone,
        "location": [incoming.location.latitude, incoming.location.longitude] if incoming.location else None,
        "attachments": [[a.kind, a.file_id, a.file_name, a.mime_type, a.size] for a in incoming.attachments],
        "message_id": incoming.message_id,
    }


def incoming_from_dict(data: dict[str, Any]) -> Incoming:
    location = data.get("location")
    return Incoming(
        channel=data["channel"], user_id=data["user_id"], display_name=data.get("display_name", ""),
        text=data.get("text", ""), payload=data.get("payload", ""), contact_phone=data.get("contact_phone", ""),
        location=Location(float(location[0]), float(location[1])) if location else None,
        attachments=tuple(Attachment(str(a[0]), str(a[1]), str(a[2]), str(a[3]), int(a[4]))
                          for a in data.get("attachments") or ()),
        message_id=data.get("message_id", ""),
    )


def _button_to_list(b: Button) -> list[str]:
    return [b.label, b.payload, b.kind.value, b.url, b.phone]


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        out["buttons"] = [[_button_to_list(b) for b in row] for row in reply.buttons]
    if reply.contact is not None:
        out["contact"] = [reply.contact.phone, reply.contact.name, reply.contact.note]
    for name in ("image_url", "edit", "request_contact_label", "notice"):
        value = getattr(reply, name)
        if value:
            out[name] = value
    return out


def reply_from_dict(data: dict[str, Any]) -> Reply:
    contact = data.get("contact")
    return Reply(
        text=data.get("text", ""),
        buttons=[[Button(b[0], b[1], ButtonKind(b[2]), b[3], b[4]) for b in row] for row in data.get("buttons", [])],
        contact=ContactCard(contact[0], contact[1], contact[2]) if contact else None,
        image_url=data.get("image_url", ""), edit=bool(data.get("edit", False)),
        request_contact_label=data.get("request_contact_label", ""), notice=data.get("notice", ""),
    )
