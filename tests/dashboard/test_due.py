"""Issue 15 in the dashboard: "Sắp đến hạn và quá hạn", the daily e-mail digest's lists for the official's
own agency (every agency, grouped, for admins), and the number next to its link in the menu."""
from __future__ import annotations

import datetime as dt
import html as htmllib
import re

from features.feedback.digest import build_digests, render_text
from tests.dashboard.helpers import add_official, dashboard_client, login, submit_report
from tests.feedback.test_digest import set_due_date

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # Tuesday 01/12/2026, 09:00 in Việt Nam
TOMORROW, TODAY = dt.date(2026, 12, 2), dt.date(2026, 12, 1)
ROW = re.compile(r'<tr class="status-[^"]*">(.*?)</tr>', re.S)


def text(page: str) -> str:
    """What a reader sees: tags dropped, entities decoded, white space collapsed."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split()).replace(" )", ")").replace("( ", "(")


def section(page: str, title: str) -> str:
    """The HTML from the heading starting with `title` to the next heading."""
    start = page.index(f"<h3>{title}")
    ends = [i for i in (page.find("<h3>", start + 4), page.find("<h2>", start + 4), page.find("</main>")) if i > 0]
    return page[start:min(ends, default=len(page))]


def rows(fragment: str) -> list[list[str]]:
    """Each table row's cells as text."""
    return [[text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in ROW.findall(fragment)]


async def _reports(bot):
    """Reports of two agencies with last days around NOW; returns {name: (id, display code)}."""
    bot.services.clock = lambda: NOW
    specs = {  # name: (category → agency, last day)
        "centre_late": ("thu-tuc", dt.date(2026, 11, 26)), "centre_late2": ("thu-tuc", dt.date(2026, 11, 30)),
        "centre_tomorrow": ("thu-tuc", TOMORROW), "centre_today": ("thu-tuc", TODAY),
        "centre_later": ("thu-tuc", dt.date(2026, 12, 8)), "centre_done": ("thu-tuc", dt.date(2026, 11, 20)),
        "tech_late": ("dvc-loi", dt.date(2026, 11, 27)), "tech_tomorrow": ("dvc-loi", TOMORROW),
    }
    made = {}
    for n, (name, (category, day)) in enumerate(specs.items()):
        rid, code, agency = await submit_report(bot, category=category, external_id=f"95{n:02d}",
                                                commune=None if name == "centre_late2" else "xa-tinh-khe")
        assert agency == {"thu-tuc": "ttphhc", "dvc-loi": "so-khcn"}[category]
        await set_due_date(bot, rid, day)
        made[name] = (rid, code)
    service = bot.services.extra["feedback"]
    from features.feedback.permissions import Actor

    await service.resolve(Actor(None, "test", "ttphhc", "admin"), made["centre_done"][0], "Đã giải quyết xong")
    return made


async def test_an_officer_sees_their_agencys_overdue_and_due_tomorrow_reports_only(bot):
    made = await _reports(bot)
    service = bot.services.extra["feedback"]
    await add_official(bot, "tt.officer", "ttphhc", "officer")
    await add_official(bot, "kt.officer", "so-khcn", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.officer")
        response = await client.get("/dashboard/due")
        assert response.status == 200
        page = await response.text()
        seen = text(page)
        assert "Sắp đến hạn và quá hạn" in seen and "Đến hạn (3)" in seen  # the menu link counts them
        overdue, tomorrow = rows(section(page, "Quá hạn")), rows(section(page, "Đến hạn ngày mai"))
        category, commune = service.category_title("thu-tuc"), service.commune_name("xa-tinh-khe")
        new = service.status_label("new")
        assert overdue == [
            [made["centre_late"][1], category, commune, "hết ngày 26/11/2026 Quá hạn 5 ngày", new],
            [made["centre_late2"][1], category, "Không rõ", "hết ngày 30/11/2026 Quá hạn 1 ngày", new],
        ]
        assert tomorrow == [[made["centre_tomorrow"][1], category, commune, "hết ngày 02/12/2026", new]]
        assert f'href="/dashboard/reports/{made["centre_late"][0]}"' in page
        for hidden in ("centre_today", "centre_later", "centre_done", "tech_late", "tech_tomorrow"):
            assert made[hidden][1] not in page, hidden
        report = await client.get(f"/dashboard/reports/{made['centre_tomorrow'][0]}")  # the code's link works
        assert report.status == 200 and made["centre_tomorrow"][1] in await report.text()

    async with dashboard_client(bot) as client:  # the other agency: its own two, none of the centre's
        await login(client, "kt.officer")
        page = await (await client.get("/dashboard/due")).text()
        assert "Đến hạn (2)" in text(page)
        assert [r[0] for r in rows(page)] == [made["tech_late"][1], made["tech_tomorrow"][1]]
        assert not any(code in page for name, (_, code) in made.items() if not name.startswith("tech"))
        queue = text(await (await client.get("/dashboard/")).text())
        assert "Đến hạn (2)" in queue  # the number is in the menu of every page


async def test_an_admin_sees_every_agency_grouped(bot):
    made = await _reports(bot)
    await add_official(bot, "admin", "ttphhc", "admin")
    names = {a.id: a.name for a in bot.services.pack.agencies.agencies}
    async with dashboard_client(bot) as client:
        await login(client, "admin")
        page = await (await client.get("/dashboard/due")).text()
    seen = text(page)
    assert "Đến hạn (5)" in seen
    groups = re.findall(r'<section class="card due-agency" id="don-vi-([^"]+)">\s*<h2>([^<]+)</h2>', page)
    assert groups == [("ttphhc", htmllib.escape(names["ttphhc"])), ("so-khcn", htmllib.escape(names["so-khcn"]))]
    tech = page[page.index('id="don-vi-so-khcn"'):]
    assert [r[0] for r in rows(tech)] == [made["tech_late"][1], made["tech_tomorrow"][1]]
    assert f"{names['so-khcn']} (1 quá hạn, 1 đến hạn)" in seen


async def test_the_page_lists_what_the_daily_email_says(bot):
    await _reports(bot)
    service = bot.services.extra["feedback"]
    await add_official(bot, "tt.lead", "ttphhc", "supervisor")  # the receiving unit's supervisor sees all
    digests = await build_digests(bot.services.store.sessions, bot.services.pack.config.timezone, NOW)
    async with dashboard_client(bot) as client:
        await login(client, "tt.lead")
        page = await (await client.get("/dashboard/due")).text()
    assert {d.agency_id for d in digests} == {"ttphhc", "so-khcn"}
    for digest in digests:
        mail = render_text(digest, digest.agency_id, statuses={"new": service.status_label("new")})
        # the e-mail's lines: "  CODE  hạn hết ngày dd/mm/yyyy[, quá hạn N ngày]  (category, commune, status)"
        listed = {title: re.findall(r"^  (\S+)  hạn (hết ngày [\d/]+)(?:, quá hạn (\d+) ngày)?", part, re.M)
                  for title, part in zip(("Quá hạn", "Đến hạn ngày mai"), mail.split("Đến hạn ngày mai:"))}
        group = page[page.index(f'id="don-vi-{digest.agency_id}"'):]
        group = group[:group.index("</section>")]
        for title, expected in listed.items():
            shown = [(r[0], *re.fullmatch(r"(hết ngày [\d/]+)(?: Quá hạn (\d+) ngày)?", r[3]).groups(""))
                     for r in rows(section(group, title))]
            assert shown == expected and expected, (digest.agency_id, title)


async def test_nothing_due_says_so_in_vietnamese_and_the_menu_has_no_number(bot):
    bot.services.clock = lambda: NOW
    await add_official(bot, "tp.officer", "so-tu-phap", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tp.officer")
        response = await client.get("/dashboard/due")
        seen = text(await response.text())
    assert response.status == 200
    assert "Không có phản ánh nào quá hạn hoặc đến hạn ngày mai của đơn vị bạn." in seen
    assert "Đến hạn (" not in seen and "Đến hạn" in seen


async def test_the_page_needs_a_login(bot):
    async with dashboard_client(bot) as client:
        response = await client.get("/dashboard/due", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/dashboard/login")


async def test_a_failing_count_leaves_the_menu_without_a_number_and_the_page_works(bot, caplog):
    await _reports(bot)
    service = bot.services.extra["feedback"]
    await add_official(bot, "tt.officer", "ttphhc", "officer")

    async def broken(actor):  # noqa: ANN001 - e.g. the database is briefly unreachable for this one query
        raise ConnectionError("db gone")

    service.deadline_count = broken
    async with dashboard_client(bot) as client:
        await login(client, "tt.officer")
        response = await client.get("/dashboard/")
        seen = text(await response.text())
    assert response.status == 200 and "Đến hạn" in seen and "Đến hạn (" not in seen
    assert "nav count due failed: ConnectionError" in caplog.text
