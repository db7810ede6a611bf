"""Attachments belong to the bot: at intake every photo or file is downloaded from Telegram (the real PTB
adapter as bot/app.py wires it, the inbox, and the fake Bot API, which serves files via getFile +
/file/bot<token>/<path>) into the file store."""
from __future__ import annotations

import hashlib
import logging

import pytest
from sqlalchemy import select

from features.feedback.models import Attachment
from tests.fakes.telegram_harness import scripted_telegram, telegram_harness
from tests.feedback.conftest import JPEG, payload_has, receiving_supervisor

USER = 515151
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"


def _payload(msgs, needle: str) -> str:
    for m in reversed(msgs):
        for data in m.callback_data:
            if payload_has(data, needle):
                return data
    raise AssertionError(f"no button {needle!r} in {[m.callback_data for m in msgs]}")


def _plain(msgs) -> str:
    return "\n".join(m.plain for m in msgs)


async def _to_attachments_step(h) -> None:
    msgs = await h.say(USER, "/phananh")
    msgs = await h.press(USER, _payload(msgs, ":c:1"))
    msgs = await h.say(USER, "ba to")
    await h.press(USER, _payload(msgs, ":m:"))
    msgs = await h.say(USER, "Bộ phận một cửa trả hồ sơ trễ hẹn mà không xin lỗi.")
    assert "Bước 4/5" in _plain(msgs)


async def _send_anonymously(h, msgs) -> str:
    msgs = await h.press(USER, _payload(msgs, ":a:done"))
    msgs = await h.press(USER, _payload(msgs, ":p:anon"))
    summary = _plain(msgs)
    msgs = await h.press(USER, _payload(msgs, ":s"))
    assert "đã được gửi" in _plain(msgs)
    return summary


async def test_photos_and_files_are_downloaded_into_the_store_at_intake(bot, pack, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="features")
    caplog.set_level(logging.DEBUG, logger="channels")
    store = bot.services.extra["files"]
    async with telegram_harness(bot) as h:
        assert bot.services.extra["downloaders"]["telegram"] == h.channel.download  # bot.app.add_telegram
        await _to_attachments_step(h)
        msgs = await h.after(h.api.user_sends_photo(USER, data=JPEG))
        assert "1/5" in _plain(msgs)
        # a PDF the citizen named "….jpg" (and Telegram calls image/jpeg) is kept as what its bytes are
        name = 'Biên bản "gốc"\nlần 2.jpg'
        msgs = await h.after(h.api.user_sends_document(USER, name, data=PDF, mime_type="image/jpeg"))
        assert "2/5" in _plain(msgs)
        msgs = await h.after(h.api.user_sends_photo(USER, data=JPEG))  # the same photo again: kept once
        assert "2/5" in _plain(msgs)
        summary = await _send_anonymously(h, msgs)
        assert "Ảnh/tệp kèm theo: 2" in summary
    service = bot.services.extra["feedback"]
    [item] = (await service.list_queue(receiving_supervisor(pack))).items
    kept = (await service.get_report(receiving_supervisor(pack), item.id)).attachments
    assert [(a.kind, a.mime_type, a.size, a.file_name) for a in kept] == [
        ("photo", "image/jpeg", len(JPEG), ""), ("document", "application/pdf", len(PDF), 'Biên bản "gốc" lần 2.jpg')]
    assert [a.sha256 for a in kept] == [hashlib.sha256(JPEG).hexdigest(), hashlib.sha256(PDF).hexdigest()]
    for a in kept:
        assert await store.exists(a.sha256) and b"".join([c async for c in store.open(a.sha256)]) in (JPEG, PDF)
        assert a.file_id  # the platform id is kept as a reference, but is no longer the only one
    assert "Biên bản" not in caplog.text and kept[0].file_id not in caplog.text


async def test_a_failed_or_refused_attachment_keeps_the_report_and_is_named(bot, pack, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with telegram_harness(bot) as h:
        await _to_attachments_step(h)
        h.api.fail_next("getFile", 400, description="Bad Request: wrong file_id or the file is temporarily unavailable")
        msgs = await h.after(h.api.user_sends_document(USER, "to_khai.pdf", data=PDF))
        said = _plain(msgs)
        assert "to_khai.pdf" in said and "chưa tải được" in said and "0/5" in said and "vẫn được giữ" in said
        # bytes that are not an accepted type (an HTML page called anh.jpg) are refused, by name
        msgs = await h.after(h.api.user_sends_document(USER, "anh.jpg", data=b"<html><script>x</script></html>",
                                                       mime_type="image/jpeg"))
        assert "anh.jpg" in _plain(msgs) and "không được nhận" in _plain(msgs) and "0/5" in _plain(msgs)
        # larger than the pack's attachment_max_mb (10): refused from the declared size, nothing downloaded
        before = len(h.api.calls("getFile"))
        msgs = await h.after(h.api.user_sends_photo(USER, data=JPEG + b"\0" * (10 * 1024 * 1024)))
        assert "Ảnh" in _plain(msgs) and "lớn hơn 10 MB" in _plain(msgs)
        assert len(h.api.calls("getFile")) == before
        msgs = await h.after(h.api.user_sends_photo(USER, data=JPEG))  # a good one still goes in
        assert "1/5" in _plain(msgs)
        summary = await _send_anonymously(h, msgs)
        assert "Ảnh/tệp kèm theo: 1" in summary  # only the saved file is counted
    async with bot.services.store.sessions() as s:
        rows = (await s.execute(select(Attachment))).scalars().all()
    assert [(r.mime_type, r.sha256) for r in rows] == [("image/jpeg", hashlib.sha256(JPEG).hexdigest())]
    assert rows[0].report_id is not None
    assert "to_khai" not in caplog.text and "PermanentError" in caplog.text


async def test_without_a_downloader_the_citizen_is_told_and_no_file_id_is_kept(bot, pack) -> None:
    """A channel that cannot fetch files (no downloader registered, no sender with a `download`)."""
    from core.types import Attachment as Sent
    from tests.feedback.conftest import Chat

    chat = Chat(bot, user_id=str(USER))
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:1"))
    await chat.say("ba to")
    await chat.press(chat.payload(":m:"))
    await chat.say("Bộ phận một cửa trả hồ sơ trễ hẹn mà không xin lỗi.")
    assert "Bước 4/5" in chat.text
    await chat.send(attachments=(Sent("document", "F000001doc", "đơn.pdf", "application/pdf", len(PDF)),))
    assert "đơn.pdf" in chat.text and "0/5" in chat.text
    async with bot.services.store.sessions() as s:
        assert (await s.execute(select(Attachment))).scalars().all() == []


async def test_telegram_download_has_a_size_cap_and_typed_errors() -> None:
    from core.channel import FileTooLarge, PermanentError
    from core.types import Attachment as Sent

    async def unused(incoming):
        return []

    async with scripted_telegram(unused) as h:
        doc = h.api.make_document(USER, "to_khai.pdf", data=PDF)["message"]["document"]
        assert await h.channel.download(Sent("document", doc["file_id"])) == PDF
        h.channel.download_max_bytes = len(PDF) - 1
        with pytest.raises(FileTooLarge):  # declared by the message: no request at all
            await h.channel.download(Sent("document", doc["file_id"], size=len(PDF)))
        calls = len(h.api.calls("getFile"))
        with pytest.raises(FileTooLarge):  # not declared: getFile's file_size is checked before the transfer
            await h.channel.download(Sent("document", doc["file_id"]))
        assert len(h.api.calls("getFile")) == calls + 1
        with pytest.raises(PermanentError):
            await h.channel.download(Sent("document", "no-such-file"))


async def test_a_photo_whose_caption_is_the_description_still_says_it_was_not_saved(bot) -> None:
    from core.channel import TransientError
    from tests.feedback.conftest import Chat

    async def broken(attachment):
        raise TransientError("network down")

    bot.services.extra["downloaders"]["telegram"] = broken
    chat = Chat(bot, user_id="3003")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.press(chat.payload(":m:x"))
    await chat.photo("p-1", caption="Bộ phận một cửa đòi bản sao công chứng không có trong quy định.")
    assert "Ảnh: hệ thống chưa tải được" in chat.text and "Bước 4/5" in chat.text  # told, and the flow goes on
    assert await bot.services.extra["feedback"].draft_attachment_count(
        (await bot.services.store.find_user("telegram", "3003")).id, chat.payload(":a:").split(":")[1]) == 0


async def test_0009_downgrade_and_upgrade(db_engine) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from bot.database import MIGRATIONS_DIR
    from core.storage.db import alembic_config

    def run(sync_conn, target: str, down: bool) -> None:
        cfg = alembic_config(MIGRATIONS_DIR)
        cfg.attributes["connection"] = sync_conn
        (command.downgrade if down else command.upgrade)(cfg, target)

    def columns(sync_conn) -> set[str]:
        return {c["name"] for c in inspect(sync_conn).get_columns("feedback_attachments")}

    async with db_engine.begin() as conn:
        assert "sha256" in await conn.run_sync(columns)
        await conn.run_sync(run, "0008", True)
        assert "sha256" not in await conn.run_sync(columns) and "file_id" in await conn.run_sync(columns)
        await conn.run_sync(run, "head", False)
        assert "sha256" in await conn.run_sync(columns)
