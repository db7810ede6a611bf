"""Issue 9: phone and ID numbers in citizens' free text are masked for officials who do not own the text —
the "Câu hỏi chưa trả lời" page (everyone but admins), the report page and the CSV export's description
column (everyone but the report's agency and admins)."""
from __future__ import annotations

import csv
import io

import pytest

from core.masking import mask_numbers
from core.types import Incoming
from tests.dashboard.helpers import add_official, dashboard_client, login, submit_report

PHONE, SPACED, CMND = "0912 345 678", "001 203 012 345", "212345678"


@pytest.mark.parametrize(("text", "hidden"), [
    ("gọi 0912 345 678 nhé", "0912 345 678"), ("sdt +84 912.345.678", "912.345.678"),
    ("số 0912345678", "0912345678"), ("máy bàn (0255) 3822 222", "3822 222"), ("+1 415 555 0123", "415 555 0123"),
    ("CCCD 001203012345", "001203012345"), ("CMND: 212 345 678.", "212 345 678"),
])
def test_numbers_are_masked_keeping_only_their_ends(text, hidden):
    masked = mask_numbers(text)
    assert hidden not in masked and "*" in masked and masked.rstrip(".")[-3:] == text.rstrip(".")[-3:]


@pytest.mark.parametrize("text", ["hồ sơ nộp ngày 12/3/2025 lúc 10 giờ, phí 50000 đồng",
                                  "mã hồ sơ 000.00.12.H55-250312-0001", "mã tra cứu QN-7KX2-M9PA"])
def test_dates_amounts_and_codes_are_left_alone(text):
    assert mask_numbers(text) == text


async def test_unanswered_page_masks_numbers_for_every_official(bot):
    question = f"giá vàng hôm nay, gọi {PHONE}, CCCD {SPACED}"  # (an unspaced ID gets the safety answer)
    await bot.core.handle(Incoming(channel="telegram", user_id="9701", display_name="Lan", text=question))
    await add_official(bot, "un.officer", "ttphhc")
    await add_official(bot, "un.admin", "ttphhc", "admin")
    async with dashboard_client(bot) as client:
        await login(client, "un.officer")
        page = await (await client.get("/dashboard/unanswered")).text()
    assert "giá vàng" in page
    assert "345 678" not in page and SPACED not in page
    async with dashboard_client(bot) as client:  # nobody owns these texts: admins read them masked too
        await login(client, "un.admin")
        page = await (await client.get("/dashboard/unanswered")).text()
    assert "giá vàng" in page and "345 678" not in page and SPACED not in page


async def test_export_and_report_page_mask_the_description_for_other_agencies(bot):
    description = f"Cổng dịch vụ công báo lỗi khi thanh toán; gọi {PHONE}, CMND {CMND}"
    rid, code, agency = await submit_report(bot, category="dvc-loi", external_id="9702", description=description)
    assert agency == "so-khcn"
    await add_official(bot, "rx.lead", "ttphhc", "supervisor")  # sees every report, owns none of these
    await add_official(bot, "kt.owner", "so-khcn")

    async def export(username: str) -> dict[str, str]:
        async with dashboard_client(bot) as client:
            await login(client, username)
            body = await (await client.get("/dashboard/export.csv")).read()
            page = await (await client.get(f"/dashboard/reports/{rid}")).text()
        rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8")), delimiter=";"))
        row = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}[code]
        return {"csv": row["Nội dung"], "page": page}

    outsider = await export("rx.lead")
    assert "thanh toán" in outsider["csv"] and PHONE not in outsider["csv"] and CMND not in outsider["csv"]
    assert PHONE not in outsider["page"] and CMND not in outsider["page"]
    owner = await export("kt.owner")
    assert PHONE in owner["csv"] and CMND in owner["csv"] and PHONE in owner["page"]
