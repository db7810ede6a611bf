"""The content pack: the shipped one is valid and complete; broken packs report every error with file and line."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.content import PackError
from bot.features import check as check_pack, load_pack

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "content"
SHARED = REPO.parent / "shared"


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def _replace(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(file: Path, needle: str) -> int:
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_shipped_pack_is_valid_and_warns_about_unconfirmed_values() -> None:
    report = check_pack(CONTENT)
    assert report.ok, report.render()
    assert report.warnings, "the sample cannot know provincial numbers: they must be marked !todo"
    assert all("chưa được tỉnh xác nhận" in f.message for f in report.warnings)


def test_shipped_pack_covers_every_required_faq_topic() -> None:
    topics_md = SHARED / "faq" / "topics.md"
    if not topics_md.exists():
        pytest.skip("../shared/faq/topics.md not present")
    required = {line.split("|")[1].strip() for line in topics_md.read_text(encoding="utf-8").splitlines()
                if line.startswith("| ") and not line.startswith("| id") and "---" not in line}
    pack = load_pack(CONTENT)
    assert required <= {item.entry.id for item in pack.faq}


def test_no_placeholder_reaches_citizens() -> None:
    pack = load_pack(CONTENT)
    for item in pack.faq:
        assert "None" not in item.answer and "!todo" not in item.answer and "{{" not in item.answer, item.entry.id


def test_every_error_is_reported_in_one_run_with_file_and_line(pack_copy: Path) -> None:
    hotlines = pack_copy / "hotlines.yaml"
    _replace(hotlines, 'phone: "1800 1096"', 'phone: "call us"')
    bad_phone_line = _line_of(hotlines, 'phone: "call us"')
    pack_yaml = pack_copy / "pack.yaml"
    _replace(pack_yaml, "timezone: Asia/Ho_Chi_Minh", "timezone: Mars/Olympus")
    tz_line = _line_of(pack_yaml, "Mars/Olympus")
    slogans = pack_copy / "slogans.yaml"
    slogans.write_text("slogans:\n  - text: ok slogan here\n  - source: missing text\n", encoding="utf-8")

    report = check_pack(pack_copy)
    rendered = report.render()
    assert not report.ok
    assert f"content/hotlines.yaml:{bad_phone_line}:" in rendered and "phone" in rendered
    assert f"content/pack.yaml:{tz_line}:" in rendered and "timezone" in rendered
    assert "content/slogans.yaml:3:" in rendered and "slogans[1].text" in rendered
    with pytest.raises(PackError):
        load_pack(pack_copy)


def test_yaml_syntax_error_names_the_line(pack_copy: Path) -> None:
    (pack_copy / "slogans.yaml").write_text("slogans:\n  - text: a\n    source: [unclosed\n", encoding="utf-8")
    report = check_pack(pack_copy)
    errors = [f for f in report.errors if f.file.endswith("slogans.yaml")]
    assert errors and errors[0].line >= 3 and "YAML" in errors[0].message


def test_duplicate_faq_ids_and_undefined_template_variables(pack_copy: Path) -> None:
    faq_file = sorted((pack_copy / "faq").glob("*.yaml"))[0]
    first_id = next(line.split(":", 1)[1].strip() for line in faq_file.read_text(encoding="utf-8").splitlines()
                    if line.strip().startswith("- id:"))
    (pack_copy / "faq" / "zz-extra.yaml").write_text(
        "group:\n  id: zz\n  title: Thêm\nentries:\n"
        f"  - id: {first_id}\n    title: Trùng\n    questions: [a]\n    answer: '{{{{ pack.no_such_field }}}}'\n"
        "  - id: new-one\n    title: Mới\n    questions: [b]\n    answer: x\n    action: teleport\n",
        encoding="utf-8",
    )
    rendered = check_pack(pack_copy).render()
    assert "zz-extra.yaml:5:" in rendered and "trùng" in rendered
    assert "biến không tồn tại" in rendered
    assert "zz-extra.yaml:" in rendered and "action" in rendered


def test_dangling_agency_references(pack_copy: Path) -> None:
    agencies = pack_copy / "agencies.yaml"
    text = agencies.read_text(encoding="utf-8")
    default_line = next(line for line in text.splitlines() if line.startswith("default_agency:"))
    agencies.write_text(text.replace(default_line, "default_agency: khong-ton-tai"), encoding="utf-8")
    rendered = check_pack(pack_copy).render()
    assert f"content/agencies.yaml:{_line_of(agencies, 'khong-ton-tai')}:" in rendered


def test_broken_template_and_missing_file(pack_copy: Path) -> None:
    (pack_copy / "templates" / "menu" / "main.j2").write_text("{% if %}", encoding="utf-8")
    (pack_copy / "slogans.yaml").unlink()
    rendered = check_pack(pack_copy).render()
    assert "templates/menu/main.j2:1:" in rendered
    assert "slogans.yaml: lỗi: thiếu tệp bắt buộc" in rendered


def test_an_edited_pack_is_reloaded_and_a_broken_edit_refused(pack_copy: Path) -> None:
    from core.content.watch import fingerprint, reload_if_changed
    from core.context import PackHolder

    holder = PackHolder(load_pack(pack_copy))
    rebuilt: list[object] = []
    holder.listeners.append(rebuilt.append)
    last = fingerprint(pack_copy)
    assert reload_if_changed(holder, pack_copy, last) == last and not rebuilt

    slogans = pack_copy / "slogans.yaml"
    slogans.write_text("slogans:\n  - text: Khẩu hiệu mới của tỉnh\n", encoding="utf-8")
    last = reload_if_changed(holder, pack_copy, last)
    assert [s.text for s in holder.pack.slogans.slogans] == ["Khẩu hiệu mới của tỉnh"] and len(rebuilt) == 1

    slogans.write_text("slogans: [\n", encoding="utf-8")
    reload_if_changed(holder, pack_copy, last)
    assert [s.text for s in holder.pack.slogans.slogans] == ["Khẩu hiệu mới của tỉnh"] and len(rebuilt) == 1


def test_a_missing_core_template_or_label_is_an_error(pack_copy: Path) -> None:
    (pack_copy / "templates" / "faq" / "no_match.j2").unlink()
    labels = pack_copy / "templates" / "labels" / "core.yaml"
    labels.write_text("\n".join(line for line in labels.read_text(encoding="utf-8").splitlines()
                                if not line.startswith("slogan.next:")) + "\n", encoding="utf-8")
    rendered = check_pack(pack_copy).render()
    assert "templates/faq/no_match.j2: lỗi: thiếu mẫu tin nhắn bắt buộc" in rendered
    assert "slogan.next" in rendered and "thiếu nhãn nút bắt buộc" in rendered


LONG_ID = "so-khoa-hoc-cong-nghe-ho-tro-ky-thuat-dich-vu-cong-truc-tuyen"  # 61 characters


def test_an_id_too_long_for_a_button_payload_is_an_error_with_file_line_and_field(pack_copy: Path) -> None:
    hotlines = pack_copy / "hotlines.yaml"
    _replace(hotlines, "- id: ttphhc-tinh", f"- id: {LONG_ID}")
    faq = pack_copy / "faq" / "ho-so.yaml"
    _replace(faq, "  id: ho-so", "  id: nhom-cau-hoi-ve-ho-so-va-ket-qua-giai-quyet-thu-tuc-hanh-chinh")
    _replace(faq, "- id: tra-cuu-ho-so", "- id: tra-cuu-ho-so-" + "x" * 45)  # 65 bytes with "faq:a:"

    errors = check_pack(pack_copy).errors
    by_file = {(f.file, f.line, f.field): f.message for f in errors}
    hotline = by_file[("content/hotlines.yaml", _line_of(hotlines, LONG_ID), "groups[1].entries[0].id")]
    assert f"'hl:c:{LONG_ID}' (66 byte)" in hotline and "64 byte" in hotline and "tối đa 59 ký tự" in hotline
    assert ("content/faq/ho-so.yaml", 2, "group.id") in by_file
    assert ("content/faq/ho-so.yaml", _line_of(faq, "tra-cuu-ho-so-x"), "entries[0].id") in by_file
    assert len(errors) == 3, check_pack(pack_copy).render()
    with pytest.raises(PackError):
        load_pack(pack_copy)


def test_the_longest_id_that_fits_passes(pack_copy: Path) -> None:
    hotlines = pack_copy / "hotlines.yaml"
    _replace(hotlines, "- id: ttphhc-tinh", "- id: " + "a" * 59)  # "hl:c:" + 59 = 64 bytes
    assert check_pack(pack_copy).ok


# Payload parts that are not content ids, and why they stay short: list indexes, draft ids (12 hex),
# report codes (8 characters), database row ids, turn numbers and fixed verbs.
BOUNDED_PAYLOAD_PARTS = {"i", "n", "d", "verb", "raw", "rated_turn", "b.id", "report.code",
                         "codes.normalize(done.code)", "codes.normalize(code)"}


def test_content_ids_reach_payloads_only_through_a_declared_payload_id() -> None:
    """A feature that puts a pack id into a payload declares a `PayloadId` in its PackSpec (checked by
    `content check`); an f-string payload may only carry parts of bounded length."""
    import re

    found = []
    for source in sorted((REPO / "features").rglob("*.py")):
        for match in re.finditer(r'payload=f"([^"]*)"', source.read_text(encoding="utf-8")):
            for part in re.findall(r"\{([^}]*)\}", match.group(1)):
                if part not in BOUNDED_PAYLOAD_PARTS:
                    found.append(f"{source.relative_to(REPO)}: {match.group(0)}")
    assert found == [], "declare a core.content.loader.PayloadId for these payloads"


def test_every_declared_payload_id_is_checked_in_the_running_features() -> None:
    from bot.features import pack_spec
    from features.faq import chat as faq_chat
    from features.hotlines import chat as hotline_chat

    declared = set(pack_spec().payload_ids)
    assert {*faq_chat.PAYLOAD_IDS, *hotline_chat.PAYLOAD_IDS} <= declared
    assert hotline_chat.CONTACT.payload("x") == "hl:c:x" and faq_chat.ENTRY.payload("y") == "faq:a:y"
