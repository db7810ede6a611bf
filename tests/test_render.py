"""Tests for bot/render.py: Telegram HTML is always valid for the fake's strict parser, escaping is exact."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.render import split_message, telegram_parts, to_plain, to_telegram_html, utf16_len
from tests.fakes.telegram_api import HTMLParseError, parse_telegram_html

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text that contains no Markdown-subset syntax but every HTML special character
PLAIN_ALPHABET = st.characters(blacklist_characters="*[-", blacklist_categories=("Cs",))
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
_fragment = st.one_of(
    st.text(alphabet=PLAIN_ALPHABET, max_size=15),
    st.text(alphabet=st.characters(blacklist_characters="*\n", blacklist_categories=("Cs",)), min_size=1, max_size=10).map(
        lambda t: f"**{t}**"
    ),
    st.builds(lambda label, url: f"[{label}]({url})",
              st.text(alphabet=st.characters(blacklist_characters="[]\n", blacklist_categories=("Cs",)), min_size=1, max_size=10),
              _url),
    st.just("\n- "),
    st.just("\n\n"),
)


@FAST
@given(st.lists(_fragment, max_size=12).map("".join))
def test_markdown_mix_valid_and_links_preserved(text: str) -> None:
    html = to_telegram_html(text)
    visible(html)
    to_plain(text)


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
