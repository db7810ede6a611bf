from core.content.schema import AgencyFile
from features.feedback.places import CommuneIndex
from features.feedback.routing import route, suggest_categories

AGENCIES = AgencyFile.model_validate({
    "default_agency": "center",
    "agencies": [{"id": i, "name": i.upper()} for i in ("center", "sokhcn", "ubnd-a", "ubnd-b", "police")],
    "communes": [
        {"id": "xa-a", "name": "Xã An Phú", "aliases": ["An Phu cu"], "agency": "ubnd-a"},
        {"id": "xa-b", "name": "Phường Bình Minh", "agency": "ubnd-b"},
        {"id": "xa-c", "name": "Xã Chưa Giao"},
    ],
    "categories": [
        {"id": "dvc", "title": "DVC", "deadline_days": 5, "agency": "sokhcn", "keywords": ["cổng", "đăng nhập"]},
        {"id": "local", "title": "Local", "deadline_days": 3, "agency": "center", "route_to_commune": True},
        {"id": "none", "title": "None", "deadline_days": 5},
    ],
    "routing": [
        {"category": "dvc", "commune": "xa-b", "agency": "ubnd-b", "reason": "B runs its own kiosk"},
        {"keywords": ["VNeID", "định danh"], "agency": "police", "reason": "identity accounts"},
    ],
})


def test_rule_category_and_commune_first():
    d = route(AGENCIES, "dvc", "xa-b", "lỗi")
    assert (d.agency_id, d.rule, d.reason) == ("ubnd-b", "rule:0", "B runs its own kiosk")


def test_keyword_hint_without_diacritics_on_word_boundaries():
    d = route(AGENCIES, "none", "xa-a", "tai khoan dinh danh bi khoa")
    assert (d.agency_id, d.rule, d.matched_keyword) == ("police", "rule:1", "định danh")
    # "vneidx" is not the word "VNeID"
    assert route(AGENCIES, "none", None, "abc vneidx").agency_id == "center"


def test_category_agency_then_commune_then_default():
    assert route(AGENCIES, "dvc", "xa-a", "").agency_id == "sokhcn"
    assert route(AGENCIES, "dvc", "xa-a", "").rule == "category"
    d = route(AGENCIES, "none", "xa-a", "")
    assert (d.agency_id, d.rule) == ("ubnd-a", "commune")
    d = route(AGENCIES, "none", "xa-c", "")
    assert (d.agency_id, d.rule) == ("center", "default")
    assert route(AGENCIES, "none", None, "").rule == "default"


def test_route_to_commune_category():
    d = route(AGENCIES, "local", "xa-a", "")
    assert (d.agency_id, d.rule) == ("ubnd-a", "category-commune")
    assert route(AGENCIES, "local", None, "").agency_id == "center"  # commune unknown: the category's agency
    assert route(AGENCIES, "local", "xa-c", "").agency_id == "center"  # commune without an agency


def test_shipped_pack_routes_every_category(pack):
    agency_ids = {a.id for a in pack.agencies.agencies}
    for cat in pack.agencies.categories:
        for commune in [None, *[c.id for c in pack.agencies.communes[:5]]]:
            assert route(pack.agencies, cat.id, commune, "").agency_id in agency_ids
    assert route(pack.agencies, "dvc-loi", None, "").agency_id == "so-khcn"


def test_suggest_categories_from_keywords(pack):
    assert suggest_categories(pack.agencies, "can bo hach dich nhung nhieu")[0] == "thai-do-can-bo"
    assert suggest_categories(pack.agencies, "xyz") == []


def test_commune_search(pack):
    idx = CommuneIndex.build(list(AGENCIES.communes))
    assert idx.search("Xã An Phú")[0] == "xa-a"
    assert idx.search("an phu")[1][0] == "xa-a"  # folded: offered, not auto-picked
    assert idx.search("binh minh")[1][0] == "xa-b"
    assert idx.search("an phu cu")[1][0] == "xa-a"  # alias
    assert idx.search("zzzz qqq") == (None, [])
    real = CommuneIndex.build(list(pack.agencies.communes))
    exact, cands = real.search("ba to")
    assert exact is None and {"xa-ba-to", "xa-ba-to-2"} <= set(cands[:2])  # Ba Tơ / Ba Tô both offered
    assert real.search("Ba Tơ")[0] == "xa-ba-to"
    assert real.search("son tinh")[1][0] == "xa-son-tinh"
