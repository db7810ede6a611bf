"""Tests for core/render.py: one parser, three emitters; Telegram HTML is always valid for the fake's strict
parser, escaping is exact, links survive, user text stays literal, replies fit a channel's limits."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logging
import re

from core.channel import Capabilities
from core.render import (
    escape,
    fit,
    parse,
    split_message,
    telegram_parts,
    to_plain,
    to_telegram_html,
    to_web_html,
    utf16_len,
    with_lines,
)
from core.types import Button, ButtonKind, Reply
from tests.fakes.telegram_api import HTMLParseError, parse_telegram_html

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text that contains no Markdown-subset syntax (no markers, no backslash escapes) but every HTML special character
PLAIN_ALPHABET = st.characters(blacklist_characters="*[-\\", blacklist_categories=("Cs",))
TRICKY = st.sampled_from(["<", ">", "&", '"', "'", "&amp;", "&lt;", "<b>", "</b>", "&#39;", "ừ", "Đ", "😀", "\n", " "])


def visible(html: str) -> str:
    return parse_telegram_html(html)


# -- examples --------------------------------------------------------------------------------------


def test_bold_link_bullets_and_escaping() -> None:
    src = '**Chào** anh <An> & "chị"\n- [Cổng DVC](https://dichvucong.gov.vn/p?a=1&b="x")\n- hết'
    html = to_telegram_html(src)
    assert html.startswith("<b>Chào</b> anh &lt;An&gt; &amp; &quot;chị&quot;")
    assert '<a href="https://dichvucong.gov.vn/p?a=1&amp;b=&quot;x&quot;">Cổng DVC</a>' in html
    assert visible(html) == 'Chào anh <An> & "chị"\n• Cổng DVC\n• hết'


def test_unsupported_link_scheme_is_text() -> None:
    html = to_telegram_html("[Gọi](tel:19001234) và [x](javascript:alert(1))")
    assert "<a" not in html
    assert visible(html) == "Gọi: tel:19001234 và x: javascript:alert(1)"


def test_link_label_with_bold_and_bold_with_link() -> None:
    html = to_telegram_html("[**Đậm**](https://a.vn) **xem [đây](https://b.vn)**")
    assert html == '<a href="https://a.vn"><b>Đậm</b></a> <b>xem <a href="https://b.vn">đây</a></b>'
    visible(html)


def test_to_plain() -> None:
    assert to_plain("**Chào** [Cổng](https://x.vn)\n- một") == "Chào Cổng: https://x.vn\n• một"
    assert to_plain("[https://x.vn](https://x.vn)") == "https://x.vn"
    assert to_plain("") == ""
    assert to_plain("a ** b") == "a ** b"


def test_unbalanced_markers_are_literal() -> None:
    assert visible(to_telegram_html("2 ** 3 = 8, [x] (y) **")) == "2 ** 3 = 8, [x] (y) **"


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    para = "a" * 30
    # a paragraph break in the second half of the window wins over an earlier line break
    assert split_message(f"{para}\n{para}\n\n{para} {para}", 70) == [f"{para}\n{para}", f"{para} {para}"]
    # a line break in the second half wins over a paragraph break in the first half (no tiny parts)
    assert split_message(f"{para}\n\n{para}\n{para} {para}", 70) == [f"{para}\n\n{para}", f"{para} {para}"]
    assert split_message(f"{para} {para} {para}", 70) == [f"{para} {para}", para]
    assert split_message("", 10) == []
    assert split_message("   \n ", 10) == []
    assert split_message("xyz", 10) == ["xyz"]
    assert split_message("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_split_does_not_cut_links() -> None:
    text = "mở " + "[Cổng dịch vụ công quốc gia](https://dichvucong.gov.vn)" + " ngay"
    parts = split_message(text, 60)
    assert any("[Cổng dịch vụ công quốc gia](https://dichvucong.gov.vn)" in p for p in parts)


def test_split_counts_utf16_units() -> None:
    parts = split_message("😀" * 10, 4)
    assert all(utf16_len(p) <= 4 for p in parts) and "".join(parts) == "😀" * 10


def test_telegram_parts_long_text_fits_telegram() -> None:
    text = "\n".join(f"- Dòng {i} <&> **đậm** [link](https://e.vn/{i})" for i in range(800))
    parts = telegram_parts(text)
    assert len(parts) > 1
    for part in parts:
        assert utf16_len(visible(part)) <= 4096


def test_split_rejects_bad_limit() -> None:
    with pytest.raises(ValueError):
        split_message("x", 0)


# -- properties ------------------------------------------------------------------------------------


@FAST
@given(st.text())
def test_html_always_valid(text: str) -> None:
    visible(to_telegram_html(text))  # never raises HTMLParseError


@FAST
@given(st.text(alphabet=PLAIN_ALPHABET) | st.lists(TRICKY).map("".join))
def test_plain_text_escaped_exactly(text: str) -> None:
    if "*" in text or "[" in text or "- " in text:
        return
    assert visible(to_telegram_html(text)) == text
    assert to_plain(text) == text


_url = st.builds(
    lambda host, path: f"https://{host}.vn/{path}",
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    st.text(alphabet=st.sampled_from('abc&"\'<>=?%/'), max_size=12),
)
_label = st.text(alphabet=st.characters(blacklist_characters="[]*\\\n", blacklist_categories=("Cs",)),
                 min_size=1, max_size=10).filter(lambda t: t.strip() == t and t.strip())
_link = st.builds(lambda label, url: (f"[{label}]({url})", label, url), _label, _url)
_fragment = st.one_of(
    st.text(alphabet=PLAIN_ALPHABET, max_size=15),
    st.text(alphabet=st.characters(blacklist_characters="*\n", blacklist_categories=("Cs",)), min_size=1, max_size=10).map(
        lambda t: f"**{t}**"
    ),
    _link.map(lambda x: x[0]),
    st.just("\n- "),
    st.just("\n\n"),
)


@FAST
@given(st.lists(_fragment, max_size=12).map("".join))
def test_markdown_mix_is_valid_everywhere(text: str) -> None:
    visible(to_telegram_html(text))
    to_plain(text)
    to_web_html(text)


@FAST
@given(st.text(alphabet=PLAIN_ALPHABET, max_size=10), _link, st.text(alphabet=PLAIN_ALPHABET, max_size=10))
def test_links_are_preserved_in_every_output(before: str, link: tuple[str, str, str], after: str) -> None:
    source, label, url = link
    text = f"{before} {source} {after}"
    html = to_telegram_html(text)
    assert f'<a href="{escape_html(url)}">{escape_html(label)}</a>' in html
    assert visible(html) == f"{before} {label} {after}"
    assert to_plain(text) == f"{before} {label}: {url} {after}"
    web = to_web_html(text)
    assert f'<a href="{escape_web(url)}" rel="noopener noreferrer" target="_blank">{escape_web(label)}</a>' in web


def escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def escape_web(text: str) -> str:
    import html

    return html.escape(text)


@FAST
@given(st.text() | st.lists(_fragment, max_size=20).map("".join), st.integers(min_value=2, max_value=120))
def test_split_parts_bounded_valid_and_lossless(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(p and p == p.strip() for p in parts)
    assert all(utf16_len(p) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())
    for part in parts:
        html = to_telegram_html(part)
        assert utf16_len(visible(html)) <= limit


def test_fake_parser_rejects_what_telegram_rejects() -> None:
    for bad in ["<x>", "a < b", "a > b", "&nbsp;", "a & b", "<b>x", "<b><i>x</b></i>", "</b>", '<a hreff="x">y</a>',
                '<span class="x">y</span>']:
        with pytest.raises(HTMLParseError):
            parse_telegram_html(bad)
    assert parse_telegram_html('<b>a</b> &lt;&gt;&amp;&quot; &#39;&#x41; <a href="https://x?a=1&amp;b">l</a>') == (
        "a <>&\" 'A l"
    )
    assert parse_telegram_html('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>') == "st"


# -- user text is literal ----------------------------------------------------------------------------------


@FAST
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))) | st.lists(TRICKY | _fragment).map("".join))
def test_escaped_text_shows_exactly_as_written(text: str) -> None:
    source = escape(text)
    assert visible(to_telegram_html(source)) == text
    assert to_plain(source) == text
    assert all(not line.marker for line in parse(source))
    web = to_web_html(source)
    assert "<a " not in web and "<strong>" not in web and "<li>" not in web


def test_escape_examples() -> None:
    name = "[Nhận quà](https://example.com)"
    assert to_telegram_html(f"Xin chào **{escape(name)}**!") == f"Xin chào <b>{name}</b>!"
    assert to_plain(escape("**đậm** <b>x</b> \\*")) == "**đậm** <b>x</b> \\*"
    assert to_telegram_html(escape("<b>x</b> & **y**")) == "&lt;b&gt;x&lt;/b&gt; &amp; **y**"
    assert to_plain(escape("- một\n2. hai\n  - ba")) == "- một\n2. hai\n  - ba"
    # a link whose label and url come from escaped values still works
    label, url = "Sở [KH&CN]", "https://vi.du/a_(b)*c"
    assert to_telegram_html(f"[{escape(label)}]({escape(url)})") == (
        '<a href="https://vi.du/a_(b)*c">Sở [KH&amp;CN]</a>')


def test_with_lines_appends_literal_lines() -> None:
    assert with_lines("**A**", ["*b*", "[c](https://d.vn)"]) == "**A**\n\n\\*b\\*\n\\[c\\]\\(https://d.vn\\)"
    assert with_lines("", ["x"]) == "x"
    assert with_lines("a", []) == "a"


def test_split_never_separates_an_escape_or_makes_a_list_marker() -> None:
    text = "a " + "\\*" * 10
    parts = split_message(text, 7)
    assert all(not re.search(r"(?<!\\)(\\\\)*\\$", p) for p in parts)  # no part ends inside an escape
    assert "".join(to_plain(p) for p in parts).replace(" ", "") == "a" + "*" * 10
    parts = split_message("một hai ba - bốn năm", 12)
    assert parts == ["một hai ba -", "bốn năm"]  # not "- bốn năm", which would become a bullet


# -- web HTML ----------------------------------------------------------------------------------------------


def test_web_html_paragraphs_lists_bold_and_links() -> None:
    src = ("**Chào** <An>\ndòng hai\n\n- một [Cổng](https://dichvucong.gov.vn)\n  tiếp\n- hai\n"
           "3. ba\n4. bốn\n\n[x](javascript:alert(1)) [thư](mailto:a@b.vn)")
    assert to_web_html(src) == (
        "<p><strong>Chào</strong> &lt;An&gt;<br>dòng hai</p>\n"
        '<ul><li>một <a href="https://dichvucong.gov.vn" rel="noopener noreferrer" target="_blank">Cổng</a>'
        "<br>tiếp</li><li>hai</li></ul>\n"
        '<ol start="3"><li>ba</li><li>bốn</li></ol>\n'
        '<p>x: javascript:alert(1) <a href="mailto:a@b.vn" rel="noopener noreferrer" target="_blank">thư</a></p>')
    assert to_web_html("") == ""


# -- fitting replies to a channel's capabilities -----------------------------------------------------------

CAPS = Capabilities(max_buttons=3, button_label_limit=12, payload_bytes=10)


def test_too_many_buttons_become_numbered_options_kept_in_the_reply() -> None:
    buttons = [[Button(f"Mục *{i}*", f"x:{i}")] for i in range(4)]
    link = Button("Cổng", kind=ButtonKind.URL, url="https://a.vn")
    [reply] = fit([Reply(text="Chọn:", buttons=[*buttons, [link]])], CAPS)
    assert reply.text == "Chọn:\n\n1. Mục \\*0\\*\n2. Mục \\*1\\*\n3. Mục \\*2\\*\n4. Mục \\*3\\*"
    assert to_plain(reply.text).endswith("4. Mục *3*")
    assert reply.buttons == [[link]]
    assert [b.payload for b in reply.options] == ["x:0", "x:1", "x:2", "x:3"]


def test_long_labels_are_numbered_shortened_and_listed_in_full() -> None:
    long = "Đăng ký khai sinh cho trẻ"
    link = Button("Cổng dịch vụ công", kind=ButtonKind.URL, url="https://a.vn")
    [reply] = fit([Reply(text="Chọn:", buttons=[[Button(long, "a"), Button("Khác", "b")], [link]])], CAPS)
    assert [b.label for b in reply.buttons[0]] == ["1. Đăng ký…", "2. Khác"]
    assert reply.buttons[1][0].label == "Cổng dịch v…" and reply.buttons[1][0].url == "https://a.vn"
    assert reply.text == f"Chọn:\n\n1. {long}\n2. Khác\nCổng dịch vụ công: https://a.vn"
    assert [b.payload for b in reply.options] == ["a", "b"]


def test_oversized_payloads_are_dropped_with_one_warning_naming_the_button(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="core.render")
    reply = Reply(text="Số cần gọi", buttons=[[Button("Sở KH&CN", "hl:c:so-khoa-hoc"), Button("Menu", "m:main")]])
    [fitted] = fit([reply], CAPS, channel="zalo_oa")
    assert fitted.buttons == [[Button("Menu", "m:main")]] and fitted.text == "Số cần gọi" and fitted.options == ()
    [record] = caplog.records
    assert record.getMessage() == "zalo_oa: dropping button 'Sở KH&CN': payload of 16 bytes (limit 10)"


def test_a_reply_within_the_limits_is_unchanged() -> None:
    reply = Reply(text="**A**", buttons=[[Button("Một", "x:1"), Button("Hai", "x:2")]], edit=True)
    assert fit([reply], CAPS) == [reply]
