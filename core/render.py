"""The Markdown subset of reply texts: one parser, one small document model, an emitter per output.

Reply texts use a deliberately tiny Markdown subset (see ``core.types.Reply``):

* ``**bold**`` (within one line),
* ``[label](url)`` links (the label may be bold; no link inside a link),
* lines starting with ``- `` (bullets) or ``1. `` (numbered items), optionally indented,
* ``\\`` before one of ``\\ * [ ] ( ) - .`` makes that character literal (:func:`escape` adds them).

Only pack text (templates, FAQ answers, bulletins) is Markdown. Text that citizens or officials write
is passed through :func:`escape` before it joins a reply (the chat templates do it for every variable,
see ``core.content.texts``), so it always shows literally.

* :func:`parse` – text → :class:`Line` tuples (the document model: indent, list marker, inline nodes
  :class:`Text`, :class:`Bold`, :class:`Link`).
* Emitters: :func:`to_telegram_html` (Telegram ``parse_mode=HTML``: only ``<b>`` and ``<a href>``, text
  escaped with the named entities ``&lt; &gt; &amp; &quot;``), :func:`to_plain` (channels without markup:
  bold removed, links as ``label: url``), :func:`to_web_html` (web pages: paragraphs, ``ul``/``ol``,
  ``strong``, links opening in a new tab with ``rel="noopener noreferrer"``), :func:`render` by name.
* :func:`split_message` – split *source* text into parts of at most ``limit`` UTF-16 units on paragraph /
  line / (sentence) / word boundaries, never inside a link, a bold span or an escape. Render each part
  separately: every rendered part is valid on its own.
* :func:`fit` – replies to a channel's :class:`~core.channel.Capabilities` (payload size, number of
  buttons, label length).

The functions here never raise for any ``str`` input.
"""
from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Union

from core.types import Button, ButtonKind, Reply

if TYPE_CHECKING:  # pragma: no cover
    from core.channel import Capabilities

__all__ = [
    "Bold",
    "Line",
    "Link",
    "TELEGRAM_CAPTION_LIMIT",
    "TELEGRAM_TEXT_LIMIT",
    "Text",
    "escape",
    "escape_html",
    "fit",
    "fit_reply",
    "parse",
    "plain_parts",
    "render",
    "shorten",
    "split_message",
    "telegram_parts",
    "to_plain",
    "to_telegram_html",
    "to_web_html",
    "utf16_len",
    "with_lines",
]

log = logging.getLogger(__name__)

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024

# ---------------------------------------------------------------------------------------------
# the document model


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Bold:
    children: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Link:
    children: tuple[Inline, ...]
    url: str


Inline = Union[Text, Bold, Link]


@dataclass(frozen=True, slots=True)
class Line:
    """One source line: leading whitespace, list marker ("" / "-" / "<n>.") and its inline content."""

    indent: str
    marker: str
    inlines: tuple[Inline, ...]

    @property
    def blank(self) -> bool:
        return not self.marker and not self.inlines


# ---------------------------------------------------------------------------------------------
# parsing

ESCAPABLE = "\\*[]()-."
_ESC = r"\\[\\*\[\]().\-]"  # one escape pair
_LONE = r"\\(?![\\*\[\]().\-])"  # a backslash that escapes nothing is a literal backslash
# **bold**: within one line, not empty, no whitespace just inside the markers; escapes never end it.
_BOLD_RE = re.compile(rf"\*\*(?=\S)(?P<body>(?:{_ESC}|{_LONE}|[^\n\\])*?(?:{_ESC}|{_LONE}|[^\s\\]))\*\*")
# [label](url): label on one line without unescaped brackets; url without whitespace, a scheme first,
# one level of balanced parentheses allowed (Wikipedia-style URLs).
_LINK_RE = re.compile(
    rf"\[(?P<label>(?:{_ESC}|{_LONE}|[^\[\]\n\\])+)\]"
    rf"\((?P<url>[A-Za-z][A-Za-z0-9+.\-]*:(?:{_ESC}|{_LONE}|[^\s()\\]|\([^\s()\\]*\))+)\)"
)
_MARKER_RE = re.compile(r"(?P<indent>[ \t]*)(?:(?P<bullet>-)|(?P<number>\d{1,9})\.) ")
_UNESCAPE_RE = re.compile(_ESC)
_SPAN_START_RE = re.compile(r"[\\\[*]")  # a backslash, "[" or "*" (the rest of a line is plain text)


def _unescape(text: str) -> str:
    return _UNESCAPE_RE.sub(lambda m: m.group(0)[1], text)


def _scan(text: str, links: bool = True) -> Iterable[tuple[int, int, re.Match[str] | None]]:
    """(start, end, match) of every bold/link span in one line, and (start, end, None) for each escape."""
    pos = 0
    n = len(text)
    while pos < n:
        found = _SPAN_START_RE.search(text, pos)  # only these characters can start a span or an escape
        if found is None:
            return
        pos = found.start()
        ch = text[pos]
        if ch == "\\" and pos + 1 < n and text[pos + 1] in ESCAPABLE:
            yield pos, pos + 2, None
            pos += 2
            continue
        m = (_LINK_RE.match(text, pos) if links and ch == "[" else None) or (
            _BOLD_RE.match(text, pos) if ch == "*" else None)
        if m is not None:
            yield m.start(), m.end(), m
            pos = m.end()
            continue
        pos += 1


def _inlines(text: str, links: bool = True) -> tuple[Inline, ...]:
    out: list[Inline] = []
    buf: list[str] = []
    pos = 0
    for start, end, m in _scan(text, links):
        buf.append(text[pos:start])
        pos = end
        if m is None:
            buf.append(text[start + 1])
            continue
        if buf and "".join(buf):
            out.append(Text("".join(buf)))
        buf = []
        if m.re is _BOLD_RE:
            out.append(Bold(_inlines(m.group("body"), links)))
        else:
            out.append(Link(_inlines(m.group("label"), links=False), _unescape(m.group("url"))))
    buf.append(text[pos:])
    if "".join(buf):
        out.append(Text("".join(buf)))
    return tuple(out)


def parse(text: str) -> tuple[Line, ...]:
    """The document model of ``text`` (one :class:`Line` per source line)."""
    lines: list[Line] = []
    for raw in (text or "").split("\n"):
        m = _MARKER_RE.match(raw)
        if m is not None:
            marker = "-" if m.group("bullet") else m.group("number") + "."
            lines.append(Line(m.group("indent"), marker, _inlines(raw[m.end():])))
        else:
            body = raw.lstrip(" \t")
            lines.append(Line(raw[: len(raw) - len(body)], "", _inlines(body)))
    return tuple(lines)


# ---------------------------------------------------------------------------------------------
# escaping

_LINE_START_MARKER_RE = re.compile(r"^([ \t]*)(-|\d{1,9}\.)(?= )", re.MULTILINE)


def escape(text: object) -> str:
    """``text`` as Markdown-subset source that shows exactly ``text``: for what citizens and officials
    write, labels and any other literal text joining a reply."""
    s = str(text)
    s = s.replace("\\", "\\\\")
    for ch in "*[]()":
        s = s.replace(ch, "\\" + ch)
    return _LINE_START_MARKER_RE.sub(lambda m: m.group(1) + "\\" + m.group(2) if m.group(2) == "-"
                                     else m.group(1) + m.group(2)[:-1] + "\\.", s)


def _append(text: str, block: str) -> str:
    if not block:
        return text
    return (text.rstrip() + "\n\n" if text.strip() else "") + block


def with_lines(text: str, lines: Iterable[str]) -> str:
    """``text`` (Markdown subset) followed, after a blank line, by ``lines`` of literal text (escaped)."""
    return _append(text, "\n".join(escape(line) for line in lines))


# ---------------------------------------------------------------------------------------------
# emitters


def escape_html(text: str) -> str:
    """Escape ``& < > "`` with the named entities Telegram supports (no numeric entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _plain_text(nodes: Sequence[Inline]) -> str:
    return "".join(n.text if isinstance(n, Text) else _plain_text(n.children) for n in nodes)


# Schemes a link may have per output; any other link is shown as "label: url" text.
_TELEGRAM_SCHEMES = ("http://", "https://", "tg://")
_WEB_SCHEMES = ("http://", "https://", "mailto:", "tel:")


def _tg_inline(nodes: Sequence[Inline]) -> str:
    out: list[str] = []
    for n in nodes:
        if isinstance(n, Text):
            out.append(escape_html(n.text))
        elif isinstance(n, Bold):
            out.append(f"<b>{_tg_inline(n.children)}</b>")
        elif n.url.lower().startswith(_TELEGRAM_SCHEMES):
            out.append(f'<a href="{escape_html(n.url)}">{_tg_inline(n.children)}</a>')
        else:  # tel:, mailto:, javascript: ... are not clickable on Telegram: show them as text
            out.append(f"{_tg_inline(n.children)}: {escape_html(n.url)}")
    return "".join(out)


def _plain_inline(nodes: Sequence[Inline]) -> str:
    out: list[str] = []
    for n in nodes:
        if isinstance(n, Text):
            out.append(n.text)
        elif isinstance(n, Bold):
            out.append(_plain_inline(n.children))
        else:
            label = _plain_text(n.children)
            out.append(n.url if label.strip() == n.url else f"{label}: {n.url}")
    return "".join(out)


def _marker_text(line: Line) -> str:
    if not line.marker:
        return ""
    return "• " if line.marker == "-" else line.marker + " "


def _chat(text: str, inline: object) -> str:
    if not text:
        return ""
    return "\n".join(line.indent + _marker_text(line) + inline(line.inlines)  # type: ignore[operator]
                     for line in parse(text))


def to_telegram_html(text: str) -> str:
    """Render the Markdown subset as Telegram HTML (``parse_mode="HTML"``)."""
    return _chat(text, _tg_inline)


def to_plain(text: str) -> str:
    """Render the Markdown subset as plain text (bold removed, links as ``label: url``)."""
    return _chat(text, _plain_inline)


def _web_inline(nodes: Sequence[Inline]) -> str:
    out: list[str] = []
    for n in nodes:
        if isinstance(n, Text):
            out.append(html.escape(n.text))
        elif isinstance(n, Bold):
            out.append(f"<strong>{_web_inline(n.children)}</strong>")
        elif n.url.lower().startswith(_WEB_SCHEMES):
            out.append(f'<a href="{html.escape(n.url)}" rel="noopener noreferrer" target="_blank">'
                       f"{_web_inline(n.children)}</a>")
        else:
            out.append(f"{_web_inline(n.children)}: {html.escape(n.url)}")
    return "".join(out)


def to_web_html(text: str) -> str:
    """Render the Markdown subset as HTML for a web page: blank lines separate paragraphs (``<p>``, lines
    joined with ``<br>``); runs of "- " / "1. " lines become ``<ul>`` / ``<ol>``, an indented line after
    an item continues it; every text escaped."""
    out: list[str] = []
    para: list[str] = []
    items: list[list[str]] = []
    kind = ""  # "ul" / "ol" while a list is open
    start = 1

    def close() -> None:
        nonlocal kind, items, para
        if para:
            out.append("<p>" + "<br>".join(para) + "</p>")
            para = []
        if kind:
            attr = f' start="{start}"' if kind == "ol" and start != 1 else ""
            lis = "".join("<li>" + "<br>".join(item) + "</li>" for item in items)
            out.append(f"<{kind}{attr}>{lis}</{kind}>")
            kind, items = "", []

    for line in parse(text or ""):
        if line.blank:
            close()
            continue
        body = _web_inline(line.inlines)
        if line.marker:
            want = "ul" if line.marker == "-" else "ol"
            if para or kind != want:
                close()
            if not kind:
                kind = want
                start = int(line.marker[:-1]) if want == "ol" else 1
            items.append([body])
        elif kind and line.indent:
            items[-1].append(body)
        else:
            if kind:
                close()
            para.append(body)
    close()
    return "\n".join(out)


_EMITTERS = {"telegram_html": to_telegram_html, "plain": to_plain, "web_html": to_web_html}


def render(text: str, markup: str) -> str:
    """``text`` through the emitter named by a channel's ``Capabilities.markup``."""
    return _EMITTERS.get(markup, to_plain)(text)


# ---------------------------------------------------------------------------------------------
# splitting


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (what Telegram's length limits count)."""
    return len(text.encode("utf-16-le")) // 2


def _protected_spans(text: str) -> list[tuple[int, int]]:
    """Spans (start, end) inside which a split would break markup (links, bold, escapes)."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for raw in text.split("\n"):
        m = _MARKER_RE.match(raw)
        skip = m.end() if m else 0
        spans.extend((offset + skip + a, offset + skip + b) for a, b, _ in _scan(raw[skip:]))
        offset += len(raw) + 1
    return spans


def _inside(pos: int, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    for start, end in spans:
        if start < pos < end:
            return (start, end)
        if start >= pos:
            break
    return None


_MARKER_AFTER_RE = re.compile(r"\s*(?:-|\d{1,9}\.) ")


def _new_marker(text: str, cut: int) -> bool:
    """Whether cutting at ``cut`` (not at a line start) would make the next part start with a list marker."""
    return "\n" not in text[cut - 1 : cut + 1] and _MARKER_AFTER_RE.match(text, cut) is not None


def _prefix_len_for_limit(text: str, limit: int) -> int:
    """Largest n such that utf16_len(text[:n]) <= limit (fast path when all chars are BMP)."""
    if len(text) <= limit and utf16_len(text[:limit]) <= limit:
        return len(text)
    n = min(len(text), limit)
    while n > 0 and utf16_len(text[:n]) > limit:
        # every char is 1 or 2 units: shrink by the excess, at least one char
        n -= max(1, (utf16_len(text[:n]) - limit + 1) // 2)
    return max(n, 0)


# whitespace right after the end of a sentence (". ", "! ", "? ", "… ", also after a closing quote/bracket)
_SENTENCE_END_RE = re.compile(r"(?<=[.!?…][\"'”’)\]]) |(?<=[.!?…]) ")


def _rfind_sentence(text: str, end: int) -> int:
    """Index of the last whitespace ending a sentence in ``text[:end]`` (-1 when none)."""
    last = -1
    for m in _SENTENCE_END_RE.finditer(text, 0, end):
        last = m.start()
    return last


def split_message(text: str, limit: int = TELEGRAM_TEXT_LIMIT, *, sentences: bool = False) -> list[str]:
    """Split ``text`` into non-empty parts of at most ``limit`` UTF-16 units.

    Prefers paragraph breaks, then line breaks, then (with ``sentences=True``) sentence ends, then spaces;
    avoids cutting inside ``[label](url)``, ``**bold**`` and ``\\x`` escapes, and where the next part
    would start with a list marker that was not one; cuts hard only when a single word is longer than
    ``limit``. Whitespace at the cut is dropped. Returns ``[]`` for blank text. (A single character wider
    than ``limit``, i.e. an astral character with ``limit=1``, is emitted alone.)
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    text = text.strip() if text else ""
    parts: list[str] = []
    while text:
        if utf16_len(text) <= limit:
            parts.append(text)
            break
        window = _prefix_len_for_limit(text, limit)
        spans = _protected_spans(text)
        cut = 0
        # prefer a paragraph break, then a line break, then a space, in the second half of the window;
        # then any such boundary at all
        for floor in (window // 2, 1):
            for sep in ("\n\n", "\n", ". ", " ") if sentences else ("\n\n", "\n", " "):
                find = (lambda end: _rfind_sentence(text, end)) if sep == ". " else (
                    lambda end, sep=sep: text.rfind(sep, 0, end))
                idx = find(window + 1)  # the separator may lie just past the window
                while idx >= floor:
                    if _inside(idx, spans) is None and not _new_marker(text, idx):
                        cut = idx
                        break
                    idx = find(idx)
                if cut:
                    break
            if cut:
                break
        if not cut:
            # no usable boundary: hard cut, but not inside a link/bold span or escape if it starts later
            cut = window
            span = _inside(cut, spans)
            if span and span[0] > 0:
                cut = span[0]
        cut = max(cut, 1)
        head = text[:cut].rstrip()
        if head:
            parts.append(head)
        text = text[cut:].lstrip()
    return parts


def telegram_parts(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split the source text and render every part as Telegram HTML."""
    return [html for html in (to_telegram_html(p) for p in split_message(text, limit)) if html.strip()]


def plain_parts(text: str, limit: int) -> list[str]:
    """Split the source text (preferring paragraph, line and sentence ends) and render every part as
    plain text (channels without markup, e.g. Zalo's 2000-character messages)."""
    return [p for p in (to_plain(part) for part in split_message(text, limit, sentences=True)) if p.strip()]


# ---------------------------------------------------------------------------------------------
# replies to a channel's capabilities


def shorten(label: str, limit: int) -> str:
    """``label`` on one line, cut to ``limit`` characters with "…" when longer."""
    label = " ".join(label.split())
    return label if len(label) <= limit else label[: max(limit - 1, 0)].rstrip() + "…"


def fit_reply(reply: Reply, capabilities: Capabilities, *, channel: str = "") -> Reply:
    """``reply`` within ``capabilities`` (see :func:`fit`)."""
    from core.channel import fallback_text

    caps = capabilities
    who = channel or "render"
    rows: list[list[Button]] = []
    for row in reply.buttons:
        kept: list[Button] = []
        for b in row:
            if b.kind == ButtonKind.PAYLOAD:
                size = len(b.payload.encode("utf-8"))
                if not b.label.strip() or not 1 <= size <= caps.payload_bytes:
                    log.warning("%s: dropping button %r: payload of %d bytes (limit %d)",
                                who, b.label[:80], size, caps.payload_bytes)
                    continue
            kept.append(b)
        if kept:
            rows.append(kept)
    payload = [b for row in rows for b in row if b.kind == ButtonKind.PAYLOAD]
    if len(payload) > caps.max_buttons:  # numbered text options instead of buttons
        text = fallback_text(Reply(text=reply.text, buttons=[payload]))
        rows = [r for r in ([b for b in row if b.kind != ButtonKind.PAYLOAD] for row in rows) if r]
        payload_out: list[Button] = []
        options = tuple(payload)
    else:
        text = reply.text
        payload_out = payload
        options = ()
    limit = max(caps.button_label_limit, 1)
    lines: list[str] = []  # Markdown: the numbered options and the links in full
    if any(len(" ".join(b.label.split())) > limit for b in payload_out):  # number them, list them in full
        numbered = {id(b): n for n, b in enumerate(payload_out, 1)}
        lines = [f"{n}. {escape(' '.join(b.label.split()))}" for n, b in enumerate(payload_out, 1)]
        options = tuple(payload_out)
    else:
        numbered = {}
    out_rows: list[list[Button]] = []
    for row in rows:
        out: list[Button] = []
        for b in row:
            label = " ".join(b.label.split())
            if id(b) in numbered:
                label = f"{numbered[id(b)]}. {label}"
            elif len(label) > limit and b.kind in (ButtonKind.URL, ButtonKind.PHONE):
                lines.append(escape(f"{label}: {b.url if b.kind == ButtonKind.URL else (b.phone or b.url)}"))
            out.append(replace(b, label=shorten(label, limit)))
        out_rows.append(out)
    return replace(reply, text=_append(text, "\n".join(lines)), buttons=out_rows, options=options)


def fit(replies: Sequence[Reply], capabilities: Capabilities, *, channel: str = "") -> list[Reply]:
    """``replies`` within a channel's declared limits.

    * a payload button whose payload is empty or longer than ``payload_bytes`` (or whose label is empty)
      is dropped, with one WARNING naming its label (content, never user text);
    * more payload buttons than ``max_buttons``: they become numbered text options (``fallback_text``),
      kept in ``Reply.options`` in that order, so a typed number can be mapped back
      (``reply.options[n - 1].payload``);
    * labels longer than ``button_label_limit``: shortened with "…"; the full text goes into the message
      (payload buttons are then numbered, "1. …", listed in full and kept in ``Reply.options``; a link or
      phone button gets a "label: link" line).
    """
    return [fit_reply(r, capabilities, channel=channel) for r in replies]
