"""Small interfaces every channel adapter implements, and what the rest of the bot depends on.

* Typed delivery errors (:class:`DeliveryError` and subclasses) so callers never see SDK exceptions.
* :class:`Sender` / :class:`Channel` protocols.
* :func:`retry_call` – the bounded retry loop (exponential backoff with full jitter, honouring
  ``retry_after``) adapters use for ``send(..., retry=True)``.
* :func:`fallback_text` – a reply as plain text for platforms without buttons or contact cards.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from core.render import escape
from core.types import Attachment, Button, ButtonKind, Incoming, Reply

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

__all__ = [
    "Blocked",
    "Capabilities",
    "MIN_PAYLOAD_BYTES",
    "OutsideWindow",
    "QuotaExceeded",
    "Submit",
    "Channel",
    "DeliveryError",
    "Downloader",
    "FileTooLarge",
    "PermanentError",
    "RateLimited",
    "Sender",
    "TokenInvalid",
    "TransientError",
    "api_host",
    "fallback_options",
    "numbered_options",
    "fallback_text",
    "retry_call",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


class DeliveryError(Exception):
    """A message could not be delivered. Messages never contain personal data.

    ``delivered``: how many of the replies passed to ``Sender.send`` had fully arrived before the failure
    (set by adapters that know it; 0 means "none, or unknown", i.e. resend everything). The bulletin
    engine uses it to resume a multi-part issue at the first part that did not arrive.
    """

    delivered: int = 0


class Blocked(DeliveryError):
    """The user blocked the bot or is unreachable for good (deleted account, chat not found)."""


class RateLimited(DeliveryError):
    """The platform asked us to slow down; wait ``retry_after`` seconds before the next send."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        self.retry_after = float(retry_after)
        super().__init__(message or f"rate limited, retry after {self.retry_after:g}s")


class TransientError(DeliveryError):
    """Network error, timeout or 5xx: retrying later may succeed (the message may also have arrived)."""


class PermanentError(DeliveryError):
    """The request itself is wrong (bad markup, too long, invalid button...): retrying cannot help."""


class FileTooLarge(PermanentError):
    """An attachment is larger than the adapter's download limit (nothing was kept)."""


class TokenInvalid(PermanentError):
    """The channel's credentials (e.g. a Page access token) expired or were revoked: nothing can be sent
    until an operator configures a new one. Adapters report it through their readiness check too."""


class OutsideWindow(DeliveryError):
    """The platform does not let us message this user now (Zalo OA: outside the interaction window, or a
    time-of-day ban). ``retry_after``: seconds until sending may work again by the clock (e.g. the end of
    a night ban), or None when only the user's next message reopens the window: defer the message."""

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        self.retry_after = None if retry_after is None else float(retry_after)
        super().__init__(message or "outside the messaging window")


class QuotaExceeded(DeliveryError):
    """The platform's quota for this kind of message is used up (Zalo OA proactive/monthly quota)."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can show, declared by its adapter; the core renders replies to these limits.

    ``text_limit``: characters of one message (Telegram 4096, Zalo 2000, Messenger 2000);
    ``markup``: "telegram_html", "plain" or "web_html" (the emitter of ``core.render``);
    ``max_buttons``: payload buttons one message can carry (more become numbered text options);
    ``button_label_limit``: characters of a button title; ``payload_bytes``: bytes of a button payload
    (Telegram's callback_data 64); ``can_edit``: a pressed button's message can be replaced;
    ``contact_cards``: a phone number can be sent as a contact; ``request_phone``: the platform can ask
    the user to share their own verified phone number; ``shared_button_slots``: links, phone buttons
    and the contact card take ``max_buttons`` slots too (Zalo OA: past them, every button becomes text).
    """

    text_limit: int = 4096
    markup: str = "plain"
    max_buttons: int = 100
    button_label_limit: int = 64
    payload_bytes: int = 64
    can_edit: bool = False
    contact_cards: bool = False
    request_phone: bool = False
    shared_button_slots: bool = False  # link/phone buttons and the contact card count against max_buttons


# The smallest payload any channel of the product accepts (Telegram's callback_data: 1-64 bytes).
# Payloads are built by features from content ids, so `content check` enforces this limit too.
MIN_PAYLOAD_BYTES = 64

# What an adapter hands the core for every event it receives, before it acknowledges the platform:
# the core stores it durably (the inbox) and runs the turn; the replies come back through `send`.
Submit = Callable[[Incoming], Awaitable[None]]


@runtime_checkable
class Sender(Protocol):
    channel: str

    async def send(
        self, user_id: str, replies: Sequence[Reply], *, retry: bool = True, paid_broadcast: bool = False,
        reply_to: str = "",
    ) -> None:
        """Deliver ``replies`` to ``user_id`` in order.

        ``reply_to``: the ``Incoming.message_id`` these replies answer (empty for later messages): Zalo
        counts only such replies as free, Telegram answers the pressed button and edits its message.

        ``retry=True``: transient errors are retried and ``retry_after`` is honoured (bounded attempts,
        exponential backoff with jitter); whatever still fails is raised as a :class:`DeliveryError`.
        ``retry=False``: the first failure is raised immediately as a typed error (callers that pace
        themselves, like the bulletin engine, use this). Adapters that know it set the error's
        ``delivered`` (replies that fully arrived before the failure).
        ``paid_broadcast=True``: send as a paid broadcast where the platform has one (Telegram's
        ``allow_paid_broadcast``: up to 1000 messages/s for a fee); other platforms ignore it. The
        bulletin engine passes it only for channels configured for it (``delivery.paid_broadcast``).
        """
        ...


@runtime_checkable
class Channel(Sender, Protocol):
    """A channel adapter: translates platform events to ``Incoming`` (handed to a :data:`Submit`) and
    ``Reply`` lists to platform calls within its :class:`Capabilities`. Nothing else: no locks, no
    de-duplication, no Vietnamese text of its own."""

    capabilities: Capabilities

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def register_routes(self, app: web.Application) -> None: ...


@runtime_checkable
class Downloader(Protocol):
    """A channel that can fetch the bytes of an attachment a user sent (``Attachment.file_id`` is the
    platform's reference: a Telegram file id, a Zalo/Messenger URL). Raises :class:`FileTooLarge` over the
    adapter's size cap, :class:`PermanentError` (expired link, unknown id) or :class:`TransientError`
    (network, after bounded retries). Features find it with ``core.files.downloader_for``."""

    async def download(self, attachment: Attachment) -> bytes: ...


async def retry_call(
    call: Callable[[], Awaitable[T]],
    *,
    max_attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    max_retry_after: float = 60.0,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Run ``call`` (which raises only :class:`DeliveryError` subclasses) with bounded retries.

    * :class:`TransientError`: sleep ``uniform(0, min(max_delay, base_delay * 2**n))`` (full jitter).
    * :class:`RateLimited`: sleep ``retry_after`` (+ up to 10 % jitter); if it exceeds
      ``max_retry_after`` the error is raised at once.
    * :class:`Blocked` / :class:`PermanentError` / any other :class:`DeliveryError` (:class:`OutsideWindow`,
      :class:`QuotaExceeded`): raised at once.
    After ``max_attempts`` attempts the last error is raised.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except RateLimited as exc:
            if attempt >= max_attempts or exc.retry_after > max_retry_after:
                raise
            delay = exc.retry_after * (1.0 + 0.1 * rng())
        except TransientError:
            if attempt >= max_attempts:
                raise
            delay = rng() * min(max_delay, base_delay * (2 ** (attempt - 1)))
        log.debug("delivery attempt %d failed, retrying in %.2fs", attempt, delay)
        await sleep(delay)


# ---------------------------------------------------------------------------------------------
# text fallback


def api_host(base_url: str) -> str:
    """``host`` or ``host:port`` of a platform API's base URL, for an operator's message: never its path (a
    Bot API URL carries the token there) nor a ``user:password@``."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")


def fallback_options(reply: Reply) -> list[Button]:
    """The payload buttons of ``reply`` in the order :func:`fallback_text` numbers them (1-based),
    so a text-only adapter can map the user's "2" back to ``fallback_options(reply)[1].payload``."""
    return [b for row in reply.buttons for b in row if b.kind == ButtonKind.PAYLOAD and b.payload]


def numbered_options(reply: Reply, capabilities: Capabilities) -> tuple[Button, ...]:
    """The payload buttons a channel with ``capabilities`` shows ``reply``'s reader as numbered text
    options ("1. …"), in order (empty when it shows buttons): the options ``core.render.fit_reply`` makes
    (too many buttons, labels too long), all of them on a channel without buttons (``max_buttons == 0``),
    or, where links and numbers share the buttons' slots (``shared_button_slots``), all of them when they
    do not fit together. The core remembers them so a typed "2" presses the second."""
    from core.render import fit_reply

    if capabilities.max_buttons <= 0:
        return tuple(fallback_options(reply))
    fitted = fit_reply(reply, capabilities)
    if fitted.options:
        return fitted.options
    if capabilities.shared_button_slots:
        slots = sum(1 for row in fitted.buttons for b in row if b.kind != ButtonKind.REQUEST_CONTACT)
        if slots + (1 if fitted.contact is not None else 0) > capabilities.max_buttons:
            return tuple(fallback_options(fitted))
    return ()


def fallback_text(reply: Reply) -> str:
    """``reply`` as Markdown-subset text for platforms without buttons or contact cards.

    Payload buttons become numbered options ("1. label"), URL and phone buttons "label: url/phone",
    the contact card "name: phone" (and its note), a request-contact button its label; all of them shown
    literally (escaped). Render the result with ``core.render.to_plain`` (or another renderer) as usual.
    """
    options: list[str] = []
    links: list[str] = []
    n = 0
    for row in reply.buttons:
        for b in row:
            if b.kind == ButtonKind.PAYLOAD:
                if b.payload:
                    n += 1
                    options.append(f"{n}. {escape(b.label)}")
            elif b.kind == ButtonKind.URL and b.url:
                links.append(escape(f"{b.label}: {b.url}"))
            elif b.kind == ButtonKind.PHONE and (b.phone or b.url):
                links.append(escape(f"{b.label}: {b.phone or b.url}"))
            elif b.kind == ButtonKind.REQUEST_CONTACT:
                links.append(escape(b.label))
    if reply.request_contact_label and escape(reply.request_contact_label) not in links:
        links.append(escape(reply.request_contact_label))
    if reply.contact is not None:
        card = f"{reply.contact.name}: {reply.contact.phone}"
        if reply.contact.note:
            card += f" ({reply.contact.note})"
        links.append(escape(card))
    blocks = [reply.text.rstrip()] if reply.text.strip() else []
    blocks += ["\n".join(lines) for lines in (options, links) if lines]
    return "\n\n".join(blocks)
