"""The feedback feature (phản ánh, kiến nghị): the report flow in chat, routing, tracking, officials'
dashboard pages, notifications and ratings.

* install: `services.extra["feedback"]` = FeedbackService; a background task forgets attachments of
  abandoned drafts (messages to citizens are rows of the core outbox, retried by its run loop);
* content: `content/feedback.yaml` (settings) as `pack.extras["feedback"]`, the templates and labels the
  feature renders are required so a pack missing one fails `cchc-bot content check`;
* CLI: `cchc-bot feedback ...` (bot/feedback/cli.py).
"""
from __future__ import annotations

import asyncio
from datetime import timedelta
import logging
from typing import TYPE_CHECKING

from core.content.loader import PackSpec
from core.feature import Feature, Host
from core.jobs import every
from features.feedback import chat, cli
from features.feedback.config import load_section

if TYPE_CHECKING:
    from features.feedback.service import FeedbackService

log = logging.getLogger(__name__)

TEMPLATES = (
    "feedback/start", "feedback/ask_category", "feedback/ask_commune", "feedback/commune_matches",
    "feedback/commune_none", "feedback/ask_description", "feedback/description_short",
    "feedback/description_long", "feedback/ask_attachments", "feedback/attachment_saved",
    "feedback/attachments_full", "feedback/attachment_kind", "feedback/attachment_failed", "feedback/ask_phone",
    "feedback/consent",
    "feedback/phone_invalid", "feedback/summary", "feedback/edit_which", "feedback/submitted",
    "feedback/already_submitted", "feedback/cancelled", "feedback/nothing_to_cancel", "feedback/stale",
    "feedback/hint", "feedback/routing_reason", "feedback/notify", "feedback/lookup_ask", "feedback/lookup_bad",
    "feedback/lookup_none", "feedback/lookup_show", "feedback/lookup_limited", "feedback/rate_thanks", "feedback/rate_comment_saved",
    "feedback/rate_denied", "feedback/reopened", "feedback/reopen_denied", "feedback/submit_failed",
)
LABELS = (
    "fb.cancel", "fb.skip", "fb.done", "fb.unknown_commune", "fb.retype", "fb.send", "fb.edit", "fb.anonymous",
    "fb.share_phone", "fb.back_summary", "fb.field.category", "fb.field.commune", "fb.field.description",
    "fb.field.attachments", "fb.field.phone", "fb.continue", "fb.view", "fb.reopen", "fb.my_reports",
    "fb.rate.1", "fb.rate.2", "fb.rate.3", "fb.rate.4", "fb.rate.5", "fb.new_report", "cmd.feedback",
    "cmd.lookup", "cmd.cancel",
    "fb.status.new", "fb.status.accepted", "fb.status.in_progress", "fb.status.resolved", "fb.status.closed",
    "fb.status.rejected", "fb.status.duplicate",
)


EXPIRE_EVERY_SECONDS = 300.0


def install(host: Host) -> None:
    from features.feedback.dashboard import PAGE
    from features.feedback.service import FeedbackService

    service = FeedbackService(host.services)
    host.services.extra["feedback"] = service
    host.dashboard_pages.append(PAGE)

    async def worker() -> None:
        """Drop abandoned drafts' attachments, forever (cancelled on shutdown)."""
        while True:
            try:
                jobs = host.services.extra.get("jobs")  # one process at a time expires drafts (core.jobs)
                if jobs is not None:
                    await jobs.run_once("feedback-expire-drafts", service.expire_drafts, every(timedelta(minutes=5)))
                else:
                    await service.expire_drafts()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feedback background round failed")
            await asyncio.sleep(EXPIRE_EVERY_SECONDS)

    host.background.append(worker)
    install_digest(host, service)


def install_digest(host: Host, service: FeedbackService) -> None:
    """Issue 15: the daily deadline digest per agency, by e-mail when SMTP is configured (one process
    sends it: core.jobs). See features/feedback/digest.py."""
    from features.feedback.digest import (
        SmtpConfig, build_digests, digest_names, next_digest_time, recipients_from_env, send_digests,
    )

    smtp, recipients = SmtpConfig.from_env(host.env), recipients_from_env(host.env)
    jobs = host.services.extra.get("jobs")
    if smtp is None or not recipients or jobs is None:
        return
    pack = host.services.pack
    hour = int(host.env.get("CCHC_DIGEST_HOUR", "7") or 7)

    async def digest() -> None:
        current = host.services.pack
        digests = await build_digests(host.services.store.sessions, current.config.timezone, host.services.clock())
        names = digest_names(current, service.status_label)
        sent = await send_digests(digests, recipients, smtp, names["agencies"], host.env.get("CCHC_PUBLIC_URL", ""),
                                  categories=names["categories"], communes=names["communes"],
                                  statuses=names["statuses"])
        log.info("deadline digest: %d e-mails", sent)

    async def daily() -> None:
        await jobs.periodic("feedback-deadline-digest", digest, next_digest_time(pack.config.timezone, hour), poll=60,
                            first_now=False)

    host.background.append(daily)


FEATURE = Feature(
    name="feedback", chat=chat.register,
    content=PackSpec(sections=(("feedback", "feedback.yaml", load_section),), templates=TEMPLATES, labels=LABELS),
    install=install, cli=cli.add_commands,
)
