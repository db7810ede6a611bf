"""Attachments of a report belong to the bot (issue 8 §3).

* **Intake** (:func:`intake`, called by the chat flow): every photo or file a citizen sends while writing a
  report is downloaded from the channel (``core.files.downloader_for``) into the file store
  (``services.extra["files"]``), checked against the pack's limits (``attachment_max_mb``,
  ``attachment_types``: the type is recognised from the bytes, never from the name), and only then
  recorded as a row of the draft: store key (SHA-256), size, detected MIME type, cleaned original name,
  and the platform id as a mere reference. A file that cannot be saved (too large, refused type, download
  or store failure) is reported back by name (:class:`Failure`); the draft and everything else the citizen
  wrote are kept, and the count shown to them counts saved files only.
* **Access** (:func:`for_official`): an official may open an attachment exactly when they may view the
  report (``permissions.can_view``); a refusal is audited (``denied``) and logged with the official's id
  and the report id only. The dashboard route is ``dashboard/files.py``.

Logs never carry file names, platform ids (Zalo/Messenger ids are URLs that may hold access keys) or bytes.
"""
from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, or_, select

from core.channel import DeliveryError, FileTooLarge
from core.files import FileRejected, Stored, accept, downloader_for
from core.types import Attachment as SentFile  # what the channel delivered
from features.feedback.config import FeedbackSettings
from features.feedback.models import Attachment, Report
from features.feedback.permissions import Actor, can_view

log = logging.getLogger(__name__)

ACCEPTED_KINDS = frozenset({"photo", "document", "video", "audio", "voice", "animation", "other"})
DOWNLOAD_TIMEOUT = 90.0  # seconds for one attachment, whatever the adapter's own timeouts and retries
NAME_MAX = 120
# Types an official's browser shows inline on the report page; everything else is only downloaded.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


@dataclass(frozen=True)
class Failure:
    """An attachment that was not saved: ``name`` (cleaned, may be empty), ``kind`` (photo, document...),
    ``reason``: "too_large", "type" or "failed" (download or storage)."""

    name: str
    kind: str
    reason: str


@dataclass
class Intake:
    count: int  # saved attachments of the draft now
    full: bool = False  # some were not kept because the draft already has the pack's maximum
    bad: bool = False  # some were of a kind reports do not take (sticker, contact card...)
    failed: list[Failure] = field(default_factory=list)


# --- names -----------------------------------------------------------------------------------------------
def clean_name(name: str) -> str:
    """The citizen's file name, safe to store and show: NFC, no folders, no control or bidi-override
    characters, whitespace collapsed, at most NAME_MAX characters (the extension kept)."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(" " if ch in "\r\n\t" else ch for ch in text if ch in "\r\n\t" or unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split()).strip(" .")
    if len(text) > NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: NAME_MAX - len(ext) - 1] + "." + ext) if dot and 0 < len(ext) <= 10 else text[:NAME_MAX]
    return text


def chat_name(name: str) -> str:
    """A cleaned name as it may appear in a chat message (no Markdown-subset markup characters)."""
    return re.sub(r"[*\[\]`]", "", name)


# --- intake ----------------------------------------------------------------------------------------------
async def intake(service: Any, settings: FeedbackSettings, user_id: int, draft_id: str, channel: str,
                 attachments: Iterable[SentFile]) -> Intake:
    """Download, check and record the attachments of one message (see the module docstring)."""
    services = service._services
    store = services.extra.get("files")
    download = downloader_for(services, channel)
    result = Intake(count=await service.draft_attachment_count(user_id, draft_id))
    for att in attachments:
        if att.kind not in ACCEPTED_KINDS or not att.file_id:
            result.bad = True
            continue
        name = clean_name(att.file_name)
        if await _has_file_id(service, user_id, draft_id, att.file_id[:512]):
            continue  # the same message delivered or re-sent twice: keep one copy, download nothing
        if result.count >= settings.max_attachments:
            result.full = True
            continue
        if att.size and att.size > settings.attachment_max_bytes:
            result.failed.append(Failure(name, att.kind, "too_large"))
            continue
        stored = await _fetch_and_store(store, download, att, channel, settings, name, result)
        if stored is None:
            continue
        count = await _add_row(service, user_id, draft_id, channel, att, name, stored, settings.max_attachments)
        if count is None:
            result.full = True
        else:
            result.count = count
    return result


async def _fetch_and_store(store: Any, download: Any, att: SentFile, channel: str,
                           settings: FeedbackSettings, name: str, result: Intake) -> Stored | None:
    if store is None or download is None:
        log.error("feedback: cannot save attachments from %s (file store: %s, downloader: %s)",
                  channel, store is not None, download is not None)
        result.failed.append(Failure(name, att.kind, "failed"))
        return None
    try:
        data = await asyncio.wait_for(download(att), DOWNLOAD_TIMEOUT)
    except FileTooLarge:
        result.failed.append(Failure(name, att.kind, "too_large"))
        return None
    except (DeliveryError, TimeoutError) as exc:
        log.warning("feedback: attachment download from %s failed: %s", channel, type(exc).__name__)
        result.failed.append(Failure(name, att.kind, "failed"))
        return None
    except Exception as exc:  # noqa: BLE001 - an adapter bug must not lose the citizen's report
        log.error("feedback: attachment download from %s raised %s", channel, type(exc).__name__)
        result.failed.append(Failure(name, att.kind, "failed"))
        return None
    try:
        return await accept(store, data, max_bytes=settings.attachment_max_bytes,
                            allowed_types=settings.attachment_types)
    except FileRejected as exc:
        log.info("feedback: attachment from %s refused (%s)", channel, exc.reason)
        result.failed.append(Failure(name, att.kind, "too_large" if exc.reason == "too_large" else "type"))
    except OSError as exc:
        log.error("feedback: file store write failed: %s", type(exc).__name__)
        result.failed.append(Failure(name, att.kind, "failed"))
    return None


def _draft_rows(user_id: int, draft_id: str) -> tuple[Any, ...]:
    return (Attachment.user_id == user_id, Attachment.draft_id == draft_id, Attachment.report_id.is_(None))


async def _has_file_id(service: Any, user_id: int, draft_id: str, file_id: str) -> bool:
    async with service.sessions() as s:
        found = (await s.execute(select(Attachment.id).where(*_draft_rows(user_id, draft_id),
                                                             Attachment.file_id == file_id).limit(1))).first()
    return found is not None


async def _add_row(service: Any, user_id: int, draft_id: str, channel: str, att: SentFile, name: str,
                   stored: Stored, limit: int) -> int | None:
    """Record a stored file in the draft; the draft's count, or None when the maximum is reached. The same
    bytes (or platform id) twice in one draft are kept once."""
    file_id = att.file_id[:512]
    async with service.sessions.begin() as s:
        count, same = (await s.execute(
            select(func.count(), func.count(case((or_(Attachment.file_id == file_id,
                                                      Attachment.sha256 == stored.key), 1))))
            .select_from(Attachment).where(*_draft_rows(user_id, draft_id))
        )).one()
        count = int(count)
        if same:
            return count
        if count >= limit:
            return None
        s.add(Attachment(
            user_id=user_id, draft_id=draft_id, channel=channel, kind=(att.kind or "other")[:16], file_id=file_id,
            file_name=name[:256], mime_type=stored.mime_type[:128], size=stored.size, sha256=stored.key,
            created_at=service.now(),
        ))
        return count + 1


# --- access for officials ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredAttachment:
    id: int
    report_id: int
    kind: str
    file_name: str
    mime_type: str
    size: int
    sha256: str


async def for_official(service: Any, actor: Actor, report_id: int, attachment_id: int, *,
                       audit_action: str | None = None) -> StoredAttachment:
    """The attachment if ``actor`` may view its report. Raises the service's NotFound (no such report, or
    the attachment is not one of it, or it predates the file store) / Forbidden (audited and logged).
    ``audit_action``: also record this action (e.g. "download") in the report's audit trail."""
    from features.feedback.service import Forbidden, NotFound

    async with service.sessions() as s:
        report = await s.get(Report, report_id)
        if report is None:
            raise NotFound(f"report {report_id}")
        allowed = can_view(actor, report, service.receiving_agency)
        row = await s.get(Attachment, attachment_id) if allowed else None
    if not allowed:
        log.warning("feedback: official %s refused an attachment of report %s", actor.official_id, report_id)
        await service._deny(actor, report_id, "attachment")
        raise Forbidden(f"report {report_id}")
    if row is None or row.report_id != report_id or not row.sha256:
        raise NotFound(f"attachment {attachment_id}")
    if audit_action:
        async with service.sessions.begin() as s:
            s.add(service._audit(actor, report_id, audit_action, {"attachment": row.id}))
    return StoredAttachment(row.id, report_id, row.kind, row.file_name, row.mime_type, row.size, row.sha256)
