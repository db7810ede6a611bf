"""Officials view and download a report's attachments from the bot's file store; everyone else gets 403."""
from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import unquote

from features.feedback.attachments import intake
from features.feedback.config import settings_of
from features.feedback.dashboard.files import content_disposition, download_name
from features.feedback.service import Draft
from core.types import Attachment as Sent
from tests.dashboard.helpers import add_official, dashboard_client, login

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x22" * 300 + b"\xff\xd9"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
NAME = 'Đơn "khiếu nại"\r\nSet-Cookie: x=1; tờ trình.pdf'
FILES = {"p1": JPEG, "d1": PDF}


async def _report_with_files(bot) -> tuple[int, list[int]]:
    """A report (routed to the receiving unit, ttphhc) with a photo and a PDF, through the real intake."""
    async def download(att: Sent) -> bytes:
        return FILES[att.file_id]

    bot.services.extra["downloaders"]["telegram"] = download
    service = bot.services.extra["feedback"]
    user = await bot.services.store.touch_user("telegram", "8001", "Phạm Thị Dung")
    draft = uuid.uuid4().hex[:12]
    got = await intake(service, settings_of(bot.services.pack), user.id, draft, "telegram",
                       [Sent("photo", "p1", mime_type="image/jpeg"), Sent("document", "d1", NAME, "application/pdf")])
    assert got.count == 2 and not got.failed
    done = await service.submit(Draft(draft_id=draft, user_id=user.id, channel="telegram", category_id="thu-tuc",
                                      commune_id=None, description="Hồ sơ bị trả lại không rõ lý do, kèm ảnh.",
                                      anonymous=True))
    assert done.agency_id == "ttphhc"
    detail = await service.get_report(_admin(), done.report_id)
    return done.report_id, [a.id for a in detail.attachments]


def _admin():
    from features.feedback.permissions import Actor

    return Actor(None, "admin", "", "admin")


async def test_the_right_official_sees_thumbnails_views_images_and_downloads_files(bot) -> None:
    report_id, (photo, pdf) = await _report_with_files(bot)
    await add_official(bot, "tt.officer", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.officer")
        page = await (await client.get(f"/dashboard/reports/{report_id}")).text()
        base = f"/dashboard/reports/{report_id}/files"
        assert f'<img src="{base}/{photo}/view"' in page and f'href="{base}/{pdf}"' in page
        assert f"{base}/{pdf}/view" not in page  # a PDF is never shown inline

        image = await client.get(f"{base}/{photo}/view")
        assert image.status == 200 and await image.read() == JPEG
        assert image.headers["Content-Type"] == "image/jpeg"
        assert image.headers["X-Content-Type-Options"] == "nosniff"
        assert image.headers["Content-Disposition"].startswith("inline;")
        csp = image.headers["Content-Security-Policy"]
        assert "img-src 'self'" in csp and "sandbox" in csp and "script-src" not in csp
        assert "no-store" in image.headers["Cache-Control"]

        got = await client.get(f"{base}/{pdf}")
        assert got.status == 200 and await got.read() == PDF
        assert got.headers["Content-Type"] == "application/pdf"
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        disposition = got.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and "\r" not in disposition and "\n" not in disposition
        assert "Set-Cookie" not in got.headers
        utf8 = unquote(re.search(r"filename\*=UTF-8''(\S+)$", disposition).group(1))
        assert utf8 == 'Đơn "khiếu nại" Set-Cookie: x=1; tờ trình.pdf'
        assert (await client.get(f"{base}/{pdf}/view")).status == 404
        assert (await client.get(f"{base}/999999")).status == 404
    detail = await bot.services.extra["feedback"].get_report(_admin(), report_id)
    assert [a.details for a in detail.audit if a.action == "download"] == [{"attachment": pdf}]


async def test_another_agencys_officer_gets_not_found_and_anonymous_403_logged_without_personal_data(bot, caplog) -> None:
    caplog.set_level(logging.INFO, logger="features")
    report_id, (photo, pdf) = await _report_with_files(bot)
    official = await add_official(bot, "kt.officer", "so-khcn", "officer")
    base = f"/dashboard/reports/{report_id}/files"
    async with dashboard_client(bot) as client:
        for path in (f"{base}/{photo}/view", f"{base}/{pdf}"):
            anonymous = await client.get(path, allow_redirects=False)
            assert anonymous.status == 403 and await anonymous.read() not in (JPEG, PDF)
        await login(client, "kt.officer")
        missing = await client.get("/dashboard/reports/99999999/files/1")  # no such report
        for path in (f"{base}/{photo}/view", f"{base}/{pdf}"):
            refused = await client.get(path)
            # issue 9: out of the official's scope reads exactly like "does not exist" (no probing)
            assert refused.status == missing.status == 404
            assert await refused.read() == await missing.read()
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("features.feedback")]
    assert sum(f"official {official} refused an attachment of report {report_id}" in m for m in logged) == 2
    assert sum(f"anonymous request refused for an attachment of report {report_id}" in m for m in logged) == 2
    assert "khiếu nại" not in caplog.text and "Phạm Thị Dung" not in caplog.text and "8001" not in caplog.text
    detail = await bot.services.extra["feedback"].get_report(_admin(), report_id)
    assert [a.details for a in detail.audit if a.action == "denied"] == [{"action": "attachment"}] * 2


def test_content_disposition_is_safe_for_quotes_newlines_and_vietnamese() -> None:
    header = content_disposition('Bản "chụp"\n\\..\\hồ sơ;x.pdf')
    assert "\n" not in header and "\r" not in header and header.isascii()
    ascii_part = re.search(r'filename="([^"]*)"', header).group(1)
    assert ascii_part == "ho so_x.pdf" and header.count('"') == 2
    assert unquote(header.split("filename*=UTF-8''")[1]) == "hồ sơ;x.pdf"  # folders dropped, the rest kept
    assert content_disposition("ảnh.jpg", inline=True) == (
        "inline; filename=\"anh.jpg\"; filename*=UTF-8''%E1%BA%A3nh.jpg")
    assert content_disposition("").startswith('attachment; filename="tep-dinh-kem"')
    # the extension follows the bytes, not the name
    assert download_name("anh.jpg", "application/pdf", 7) == "anh.jpg.pdf"
    assert download_name("anh.JPEG", "image/jpeg", 7) == "anh.JPEG"
    assert download_name("", "image/png", 7) == "tep-dinh-kem-7.png"


async def test_an_attachment_kept_before_the_file_store_is_listed_but_not_served(bot) -> None:
    from features.feedback.models import Attachment

    report_id, _ = await _report_with_files(bot)
    async with bot.services.store.sessions.begin() as s:
        legacy = Attachment(report_id=report_id, channel="telegram", kind="photo", file_id="AgAC-old-telegram-id")
        s.add(legacy)
        await s.flush()
        legacy_id = legacy.id
    await add_official(bot, "tt.officer", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.officer")
        page = await (await client.get(f"/dashboard/reports/{report_id}")).text()
        assert "không tải về được" in page and f"/files/{legacy_id}" not in page
        assert (await client.get(f"/dashboard/reports/{report_id}/files/{legacy_id}")).status == 404
