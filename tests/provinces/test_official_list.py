"""`content check` against the official list; `update-communes` reports and applies the package's changes."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.features import check as check_pack
from bot.features import load_pack
from core.content import provinces as official
from bot.cli import main

REPO = Path(__file__).resolve().parents[2]


def _copy(generated: dict[int, Path], code: int, tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(generated[code], target)
    return target


def _edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, old
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line(file: Path, needle: str) -> int:
    return next(n for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def _uncode(file: Path, name: str) -> None:
    """Drop the official code of the commune called `name` (as a hand-written pack would have it)."""
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == f"name: {name}" and lines[i - 1].lstrip().startswith("- id:"))
    assert lines[at + 1].strip().startswith("code:")
    del lines[at + 1]
    file.write_text("".join(lines), encoding="utf-8")


def test_the_shipped_sample_matches_the_official_list() -> None:
    report = check_pack(REPO / "content")
    assert not [f for f in report.findings if "danh mục" in f.message], report.render()


def test_a_typo_and_a_pre_merger_name_are_warned_with_the_closest_official_name(generated, tmp_path) -> None:
    pack = _copy(generated, 51, tmp_path)
    agencies = pack / "agencies.yaml"
    _uncode(agencies, "Xã Tịnh Khê")
    _edit(agencies, "name: Xã Tịnh Khê\n", "name: Xã Tinh Khe\n")  # typed without diacritics
    _uncode(agencies, "Phường Cẩm Thành")
    _edit(agencies, "name: Phường Cẩm Thành\n", "name: Phường Trần Phú\n")  # a pre-2025 ward of Quảng Ngãi city
    report = check_pack(pack)
    assert report.ok  # warnings: the bot still runs
    typo = next(f for f in report.warnings if "Xã Tinh Khe" in f.message)
    assert typo.line == _line(agencies, "name: Xã Tinh Khe") and typo.field.endswith(".name")
    assert typo.file.endswith("agencies.yaml") and "tên gần nhất: 'Xã Tịnh Khê'" in typo.message
    old = next(f for f in report.warnings if "Phường Trần Phú" in f.message)
    assert "không có trong danh mục chính thức của tỉnh Quảng Ngãi" in old.message and "aliases" in old.message


def test_old_names_are_accepted_as_aliases_but_not_another_communes_name(generated, tmp_path) -> None:
    pack = _copy(generated, 51, tmp_path)
    agencies = pack / "agencies.yaml"
    _edit(agencies, "name: Phường Cẩm Thành\n", "name: Phường Cẩm Thành\n    aliases: [Phường Trần Phú, Phường Lê Hồng Phong]\n")
    assert not [f for f in check_pack(pack).warnings if "Trần Phú" in f.message]
    _edit(agencies, "aliases: [Phường Trần Phú,", "aliases: [Phường Trần Phú, Xã Tịnh Khê,")
    clash = [f for f in check_pack(pack).warnings if "Xã Tịnh Khê" in f.message]
    assert clash and "tên chính thức của một đơn vị khác" in clash[0].message and "aliases[1]" in clash[0].field


def test_a_changed_code_or_name_and_an_older_package_version_are_warned(generated, tmp_path) -> None:
    pack = _copy(generated, 46, tmp_path)
    agencies = pack / "agencies.yaml"
    version = official.package_version()
    _edit(agencies, f"version: {version}", "version: 2025.8.1")
    _edit(agencies, "name: Phường Vỹ Dạ\n", "name: Phường Vĩ Dạ\n")
    report = check_pack(pack)
    messages = [f.message for f in report.warnings]
    assert any("vietnam-provinces 2025.8.1" in m and "update-communes" in m for m in messages)
    assert any("'Phường Vĩ Dạ' khác tên chính thức 'Phường Vỹ Dạ'" in m for m in messages)


def test_update_communes_reports_then_applies_keeping_aliases_and_routing(generated, tmp_path, capsys) -> None:
    pack_dir = _copy(generated, 46, tmp_path)  # Huế: 40 communes
    agencies = pack_dir / "agencies.yaml"
    before = load_pack(pack_dir).agencies
    kim_long = next(c for c in before.communes if c.name == "Phường Kim Long")
    # The pack as an older list would have left it: one commune under its earlier name (same code), two the
    # package no longer has (one of them named in the province's routing rule), one the package added since.
    _edit(agencies, "name: Phường Vỹ Dạ\n", "name: Phường Vĩ Dạ\n    aliases: [Vỹ Dạ cũ]\n")
    text = agencies.read_text(encoding="utf-8")
    start = text.index(f"  - id: {kim_long.id}\n")
    end = text.index("  - id:", start + 5)
    agencies.write_text(text[:start] + text[end:], encoding="utf-8")
    _edit(agencies, "categories:\n", "  - {id: phuong-cu, name: Phường Cũ, code: 99999, agency: ubnd-phuong-cu}\n"
                                     "  - {id: xa-da-bo, name: Xã Đã Bỏ, code: 99998, agency: ubnd-xa-da-bo}\ncategories:\n")
    _edit(agencies, "communes:\n", "  - {id: ubnd-phuong-cu, name: Ủy ban nhân dân phường Cũ, kind: commune}\n"
                                   "  - {id: ubnd-xa-da-bo, name: Ủy ban nhân dân xã Đã Bỏ, kind: commune}\ncommunes:\n")
    _edit(agencies, "routing:\n", "routing:\n  - {commune: phuong-cu, agency: ttphhc, reason: Giữ nguyên}  # tỉnh tự thêm\n")
    assert load_pack(pack_dir).report.ok

    assert main(["content", "update-communes", str(pack_dir)]) == 0
    out = capsys.readouterr().out
    assert "+ Phường Kim Long" in out and "~ Phường Vĩ Dạ → Phường Vỹ Dạ" in out
    assert "- Phường Cũ (mã 99999) — còn được dùng ở routing[0]" in out and "- Xã Đã Bỏ (mã 99998)\n" in out
    assert "--apply" in out
    assert "name: Phường Vĩ Dạ" in agencies.read_text(encoding="utf-8")  # a report changes nothing

    assert main(["content", "update-communes", str(pack_dir), "--apply"]) == 0
    after = load_pack(pack_dir)
    assert after.report.ok
    communes = {c.name: c for c in after.agencies.communes}
    agency_ids = {a.id: a for a in after.agencies.agencies}
    assert communes["Phường Vỹ Dạ"].aliases == ["Vỹ Dạ cũ", "Phường Vĩ Dạ"]
    assert agency_ids[communes["Phường Vỹ Dạ"].agency].name == "Ủy ban nhân dân phường Vỹ Dạ"
    assert communes["Phường Kim Long"].code == kim_long.code
    assert agency_ids[communes["Phường Kim Long"].agency].kind == "commune"
    assert "Phường Cũ" in communes and "ubnd-phuong-cu" in agency_ids  # still routed to: the province decides
    assert "Xã Đã Bỏ" not in communes and "ubnd-xa-da-bo" not in agency_ids
    assert after.agencies.routing[0].commune == "phuong-cu"
    assert "# tỉnh tự thêm" in agencies.read_text(encoding="utf-8")  # comments survive the rewrite
    assert {c.code for c in after.agencies.communes} - {99999} == {c.code for c in before.communes}


def test_update_communes_records_codes_of_a_hand_written_pack(tmp_path, capsys) -> None:
    pack_dir = tmp_path / "content"
    shutil.copytree(REPO / "content", pack_dir)
    _edit(pack_dir / "agencies.yaml", "name: Xã Tịnh Khê\n", "name: Xã Tinh Khe\n")  # a typo: left to the province
    assert main(["content", "update-communes", str(pack_dir), "--apply"]) == 0
    out = capsys.readouterr().out
    assert "Ghi thêm mã chính thức cho 95" in out and "? Xã Tinh Khe — tên gần nhất: Xã Tịnh Khê" in out
    agencies = load_pack(pack_dir).agencies
    assert agencies.communes_source.province_code == 51
    assert [c.name for c in agencies.communes if not c.code] == ["Xã Tinh Khe"]
    assert len(agencies.communes) == 96  # its official name is not added beside it
    _edit(pack_dir / "agencies.yaml", "name: Xã Tinh Khe\n", "name: Xã Tịnh Khê\n")
    assert main(["content", "update-communes", str(pack_dir), "--apply"]) == 0
    assert all(c.code for c in load_pack(pack_dir).agencies.communes)
    capsys.readouterr()
    assert main(["content", "update-communes", str(pack_dir)]) == 0
    assert "Không có thay đổi" in capsys.readouterr().out


@pytest.mark.parametrize("typed", ["TP HCM", "hue"])
def test_content_new_command(typed: str, tmp_path: Path, capsys) -> None:
    assert main(["content", "new", "--province", typed, str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "0 lỗi" in out and "CCHC_CONTENT_DIR=" in out
    assert main(["content", "new", "--province", "Quảng Nam", str(tmp_path / "q")]) == 2
    assert "không có tỉnh, thành phố 'Quảng Nam'" in capsys.readouterr().err
