"""Issue 9: one diacritics-aware word match (`vntext.normalize.word_matches`) for every matcher — categories'
keywords, routing rules, communes and aliases, the hotline search, the FAQ engine, small talk. A word typed
WITH diacritics matches only the same word; folding applies to words typed without them."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.features import load_pack
from core.content.schema import AgencyFile
from features.faq.intent import Interpreter
from features.feedback.places import index_for
from features.feedback.routing import route, suggest_categories
from features.hotlines.service import HotlineService
from vntext.engine import FaqDoc, FaqEngine
from vntext.normalize import contains_phrase, plain_words, strip_phrases, word_matches

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pack():
    return load_pack(ROOT / "content")


def test_the_rule():
    assert word_matches("đơ", "đơ") and word_matches("do", "đơ") and word_matches("loi", "lỗi")
    assert not word_matches("đỗ", "đơ") and not word_matches("đỏ", "đơ") and not word_matches("lời", "lỗi")
    assert not word_matches("lối", "lỗi") and word_matches("Lỗi", "lỗi") and word_matches("hoà", "hòa")
    assert contains_phrase(plain_words("Cổng DVC bị treo, đơ máy"), "đơ")
    assert strip_phrases(plain_words("so dien thoai Sở Tư pháp"), ["số điện thoại"]) == (True, ["sở", "tư", "pháp"])


@pytest.mark.parametrize("text", ["Xe ô tô đỗ trước cổng nhà tôi", "Tôi chưa được trả lời",
                                  "Lối đi chung bị lấn chiếm", "Đèn đỏ ở ngã tư bị hỏng"])
def test_words_with_other_diacritics_do_not_suggest_the_online_services_category(pack, text):
    assert "dvc-loi" not in suggest_categories(pack.agencies, text)


@pytest.mark.parametrize("text", ["cong dich vu cong bi loi", "Cổng dịch vụ công bị lỗi", "trang web bi do"])
def test_words_typed_without_diacritics_still_match(pack, text):
    assert suggest_categories(pack.agencies, text)[0] == "dvc-loi"


def test_routing_rule_keywords_are_diacritics_aware():
    agencies = AgencyFile.model_validate({
        "default_agency": "a", "agencies": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        "categories": [{"id": "k", "title": "K", "deadline_days": 5}],
        "routing": [{"keywords": ["lỗi"], "agency": "b"}],
    })
    assert route(agencies, "k", None, "Tôi chưa được trả lời").agency_id == "a"
    assert route(agencies, "k", None, "Lối đi chung bị lấn chiếm").agency_id == "a"
    assert route(agencies, "k", None, "Trang web báo lỗi").agency_id == "b"
    assert route(agencies, "k", None, "trang web bao loi").agency_id == "b"


def test_communes_typed_with_diacritics_match_only_that_name(pack):
    index = index_for(pack.agencies)
    assert index.search("son hạ") == ("xa-son-ha-2", ["xa-son-ha-2"])  # Sơn Hạ, not Sơn Hà
    assert index.search("xã Sơn hà")[0] == "xa-son-ha"
    assert index.search("ba tô")[0] == "xa-ba-to-2"
    exact, candidates = index.search("son ha")  # without diacritics: both first, the citizen picks
    assert exact is None and set(candidates[:2]) == {"xa-son-ha", "xa-son-ha-2"}


def test_faq_engine_counts_an_accented_word_only_for_entries_with_that_word():
    engine = FaqEngine.build([
        FaqDoc("screen", "Màn hình cổng dịch vụ công bị đơ", ("Cổng dịch vụ công bị đơ",), ("đơ",)),
        FaqDoc("light", "Đèn đỏ ở ngã tư", ("Báo đèn đỏ ở ngã tư",), ("đèn đỏ",)),
    ])
    _q, scored = engine.rank("đỏ")
    assert [engine.docs[e].id for e, score, *_ in scored if score > 0] == ["light"]
    _q, scored = engine.rank("do")  # typed without diacritics: both spellings
    assert {engine.docs[e].id for e, score, *_ in scored if score > 0} == {"screen", "light"}


def test_hotline_search_keeps_the_citizens_diacritics(pack):
    service = HotlineService(pack)
    assert [h.id for h in service.find("số điện thoại sở tư pháp")] == [h.id for h in service.find("sdt so tu phap")]
    assert service.find("số điện thoại sở tư pháp")
    assert not service.find("liền hề sở tư pháp")  # "liền hề" is not "liên hệ": nothing found


def test_small_talk_phrases_are_diacritics_aware(pack):
    from features.faq.service import FaqService

    interpreter: Interpreter = FaqService(pack).interpreter
    assert interpreter.understand("cam on").kind == "smalltalk"
    assert interpreter.understand("Cám ơn ạ").kind == "smalltalk"
    assert interpreter.understand("cháo").kind != "smalltalk"  # "cháo" (porridge) is not "chào"


def test_half_typed_words_keep_the_marks_they_have():
    assert word_matches("mât", "mật") and word_matches("khâu", "khẩu") and not word_matches("mât", "mắt")
    assert not word_matches("đo", "đỗ") and word_matches("lôi", "lỗi") and not word_matches("lôi", "lời")
