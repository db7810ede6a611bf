"""The understanding layer (faq/intent.py) on the shipped pack: each kind of reply, on phrasings that are in
neither evaluation set."""
from __future__ import annotations

from pathlib import Path

import pytest

from features.faq.evaluate import build_interpreter
from features.faq.intent import Interpreter

CONTENT = Path(__file__).resolve().parents[2] / "content"


@pytest.fixture(scope="module")
def interp() -> Interpreter:
    return build_interpreter(CONTENT)


@pytest.mark.parametrize("text,kind", [
    ("ad ơi gửi giúp em cái mã OTP", "credentials"),
    ("cho mình xin mk vneid của bố", "credentials"),
    ("mã xác thực của tôi là bao nhiêu", "credentials"),
    ("cán bộ xưng công an gọi điện đòi mã otp", "credentials"),
    ("cho xin địa chỉ nhà của bà Lan ở phường Nghĩa Lộ", "personal"),
    ("số căn cước của tôi 079203001122 đăng ký bị lỗi", "personal"),
])
def test_requests_for_codes_passwords_or_personal_data_get_the_safety_answer(interp, text, kind):
    u = interp.understand(text)
    assert (u.kind, u.safety) == ("safety", kind), u


@pytest.mark.parametrize("text", ["không nhận được mã otp", "không nhận được mã otp khi đăng nhập vneid",
                                  "quên mật khẩu dịch vụ công", "đổi mật khẩu vneid ở đâu"])
def test_a_login_problem_with_otp_or_password_is_a_question_not_a_safety_case(interp, text):
    u = interp.understand(text)
    assert u.kind != "safety", u
    assert "loi-dang-nhap" in ((u.answer_id,) + u.suggestions), u


@pytest.mark.parametrize("text,kind", [
    ("cảm ơn bot nhé", "thanks"), ("cam on ban nhieu lam", "thanks"), ("ok cảm ơn ad", "thanks"),
    ("chào ad ạ", "greeting"), ("bye bot nha", "goodbye"),
])
def test_small_talk_variants(interp, text, kind):
    u = interp.understand(text)
    assert (u.kind, u.smalltalk) == ("smalltalk", kind), u


def test_thanks_followed_by_a_question_is_a_question(interp):
    u = interp.understand("cảm ơn, cho hỏi đăng ký khai tử ở đâu")
    assert u.kind == "answer" and u.answer_id == "tt-khai-tu", u


@pytest.mark.parametrize("text", ["Thủ tục?", "hồ sơ", "vneid", "lệ phí", "hộ chiếu"])
def test_one_or_two_words_ask_what_the_citizen_means(interp, text):
    assert interp.understand(text).kind == "clarify"


def test_two_unknown_words_are_not_a_clarify_but_a_plain_none(interp):
    assert interp.understand("qwerty zxcv").kind == "none"


@pytest.mark.parametrize("text", [
    "hồ sơ đất đai bị trễ hẹn 3 tháng",
    "nộp giấy tờ từ tháng 5 đến giờ vẫn chưa được giải quyết",
    "cán bộ xã hạch sách, bắt đi lại nhiều lần",
])
def test_a_complaint_is_offered_as_a_report(interp, text):
    u = interp.understand(text)
    assert u.kind == "complaint" and u.report, u


def test_a_question_about_lateness_is_answered_with_the_report_offered(interp):
    u = interp.understand("hồ sơ trễ hẹn thì phải làm sao")
    assert u.kind == "answer" and u.answer_id == "thoi-han-giai-quyet" and u.report, u


def test_two_needs_the_answer_and_the_report(interp):
    u = interp.understand("tài khoản vneid bị khóa không vào được, tôi muốn phản ánh")
    assert u.report, u
    assert {"loi-dang-nhap", "dang-nhap-vneid"} & {u.answer_id, *u.suggestions}, u


@pytest.mark.parametrize("text,entry", [
    ("<p>cách nộp hồ sơ online</p>", "nop-ho-so-truc-tuyen"),
    ("xin hỏi trong trường hợp em quên mật khẩu tài khoản dịch vụ công thì xử lý thế nào ạ", "loi-dang-nhap"),
    ("nộp hồ sơ qua mạng có mất tiền không", "le-phi-truc-tuyen"),
    ("làm thẻ bảo hiểm y tế cho con bị mất ở đâu", "tt-bhyt"),
    ("đăng ký khai tử online", "tt-khai-tu"),
    ("đổi bằng lái trên mạng thế nào", "tt-giay-phep-lai-xe"),
])
def test_noise_and_everyday_words_do_not_sink_or_misdirect_the_answer(interp, text, entry):
    u = interp.understand(text)
    assert u.answer_id == entry or (u.kind == "suggest" and u.suggestions[:1] == (entry,)), u


@pytest.mark.parametrize("text", ["mấy giờ rồi", "bảo hiểm xe máy mua ở đâu rẻ", "vay tiền mua nhà cần sổ đỏ không"])
def test_one_shared_word_does_not_pull_a_confident_answer(interp, text):
    assert interp.understand(text).kind != "answer"
