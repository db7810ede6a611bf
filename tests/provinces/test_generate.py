"""`content new` for each of the 34 provinces: a valid pack, every official commune with its committee."""
from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import vietnam_provinces

from core.content import provinces as official
from core.content.generate import GenerateError, generate_pack
from features.feedback.routing import route

CODES = [p.code for p in official.provinces()]
TODO = "chưa được tỉnh xác nhận"


def test_the_package_lists_34_provinces_and_3321_communes() -> None:
    assert len(CODES) == 34
    assert sum(1 for _ in vietnam_provinces.Ward.iter_all()) == 3321


@pytest.mark.parametrize("code", CODES)
def test_generated_pack_is_valid_and_complete(code: int, loaded) -> None:
    pack = loaded[code]
    assert pack.report.ok
    # Only values the province must fill in are warned about: no commune off the list, no calendar gap.
    assert pack.report.warnings and all(TODO in f.message for f in pack.report.warnings), pack.report.render()

    wards = list(vietnam_provinces.Ward.iter_by_province(vietnam_provinces.ProvinceCode(code)))
    communes = pack.agencies.communes
    assert len(communes) == len(wards)
    assert {(c.code, c.name) for c in communes} == {(int(w.code), w.name) for w in wards}
    source = pack.agencies.communes_source
    assert source and source.province_code == code
    assert source.version == importlib.metadata.version("vietnam-provinces")

    agencies = {a.id: a for a in pack.agencies.agencies}
    for c in communes:
        committee = agencies[c.agency]
        assert committee.kind == "commune"
        kind = c.name.split(" ")[0] if not c.name.startswith("Đặc khu") else "Đặc khu"
        assert committee.name == f"Ủy ban nhân dân {kind.lower()}{c.name[len(kind):]}"
    assert agencies[pack.agencies.default_agency].name.startswith("Trung tâm Phục vụ hành chính công")

    province = official.province_by_code(code)
    assert pack.config.province == province.name and pack.config.province_full == province.full
    assert province.full in pack.texts.render("start/welcome", name=None)


@pytest.mark.parametrize("code", CODES)
def test_commune_matters_go_to_the_commune_committee_the_rest_to_the_centre(code: int, loaded) -> None:
    pack = loaded[code]
    agencies = pack.agencies
    commune_level = [c for c in agencies.categories if c.route_to_commune]
    assert commune_level
    for commune in (agencies.communes[0], agencies.communes[-1]):
        for category in agencies.categories:
            decision = route(agencies, category.id, commune.id, "Cán bộ hẹn nhiều lần mà chưa giải quyết")
            expected = commune.agency if category.route_to_commune else agencies.default_agency
            assert decision.agency_id == expected, (category.id, decision)
    assert route(agencies, commune_level[0].id, None).agency_id == agencies.default_agency


def test_unconfirmed_values_never_reach_citizens(loaded) -> None:
    pack = loaded[1]
    assert pack.config.portals.provincial is None and pack.config.service_centre.phone is None
    for item in pack.faq:
        for leftover in ("None", "]()", "!todo", "{{", "{%"):
            assert leftover not in item.answer, (item.entry.id, leftover)
    shown = [e for g in pack.hotlines.groups for e in g.entries if e.phone]
    assert [e.phone for e in shown] == ["1800 1096"]  # only the confirmed national number


def test_names_with_only_diacritics_apart_get_distinct_ids(loaded) -> None:
    pack = loaded[51]
    by_name = {c.name: c for c in pack.agencies.communes}
    assert by_name["Xã Ba Tơ"].id != by_name["Xã Ba Tô"].id
    assert by_name["Xã Ba Tơ"].id.startswith("xa-ba-to-") and by_name["Xã Sơn Hạ"].id.startswith("xa-son-ha-")


def test_new_refuses_a_non_empty_directory_and_an_unknown_province(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.yaml").write_text("province: x\n", encoding="utf-8")
    with pytest.raises(GenerateError, match="không trống"):
        generate_pack("Huế", tmp_path / "pack")
    with pytest.raises(GenerateError, match="Quảng Ninh"):
        generate_pack("Quảng Bình", tmp_path / "other")  # merged into Quảng Trị: never guessed
    assert not (tmp_path / "other").exists()
