"""Cadence, stale-schedule confirmation, the content files and the rendered forms."""
from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from features.bulletin.content import load_bulletin_section, next_slot, parse_sections
from features.bulletin.models import SCHEDULED, SENDING
from features.bulletin.render import UNSUBSCRIBE_PAYLOAD, WebRenderer, chat_replies
from features.bulletin.scheduler import Scheduler
from core.content.report import Report
from core.content.yamlsource import read_yaml
from core.render import utf16_len
from tests.bulletin.helpers import add_subscribers, make_bulletin

UTC = dt.UTC


def test_next_slot_follows_the_cadence(pack) -> None:
    settings = pack.extras["bulletin"].settings
    # 02:00 UTC on 1 Dec = 09:00 in Vietnam: past the 08:00 slot -> the 16th at 08:00 (01:00 UTC)
    assert next_slot(dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC), settings, "Asia/Ho_Chi_Minh") == \
        dt.datetime(2026, 12, 16, 1, 0, tzinfo=UTC)
    assert next_slot(dt.datetime(2026, 12, 20, tzinfo=UTC), settings, "Asia/Ho_Chi_Minh") == \
        dt.datetime(2027, 1, 1, 1, 0, tzinfo=UTC)


async def test_due_issue_starts_once_even_with_two_schedulers(bot) -> None:
    service = bot.services.extra["bulletin"]
    await add_subscribers(bot.engine, 5)
    bid = await make_bulletin(service.store)
    at = dt.datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert await service.schedule(bid, at) == at
    early = await Scheduler(service).tick(at - dt.timedelta(minutes=1))
    assert early == {"started": [], "held": []}
    results = await asyncio.gather(Scheduler(service).tick(at + dt.timedelta(minutes=1)),
                                   Scheduler(service).tick(at + dt.timedelta(minutes=1)))
    assert sorted(len(r["started"]) for r in results) == [0, 1]
    b = await service.store.get(bid)
    assert b.status == SENDING and b.audience == 5


async def test_stale_issue_waits_for_confirmation(bot) -> None:
    service = bot.services.extra["bulletin"]
    await add_subscribers(bot.engine, 3)
    bid = await make_bulletin(service.store)
    at = dt.datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    await service.schedule(bid, at)
    late = at + dt.timedelta(hours=service.settings.stale_after_hours + 1)
    assert await Scheduler(service).tick(late) == {"started": [], "held": [bid]}
    assert await Scheduler(service).tick(late) == {"started": [], "held": []}  # stays held, no repeat
    b = await service.store.get(bid)
    assert b.status == SCHEDULED and b.held_at is not None
    assert [h.id for h in await service.store.held()] == [bid]
    assert await service.confirm(bid, by="lanh-dao")
    b = await service.store.get(bid)
    assert b.status == SENDING and b.confirmed_by == "lanh-dao" and b.audience == 3
    assert not await service.confirm(bid, by="x")


async def test_a_little_late_still_goes_out(bot) -> None:
    service = bot.services.extra["bulletin"]
    bid = await make_bulletin(service.store)
    at = dt.datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    await service.schedule(bid, at)
    assert (await Scheduler(service).tick(at + dt.timedelta(hours=1)))["started"] == [bid]


async def test_import_files(bot) -> None:
    service = bot.services.extra["bulletin"]
    r = await service.import_files()
    assert (r.created, r.updated) == (2, 0)
    r = await service.import_files()
    assert (r.created, r.unchanged) == (0, 2)
    b = await service.store.by_number(21)
    assert b.source == "file" and "VNeID" in b.title and b.status == "draft"


def test_shipped_bulletins_are_valid(pack) -> None:
    content = pack.extras["bulletin"]
    assert [i.front.number for i in content.issues] == [21, 22]
    assert {t.id for t in content.settings.topics} == {"chung", "dich-vu-cong", "chuyen-doi-so"}
    assert content.settings.cadence.days == [1, 16] and content.settings.cadence.time == "08:00"


def test_content_errors_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bulletins").mkdir()
    (tmp_path / "bulletin.yaml").write_text("topics:\n  - id: chung\n    title: Chung\n", encoding="utf-8")
    (tmp_path / "bulletins" / "a.md").write_text(
        "---\nnumber: 1\ndate: 2026-11-01\ntitle: Tiêu đề\ntopics: [chung, khong-co]\n---\n## Mục\nNội dung\n",
        encoding="utf-8")
    (tmp_path / "bulletins" / "b.md").write_text("---\nnumber: x\n---\n", encoding="utf-8")
    report = Report(root=tmp_path)
    load_bulletin_section(read_yaml(tmp_path / "bulletin.yaml"), report)
    found = {(f.file.split("/")[-1], f.field): f.line for f in report.errors}
    assert found[("a.md", "topics[1]")] == 5
    assert found[("b.md", "number")] == 2


async def test_long_issue_is_split_cleanly_with_unsubscribe_under_the_last_part(bot, pack) -> None:
    service = bot.services.extra["bulletin"]
    body = "\n\n".join(f"## Mục {i}\n" + ("Người dân nộp hồ sơ trực tuyến **dễ dàng**. " * 40) for i in range(8))
    bid = await make_bulletin(service.store, body=body, links=[{"title": "Cổng DVC", "url": "https://dichvucong.gov.vn"}])
    b = await service.store.get(bid)
    replies = chat_replies(pack, b)
    assert len(replies) > 1
    assert all(utf16_len(r.text) <= 4096 for r in replies)
    assert all(r.text.count("**") % 2 == 0 for r in replies)  # no bold span cut in half
    assert [UNSUBSCRIBE_PAYLOAD in [x.payload for row in r.buttons for x in row] for r in replies] == \
        [False] * (len(replies) - 1) + [True]
    assert parse_sections("Mở đầu\n## A\nx\n## B\ny") == [("", "Mở đầu"), ("A", "x"), ("B", "y")]


async def test_web_archive_escapes_and_links(bot, pack) -> None:
    service = bot.services.extra["bulletin"]
    bid = await make_bulletin(service.store, number=5, title="Tin <script>", body="## Mục\n- một **hai**\n")
    await service.store.start(bid, ["telegram"], dt.datetime.now(UTC), from_=("draft",))
    b = await service.store.get(bid)
    html = WebRenderer(pack).issue(b, "/bantin")
    assert "&lt;script&gt;" in html and "<script>" not in html and "<ul><li>một <strong>hai</strong></li></ul>" in html
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(bot.web_app())) as client:
        r = await client.get("/bantin")
        assert r.status == 200 and "/bantin/5" in await r.text()
        r = await client.get("/bantin/5")
        assert r.status == 200 and "Số 5" in await r.text()
        assert (await client.get("/bantin/6")).status == 404


def test_paid_broadcast_setting_and_the_free_rate_limit() -> None:
    import pytest
    from pydantic import ValidationError

    from features.bulletin.content import Delivery

    assert Delivery().paid_broadcast == []
    with pytest.raises(ValidationError, match="paid_broadcast"):
        Delivery(rates={"telegram": 100})  # above Telegram's free 30 msg/s without paid broadcast
    with pytest.raises(ValidationError, match="zalo_oa"):
        Delivery(channels=["zalo_oa"], paid_broadcast=["zalo_oa"])  # no such mode on Zalo
    with pytest.raises(ValidationError):
        Delivery(rates={"telegram": 1500}, paid_broadcast=["telegram"])  # paid tops out at 1000
    paid = Delivery(rates={"telegram": 1000}, paid_broadcast=["telegram", "telegram"])
    assert paid.paid_broadcast == ["telegram"]
    assert Delivery(rates={"telegram": 30}).rates == {"telegram": 30}


def test_paid_broadcast_from_bulletin_yaml(tmp_path: Path) -> None:
    from features.bulletin.service import engine_config

    path = tmp_path / "bulletin.yaml"
    path.write_text("topics: [{id: chung, title: Tin chung}]\n"
                    "delivery:\n  rates: {telegram: 1000}\n  paid_broadcast: [telegram]\n", encoding="utf-8")
    report = Report(tmp_path)
    content = load_bulletin_section(read_yaml(path), report)
    assert content is not None and not report.errors
    cfg = engine_config(content.settings)
    assert cfg.rate("telegram") == 1000 and cfg.paid_broadcast == {"telegram"}

    path.write_text("topics: [{id: chung, title: Tin chung}]\ndelivery:\n  rates: {telegram: 1000}\n",
                    encoding="utf-8")
    report = Report(tmp_path)
    assert load_bulletin_section(read_yaml(path), report) is None
    assert any("paid_broadcast" in str(e) for e in report.errors)
