"""Markdown-subset renderer shared by the channel adapters.

Reply texts use a deliberately tiny Markdown subset (see ``core.types.Reply``):

* ``**bold**`` (within one line),
* ``[label](url)`` links,
* lines starting with ``- `` (bullets, rendered ``• ``) or ``1. `` (numbered, kept as is).

Everything else is plain text and is escaped for the target format. The functions here never raise
for any ``str`` input.

* :func:`to_telegram_html` – Telegram ``parse_mode=HTML`` (only ``<b>`` and ``<a href>`` are emitted;
  text is escaped with the named entities ``&lt; &gt; &amp; &quot;`` only).
* :func:`to_plain` – channels without markup (Zalo, console): bold removed, links as ``label: url``.
* :func:`split_message` – split *source* text into parts of at most ``limit`` characters (counted in
  UTF-16 code units, which is what Telegram counts; never less strict than counting code points) on
  paragraph / line / word boundaries, never inside a link or bold span when avoidable. Render each part
  separately: every rendered part is then valid on its own.
* :func:`telegram_parts` – ``split_message`` + ``to_telegram_html`` in one call.
* :func:`plain_parts` – ``split_message(..., sentences=True)`` + ``to_plain`` (Zalo: 2000 characters).
* :func:`to_web_html` – the web chat: safe HTML fragments (``<p>``, ``<ul>``/``<ol>``, ``<strong>``,
  ``<a href rel="noopener noreferrer">`` for http/https/tel/mailto); every other character is escaped.
"""
from __future__ import annotations

import re

__all__ = [
    "TELEGRAM_CAPTION_LIMIT",
    "TELEGRAM_TEXT_LIMIT",
    "escape_html",
    "plain_parts",
    "split_message",
    "telegram_parts",
    "to_plain",
    "to_telegram_html",
    "to_web_html",
    "utf16_len",
]

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024

# [label](url): label on one line without brackets; url without whitespace, allowing one level of
# balanced parentheses (Wikipedia-style URLs) and requiring a scheme.
_LINK = r"\[(?P<label>[^\[\]\n]+)\]\((?P<url>[A-Za-z][A-Za-z0-9+.\-]*:(?:[^\s()]|\([^\s()]*\))+)\)"
# **bold**: non-greedy, within one line, not empty, no whitespace just inside the markers.
_BOLD = r"\*\*(?=\S)(?P<bold>[^\n]*?\S)\*\*"
_INLINE_RE = re.compile(f"{_LINK}|{_BOLD}")
_LINK_RE = re.compile(_LINK)
_BULLET_RE = re.compile(r"^(?P<indent>[ \t]*)- ", re.MULTILINE)
# Schemes Telegram accepts in <a href>; anything else is shown as "label: url" text.
_HTML_LINK_SCHEMES = ("http://", "https://", "tg://")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (what Telegram's length limits count)."""
    return len(text.encode("utf-16-le")) // 2


def escape_html(text: str) -> str:
    """Escape ``& < > "`` with the named entities Telegram supports (no numeric entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _bullets(text: str) -> str:
    return _BULLET_RE.sub(lambda m: f"{m.group('indent')}• ", text)


def _html_inline(text: str, allow_links: bool = True) -> str:
    out: list[str] = []
    pos = 0
    for m in _INLINE_RE.finditer(text):
        if m.group("bold") is None and not allow_links:
            continue
        out.append(escape_html(text[pos : m.start()]))
        if m.group("bold") is not None:
            out.append(f"<b>{_html_inline(m.group('bold'), allow_links)}</b>")
        else:
            label, url = m.group("label"), m.group("url")
            if url.lower().startswith(_HTML_LINK_SCHEMES):
                out.append(f'<a href="{escape_html(url)}">{_html_inline(label, allow_links=False)}</a>')
            else:  # tel:, mailto:, javascript: ... are not clickable on Telegram: show them as text
                out.append(f"{_html_inline(label, allow_links=False)}: {escape_html(url)}")
        pos = m.end()
    out.append(escape_html(text[pos:]))
    return "".join(out)


def to_telegram_html(text: str) -> str:
    """Render the Markdown subset as Telegram HTML (``parse_mode="HTML"``)."""
    if not text:
        return ""
    return _html_inline(_bullets(text))


def _plain_inline(text: str) -> str:
    def link(m: re.Match[str]) -> str:
        label, url = m.group("label"), m.group("url")
        label = _strip_bold(label)
        return url if label.strip() == url else f"{label}: {url}"

    return _strip_bold(_LINK_RE.sub(link, text))


def _strip_bold(text: str) -> str:
    return re.sub(_BOLD, lambda m: m.group("bold"), text)


def to_plain(text: str) -> str:
    """Render the Markdown subset as plain text (bold removed, links as ``label: url``)."""
    if not text:
        return ""
    return _plain_inline(_bullets(text))


# ---------------------------------------------------------------------------------------------
# splitting


def _protected_spans(text: str) -> list[tuple[int, int]]:
    """Spans (start, end) inside which a split would break markup (links and bold)."""
    return [(m.start(), m.end()) for m in _INLINE_RE.finditer(text)]


def _inside(pos: int, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    for start, end in spans:
        if start < pos < end:
            return (start, end)
        if start >= pos:
            break
    return None


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
    avoids cutting inside ``[label](url)``
    and ``**bold**`` spans; cuts hard only when a single word is longer than ``limit``. Whitespace at
    the cut is dropped. Returns ``[]`` for blank text. (A single character wider than ``limit``, i.e. an
    astral character with ``limit=1``, is emitted alone.)
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
                    if _inside(idx, spans) is None:
                        cut = idx
                        break
                    idx = find(idx)
                if cut:
                    break
            if cut:
                break
        if not cut:
            # no usable boundary: hard cut, but not inside a link/bold span if it starts later
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
# web (the web chat widget and public pages)

_WEB_LINK_SCHEMES = ("http://", "https://", "tel:", "mailto:")
_WEB_ITEM_RE = re.compile(r"^[ \t]*(?:(?P<bullet>- )|(?P<num>\d{1,3})\. )(?P<rest>.*)$")


def _web_inline(text: str, allow_links: bool = True) -> str:
    out: list[str] = []
    pos = 0
    for m in _INLINE_RE.finditer(text):
        if m.group("bold") is None and not allow_links:
            continue
        out.append(escape_html(text[pos : m.start()]))
        if m.group("bold") is not None:
            out.append(f"<strong>{_web_inline(m.group('bold'), allow_links)}</strong>")
        else:
            label, url = m.group("label"), m.group("url")
            inner = _web_inline(label, allow_links=False)
            if url.lower().startswith(("http://", "https://")):
                out.append(f'<a href="{escape_html(url)}" target="_blank" rel="noopener noreferrer">{inner}</a>')
            elif url.lower().startswith(_WEB_LINK_SCHEMES):
                out.append(f'<a href="{escape_html(url)}">{inner}</a>')
            else:  # javascript:, data: ... never become links
                out.append(f"{inner}: {escape_html(url)}")
        pos = m.end()
    out.append(escape_html(text[pos:]))
    return "".join(out)


def to_web_html(text: str) -> str:
    """Render the Markdown subset as an HTML fragment for the web (safe to insert with ``innerHTML``).

    Blank lines separate paragraphs; runs of ``- `` lines become ``<ul>``, runs of ``1. `` lines ``<ol>``
    (starting at the first number); other lines of a paragraph are joined with ``<br>``.
    """
    if not text or not text.strip():
        return ""
    out: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text.strip()):
        lines = [line for line in block.split("\n") if line.strip()]
        para: list[str] = []
        items: list[str] = []
        kind = ""
        start = 1

        def flush_para() -> None:
            if para:
                out.append("<p>" + "<br>".join(para) + "</p>")
                para.clear()

        def flush_list() -> None:
            nonlocal kind
            if items:
                attr = f' start="{start}"' if kind == "ol" and start != 1 else ""
                out.append(f"<{kind}{attr}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{kind}>")
                items.clear()
            kind = ""

        for line in lines:
            m = _WEB_ITEM_RE.match(line)
            if m:
                this = "ul" if m.group("bullet") else "ol"
                if this != kind:
                    flush_list()
                    flush_para()
                    kind = this
                    start = int(m.group("num")) if this == "ol" else 1
                items.append(_web_inline(m.group("rest").strip()))
            else:
                flush_list()
                para.append(_web_inline(line.strip()))
        flush_list()
        flush_para()
    return "\n".join(out)
