"""Property and example tests for vntext.normalize."""
from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vntext.normalize import canonical_token, fold, load_lexicon, normalize, tokens

VI_CHARS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
vi_word = st.text(alphabet=VI_CHARS + VI_CHARS.upper(), min_size=1, max_size=8)
vi_text = st.lists(vi_word, max_size=12).map(" ".join)
any_text = st.text(max_size=300)
mixed = st.one_of(vi_text, any_text, st.lists(st.one_of(vi_word, st.sampled_from(
    ["k", "ko", "đc", "dc", "hs", "dvc", "ntn", "ạ", "ơi", "online", "qua mạng", "thế nào", "!!", "😀", "\x00",
     "<b>", "' OR 1=1 --", "\u202e", "hoà", "thuỷ", "\u0301", "ß", "İ"])), max_size=20).map(" ".join))

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(mixed)
def test_never_raises_and_returns_str(text):
    out = normalize(text)
    assert isinstance(out, str)
    assert out == out.strip()
    assert "  " not in out


@SETTINGS
@given(mixed)
def test_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@SETTINGS
@given(mixed)
def test_nfc_nfd_same(text):
    assert normalize(unicodedata.normalize("NFD", text)) == normalize(unicodedata.normalize("NFC", text))
    assert normalize(unicodedata.normalize("NFKD", text)) == normalize(unicodedata.normalize("NFKC", text))


@SETTINGS
@given(mixed)
def test_output_is_nfc_lowercase(text):
    out = normalize(text)
    assert unicodedata.normalize("NFC", out) == out
    assert out == out.lower() or not out.isascii()


@SETTINGS
@given(st.text(min_size=1, max_size=4096))
def test_bounded_on_long_input(text):
    t0 = time.perf_counter()
    out = normalize(text * (4096 // len(text) + 1))
    assert time.perf_counter() - t0 < 0.5
    assert len(out.split()) <= 200


def test_4096_chars_fast():
    text = ("Tôi muốn nộp hs qua mạng ntn ạ 😀 <script>x</script> " * 100)[:4096]
    t0 = time.perf_counter()
    for _ in range(10):
        normalize(text)
    assert (time.perf_counter() - t0) / 10 < 0.05


@pytest.mark.parametrize(
    "a,b",
    [("hoà", "hòa"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("uỷ quyền", "ủy quyền"), ("HOÀ", "hòa"),
     ("quý", "quý"), ("giữ", "giữ"), ("người", "người"), ("hoàng", "hoàng"), ("ngoài", "ngoài"), ("thuyền", "thuyền")],
)
def test_tone_placement(a, b):
    assert normalize(a) == normalize(b) == b


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("nộp hs qua mạng ntn ạ", "nộp hồ sơ trực tuyến như thế nào"),
        ("tk cổng dvc cũ còn dùng được ko", "tài khoản cổng dịch vụ công cũ còn dùng được không"),
        ("Đăng kí online đc k?", "đăng ký trực tuyến được không"),
        ("bhyt cho bé", "bảo hiểm y tế cho bé"),
        ("thứ 7 có làm việc không", "thứ bảy có làm việc không"),
        ("Dạ, cho em hỏi ạ!!!", ""),  # politeness only
        ("xin hỏi trong trường hợp quên mk thì xử lý thế nào ạ", "quên mật khẩu thì làm sao"),
        ("<b>cách nộp hồ sơ online</b>", "cách nộp hồ sơ trực tuyến"),
        ("nộp hồ sơ'; DROP TABLE users; --", "nộp hồ sơ"),
        ("nop qua mang co mat tien khong", "nop trực tuyến co phí khong"),
        ("", ""),
        ("   \t\n", ""),
        ("😀😀😀", ""),
    ],
)
def test_examples(raw, expected):
    assert normalize(raw) == expected


def test_question_words_kept():
    assert normalize("ở đâu") == "ở đâu"
    assert normalize("bao lâu") == "bao lâu"
    assert normalize("là gì") == "là gì"


def test_fold():
    assert fold("Đường dây nóng") == "Duong day nong"
    assert fold("đăng ký") == "dang ky"
    assert canonical_token("thuỷ") == "thủy"


def test_html_sql_control_mixed():
    assert normalize("<b>hồ sơ</b>") == "hồ sơ"  # markup is cut, not read as words
    assert normalize("x'; DROP TABLE users; --") == "x"
    assert normalize("tra cứu hồ sơ' OR 1=1 --") == "tra cứu hồ sơ"
    assert normalize("x < b và c > d") == "x b và c d"  # a lone comparison is not a tag
    assert normalize("hồ\x00sơ\x1b[31m") == "hồ sơ 31m"
    assert normalize("Привет hồ sơ 中文") == "привет hồ sơ 中文"
    assert normalize(None) == ""  # type: ignore[arg-type]
    assert normalize("\ud800 lỗi") == "lỗi"


def test_lexicon_rules_idempotent():
    lex = load_lexicon()
    keys = [" ".join(k) for k in lex.rules]
    for k in keys:
        once = normalize(k)
        assert normalize(once) == once, k
    for a in keys[:60]:
        for b in keys[:60]:
            once = normalize(f"{a} {b}")
            assert normalize(once) == once, (a, b)


def test_tokens_matches_normalize():
    assert " ".join(tokens("Nộp HS online?")) == normalize("Nộp HS online?")
