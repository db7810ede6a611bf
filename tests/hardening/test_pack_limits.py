"""The per-person limits are the province's to set in its content pack: pack.yaml ``limits.turns_per_minute``
and feedback.yaml ``lookups_per_minute`` apply to the running bot; values out of range fail ``content check``
with the file and line."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.features import check as check_pack, load_pack
from core.types import Incoming
from tests.conftest import CONTENT, make_settings
from tests.feedback.conftest import Chat


def _edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


async def _bot(engine, pack_dir: Path):
    from bot.app import build_bot

    return await build_bot(make_settings(), pack=load_pack(pack_dir), engine=engine, migrate=False)


async def test_the_packs_turns_per_minute_applies(db_engine, pack_dir: Path) -> None:
    _edit(pack_dir / "pack.yaml", "turns_per_minute: 40", "turns_per_minute: 3")
    bot = await _bot(db_engine, pack_dir)
    answers = [await bot.core.handle(Incoming(channel="telegram", user_id="9971", text=f"xin chào {i}",
                                              message_id=f"m{i}")) for i in range(5)]
    assert all(a and "nhanh quá" not in a[0].text for a in answers[:3])
    assert "nhanh quá" in answers[3][0].text and answers[4] == []


async def test_no_limit_when_the_pack_says_zero(db_engine, pack_dir: Path) -> None:
    _edit(pack_dir / "pack.yaml", "turns_per_minute: 40", "turns_per_minute: 0")
    bot = await _bot(db_engine, pack_dir)
    for i in range(45):  # beyond the default 40
        [*answer] = await bot.core.handle(Incoming(channel="telegram", user_id="9972", text="xin chào"))
        assert answer and "nhanh quá" not in answer[0].text, i


async def test_the_packs_lookups_per_minute_applies(db_engine, pack_dir: Path) -> None:
    _edit(pack_dir / "feedback.yaml", "lookups_per_minute: 5", "lookups_per_minute: 2")
    bot = await _bot(db_engine, pack_dir)
    chat = Chat(bot, user_id="9973")
    for guess in ("ABCD-EFGH", "ABCD-EFGJ"):
        await chat.say(f"/tracuu {guess}")
        assert "vui lòng chờ" not in chat.text
    await chat.say("/tracuu ABCD-EFGK")
    assert "đã tra cứu 2 mã trong một phút" in chat.text and "vui lòng chờ khoảng một phút" in chat.text


def test_limits_out_of_range_are_errors_with_file_and_line(pack_dir: Path) -> None:
    _edit(pack_dir / "pack.yaml", "turns_per_minute: 40", "turns_per_minute: -1")
    _edit(pack_dir / "feedback.yaml", "lookups_per_minute: 5", "lookups_per_minute: 0")
    report = check_pack(pack_dir)
    assert not report.ok
    text = report.render()
    assert "pack.yaml" in text and "turns_per_minute" in text
    assert "feedback.yaml" in text and "lookups_per_minute" in text


def test_a_pack_without_the_fields_gets_the_defaults(pack_dir: Path) -> None:
    _edit(pack_dir / "pack.yaml", "limits:\n", "unused_limits:\n")
    (pack_dir / "pack.yaml").write_text("\n".join(
        line for line in (pack_dir / "pack.yaml").read_text(encoding="utf-8").splitlines()
        if "unused_limits" not in line and "turns_per_minute" not in line) + "\n", encoding="utf-8")
    _edit(pack_dir / "feedback.yaml", "lookups_per_minute: 5\n", "")
    pack = load_pack(pack_dir)
    from features.feedback.config import settings_of

    assert pack.config.limits.turns_per_minute == 40 and settings_of(pack).lookups_per_minute == 5
