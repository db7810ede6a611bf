"""split_message(sentences=True) and plain_parts: sentence ends before spaces, limits kept."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.render import plain_parts, split_message, utf16_len


def test_sentence_ends_are_preferred_over_spaces() -> None:
    """In the second half of the window (like line breaks): a sentence end beats a later space."""
    text = "Một hai ba bốn năm sáu. Bảy tám chín mười mười một"
    assert split_message(text, 30) == ["Một hai ba bốn năm sáu. Bảy", "tám chín mười mười một"]
    assert split_message(text, 30, sentences=True) == ["Một hai ba bốn năm sáu.", "Bảy tám chín mười mười một"]
    # a sentence end in the first half loses to a later space (parts stay reasonably full)
    early = "Một hai ba. Bốn năm sáu bảy tám chín mười mười một"
    assert split_message(early, 30, sentences=True) == split_message(early, 30)


def test_line_breaks_still_come_first_and_quotes_end_sentences() -> None:
    text = 'Dòng một là dòng đầu tiên.\nAnh ấy nói "xong." Rồi đi tiếp về nhà thôi'
    assert split_message(text, 50, sentences=True)[0] == "Dòng một là dòng đầu tiên."
    assert split_message('Anh ấy nói "xong." Rồi đi tiếp', 22, sentences=True)[0] == 'Anh ấy nói "xong."'


def test_plain_parts_render_markup() -> None:
    assert plain_parts("**Lưu ý.** Xem [cổng](https://a.vn). Hết.", 2000) == ["Lưu ý. Xem cổng: https://a.vn. Hết."]
    assert plain_parts("   ", 10) == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc .!?\n\"”ệ😀")), max_size=400), st.integers(1, 60))
def test_parts_fit_and_keep_every_word(text: str, limit: int) -> None:
    parts = split_message(text, limit, sentences=True)
    assert all(0 < utf16_len(p) <= limit or len(p) == 1 for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())
