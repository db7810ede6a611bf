"""Province names as people type them; nothing guessed when a name is ambiguous, misspelt or pre-2025."""
from __future__ import annotations

import pytest

from core.content.provinces import ProvinceNotFound, find_province


@pytest.mark.parametrize(("typed", "code"), [
    ("quang ngai", 51), ("Quảng Ngãi", 51), ("tỉnh Quảng Ngãi", 51), ("QUANGNGAI", 51),
    ("TP Hồ Chí Minh", 79), ("tp hcm", 79), ("TPHCM", 79), ("HCM", 79), ("Sài Gòn", 79),
    ("Thành phố Hồ Chí Minh", 79), ("Hue", 46), ("Huế", 46), ("Thừa Thiên Huế", 46),
    ("ha noi", 1), ("Hà Nội", 1), ("HN", 1), ("Dak Lak", 66), ("Đăk Lăk", 66), ("Thanh Hoá", 38),
    ("Khánh Hoà", 56), ("  can   tho ", 92),
])
def test_names_people_type(typed: str, code: int) -> None:
    assert find_province(typed).code == code


def test_ambiguous_initials_list_the_candidates() -> None:
    with pytest.raises(ProvinceNotFound) as err:
        find_province("dn")
    assert {p.code for p in err.value.candidates} == {48, 75}  # Đà Nẵng, Đồng Nai
    assert "có thể là" in err.value.message()


@pytest.mark.parametrize("typed", ["Quảng Nam", "Quảng Bình", "quang ngia", "Kon Tum", "", "x"])
def test_misspelt_or_merged_names_are_not_guessed(typed: str) -> None:
    with pytest.raises(ProvinceNotFound) as err:
        find_province(typed)
    assert "không có tỉnh, thành phố" in err.value.message()


def test_a_typo_gets_the_nearest_names() -> None:
    with pytest.raises(ProvinceNotFound) as err:
        find_province("quang ngia")
    assert err.value.candidates[0].code == 51
