"""Platform-free message types: what every channel adapter translates to and from.

Handlers see only `Incoming` and return a list of `Reply`; adapters render replies with what their
platform can do and fall back to text (numbered options) where it cannot.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ButtonKind(str, Enum):
    PAYLOAD = "payload"  # pressing sends `payload` back as Incoming.payload
    URL = "url"  # opens a link
    PHONE = "phone"  # calls a number (rendered as a link or contact where calling is impossible)
    REQUEST_CONTACT = "request_contact"  # asks the platform to share the user's phone number


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str = ""  # short versioned payload, e.g. "m:faq" or "fb:cat:3"; <= 64 bytes
    kind: ButtonKind = ButtonKind.PAYLOAD
    url: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class ContactCard:
    phone: str
    name: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # "photo", "document", "sticker", "audio", "video", "other"
    file_id: str = ""
    file_name: str = ""
    mime_type: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Incoming:
    """One normalised event from a citizen, whatever the channel."""

    channel: str  # "telegram", "console", "zalo_oa", "zalo_bot", "web"
    user_id: str  # the platform's id for the user (string on every platform)
    display_name: str = ""
    text: str = ""  # message text; commands keep their leading "/"
    payload: str = ""  # button payload when a button was pressed
    contact_phone: str = ""  # a shared contact's phone (the user's own when requested)
    location: Location | None = None
    attachments: tuple[Attachment, ...] = ()
    message_id: str = ""  # the platform message id (for idempotency)

    @property
    def command(self) -> str:
        """'/start@bot args' -> 'start'; '' when the text is not a command."""
        if not self.text.startswith("/"):
            return ""
        head = self.text[1:].split(maxsplit=1)[0] if len(self.text) > 1 else ""
        return head.split("@", 1)[0].lower()

    @property
    def command_args(self) -> str:
        parts = self.text.split(maxsplit=1)
        return parts[1].strip() if self.command and len(parts) > 1 else ""


@dataclass(slots=True)
class Reply:
    """What the bot says. `text` uses a small Markdown subset (see core/render.py): **bold**,
    [label](url), lines starting with "- " or "1. ", backslash escapes. Text a citizen or an official
    wrote joins it only through ``core.render.escape`` (the chat templates do it for every variable).
    """

    text: str = ""
    buttons: list[list[Button]] = field(default_factory=list)  # rows of buttons
    contact: ContactCard | None = None
    image_url: str = ""
    # Replace the message the pressed button belongs to instead of sending a new one, where possible.
    edit: bool = False
    # Keyboard asking for the user's phone (reply keyboard on Telegram); removed on the next reply.
    request_contact_label: str = ""
    # A short toast for a button press (Telegram answerCallbackQuery); ignored elsewhere.
    notice: str = ""
    # Set by ``core.render.fit`` when buttons became numbered text options: option n is options[n - 1].
    options: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A proactive message to a user outside a conversation turn (official's answer, bulletin)."""

    channel: str
    user_id: str
    replies: tuple[Reply, ...]
