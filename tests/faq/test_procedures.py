"""The procedures catalogue: validated with file and line, unconfirmed values never shown, and a citizen
asking "can I do X online" gets the procedure card."""
from __future__ import annotations

import shutil
from pathlib import Path

from core.content import load_pack
from core.content.loader import check_pack
from core.render import to_plain
from tests.test_core import payloads, said

CONTENT = Path(__file__).resolve().parents[2] / "content"


def test_every_shown_value_has_a_source_and_todo_values_are_never_rendered(pack) -> None:
    catalogue = pack.extras["procedures"]
    assert len(catalogue.procedures) >= 15
    todo_notes = [line for line in (CONTENT / "procedures.yaml").read_text(encoding="utf-8").splitlines() if "!todo" in line]
    assert todo_notes, "the sample leaves unconfirmed values to the province"
    for p in catalogue.procedures:
        if p.online is not None or p.documents or p.fee or p.time_limit or p.agency:
            assert p.sources and all(s in catalogue.sources for s in p.sources), p.id
        text = pack.texts.render("faq/procedure", p=p, sources=[], ask_rating=False)
        assert "None" not in text and "!todo" not in text and "ghi nguồn" not in text, p.id
        assert p.name in to_plain(text)  # the name is escaped in the Markdown source, shown as typed


def test_a_missing_source_is_reported_with_file_line_and_field(tmp_path) -> None:
    shutil.copytree(CONTENT, tmp_path / "content")
    file = tmp_path / "content" / "procedures.yaml"
    text = file.read_text(encoding="utf-8").replace("sources: [nhandan-lltp-vneid]", "sources: [khong-co]", 1)
    file.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "khong-co" in row)
    report = check_pack(tmp_path / "content")
    assert not report.ok
    rendered = report.render()
    assert f"procedures.yaml:{line}" in rendered and "sources[0]" in rendered and "khong-co" in rendered


def test_a_procedure_id_clashing_with_a_faq_entry_is_an_error(tmp_path) -> None:
    shutil.copytree(CONTENT, tmp_path / "content")
    file = tmp_path / "content" / "procedures.yaml"
    file.write_text(file.read_text(encoding="utf-8").replace("id: tt-khai-tu", "id: lien-thong-khai-sinh", 1),
                    encoding="utf-8")
    assert "trùng" in check_pack(tmp_path / "content").render()


def test_a_pack_without_a_catalogue_still_loads(tmp_path) -> None:
    shutil.copytree(CONTENT, tmp_path / "content")
    (tmp_path / "content" / "procedures.yaml").unlink()
    assert "procedures" not in load_pack(tmp_path / "content").extras


async def test_can_i_do_it_online_gets_the_procedure_card(bot) -> None:
    [reply] = await bot.core.handle(said(text="xin phiếu lý lịch tư pháp qua vneid được không"))
    assert "Cấp Phiếu lý lịch tư pháp" in reply.text and "VNeID" in reply.text and "Nguồn:" in reply.text
    assert any(p.startswith("faq:r:") for p in payloads(reply))
    [listing] = await bot.core.handle(said(payload="faq:g:thu-tuc"))
    assert "faq:a:tt-ly-lich-tu-phap" in payloads(listing)
