"""Each channel's form of a bulletin, from the pack's jinja2 templates (``content/templates/bulletin``).

* chat channels: the Markdown subset of ``core/render.py``, split on clean boundaries into parts of at most
  4096 characters (Telegram's limit) with the unsubscribe button under the last part of EVERY issue;
* the web archive: HTML pages (autoescaped) from ``bulletin/web_*.html.j2``, sections through
  ``core.render.to_web_html``.
"""
from __future__ import annotations

import datetime as dt

from dataclasses import dataclass, field
from typing import Any

import jinja2
import markupsafe

from features.bulletin.content import bulletin_content, parse_sections
from features.bulletin.engine import api_calls  # noqa: F401  (re-exported)
from core.content.texts import install_filters
from core.render import TELEGRAM_TEXT_LIMIT, split_message, to_telegram_html, to_web_html
from core.types import Button, Reply

UNSUBSCRIBE_PAYLOAD = "bt:unsub"
ARCHIVE_PAYLOAD = "bt:list"
# Text limit per channel for one message (source text; the rendered visible text is never longer).
LIMITS = {"telegram": TELEGRAM_TEXT_LIMIT, "zalo_oa": 2000, "zalo_bot": 2000}


@dataclass
class IssueView:
    """What templates see: plain values, dates formatted the Vietnamese way (dd/mm/yyyy)."""

    number: int
    date: str
    title: str
    summary: str
    sections: list[tuple[str, str]]
    links: list[dict[str, str]]
    image_url: str = ""
    status: str = ""
    sections_html: list[tuple[str, str]] = field(default_factory=list)


def view(bulletin: Any) -> IssueView:
    date = bulletin.issue_date
    return IssueView(
        number=bulletin.number,
        date=date.strftime("%d/%m/%Y") if isinstance(date, dt.date) else str(date),
        title=bulletin.title, summary=bulletin.summary or "", sections=parse_sections(bulletin.body or ""),
        links=list(bulletin.links or []), image_url=bulletin.image_url or "", status=bulletin.status,
    )


def message_text(pack: Any, bulletin: Any) -> str:
    return pack.texts.render("bulletin/message", b=view(bulletin))


def chat_replies(pack: Any, bulletin: Any, channel: str = "telegram") -> list[Reply]:
    """The bulletin as chat replies: clean parts within the channel's limit, image first, and the
    unsubscribe button (plus "past issues") under the last part."""
    parts = split_message(message_text(pack, bulletin), LIMITS.get(channel, TELEGRAM_TEXT_LIMIT))
    replies = [Reply(text=part) for part in parts] or [Reply(text=bulletin.title)]
    if bulletin.image_url:
        replies[0].image_url = bulletin.image_url
    texts = pack.texts
    replies[-1].buttons = [[Button(texts.label("bulletin.unsubscribe"), payload=UNSUBSCRIBE_PAYLOAD),
                            Button(texts.label("bulletin.archive"), payload=ARCHIVE_PAYLOAD)]]
    return replies


def per_month(pack: Any) -> int:
    content = bulletin_content(pack)
    return len(content.settings.cadence.days) if content else 2


class WebRenderer:
    """The public archive pages (autoescaped jinja2 over the pack's templates)."""

    def __init__(self, pack: Any) -> None:
        self.pack = pack
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(pack.root / "templates")),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        )
        self.env.globals["pack"] = pack.config
        install_filters(self.env)

    def index(self, bulletins: list[Any], base: str, **page: Any) -> str:
        """``page``: what the public site adds (``site``: its links, see ``channels.web.site``)."""
        return self.env.get_template("bulletin/web_index.html.j2").render(
            issues=[view(b) for b in bulletins], base=base, per_month=per_month(self.pack), **page)

    def issue(self, bulletin: Any, base: str, **page: Any) -> str:
        v = view(bulletin)
        v.sections_html = [(title, markupsafe.Markup(to_web_html(text))) for title, text in v.sections]
        return self.env.get_template("bulletin/web_issue.html.j2").render(b=v, base=base, **page)


def preview_html(pack: Any, bulletin: Any) -> list[str]:
    """Telegram HTML of each part, for the dashboard preview."""
    return [to_telegram_html(r.text) for r in chat_replies(pack, bulletin)]


__all__ = ["ARCHIVE_PAYLOAD", "UNSUBSCRIBE_PAYLOAD", "WebRenderer", "api_calls", "chat_replies",
           "message_text", "preview_html", "view"]
