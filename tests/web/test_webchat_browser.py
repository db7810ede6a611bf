"""The widget in headless Chromium, embedded in a portal page on another origin (tests/web/browser.py)."""
from __future__ import annotations

import re

from channels.web.identity import COOKIE
from core.types import Reply
from tests.web.browser import portal_with_widget, tiny_png

LAST_ANSWER = ".wc-out .wc-text >> nth=-1"


async def press(page, label: str) -> None:
    await page.locator(".wc-btn", has_text=label).last.click()


async def wait_answer(page, text: str) -> None:
    await page.locator(".wc-out .wc-text", has_text=text).last.wait_for()


async def test_portal_visitor_asks_reports_with_photo_and_sees_the_official_answer(sqlite_engine, pack, tmp_path):
    async with portal_with_widget(sqlite_engine, pack, tmp_path) as b:
        page, shots = b.page, b.shots
        await page.goto(b.portal_url + "/")
        launcher = page.locator(".wc-launcher")
        await launcher.wait_for()
        assert await launcher.get_attribute("aria-expanded") == "false"
        colour = await launcher.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(11, 92, 173)"  # the widget's stylesheet loaded under the portal's strict CSP
        await page.screenshot(path=str(shots / "widget-closed-1280.png"))

        await launcher.click()
        await wait_answer(page, "Xin chào")  # the greeting and the main menu, without typing anything
        await page.locator(".wc-btn", has_text="Phản ánh").first.wait_for()
        await page.screenshot(path=str(shots / "widget-menu-1280.png"))

        # a question typed without diacritics gets the FAQ answer, with its list and bold text kept
        await page.fill(".wc-input", "lam the nao de nop ho so truc tuyen")
        await page.keyboard.press("Enter")
        answer = page.locator(".wc-out .wc-text", has_text="Nộp hồ sơ trực tuyến như thế nào?").last
        await answer.locator("ol li").nth(2).wait_for()
        assert await answer.locator("strong", has_text="VNeID").count() >= 1
        link = answer.locator("a[href='https://dichvucong.gov.vn']")
        assert await link.get_attribute("rel") == "noopener noreferrer"

        # the whole report flow, with a photo
        await press(page, "Menu chính")
        await press(page, "📝 Phản ánh")
        await press(page, "Thủ tục hành chính")
        await press(page, "Không rõ")
        await page.fill(".wc-input", "Cán bộ một cửa yêu cầu nộp thêm giấy tờ không có trong quy định.")
        await page.keyboard.press("Enter")
        await wait_answer(page, "Bước 4/5")
        photo = tmp_path / "hien-truong.png"
        photo.write_bytes(tiny_png())
        await page.set_input_files(".wc-file", str(photo))
        await wait_answer(page, "Đã nhận 1/")
        assert await page.locator(".wc-in", has_text="hien-truong.png").count() == 1
        await page.screenshot(path=str(shots / "widget-report-1280.png"))
        await press(page, "Xong")
        await press(page, "Gửi ẩn danh")
        await wait_answer(page, "Bước")  # the summary
        await press(page, "📨 Gửi")
        await wait_answer(page, "Mã tra cứu")
        code = re.search(r"Mã tra cứu:\s*([A-Z0-9-]{6,})", await page.locator(LAST_ANSWER).inner_text())
        assert code, "no tracking code in the answer"

        # an official's answer, sent through the channel, appears in the open panel without a reload
        cookie = next(c for c in await b.context.cookies() if c["name"] == COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        visitor = b.bot.senders["web"].signer.visitor(cookie["value"])[0]
        channel = b.bot.senders["web"]
        await channel.send(visitor, [Reply(text=f"Phản ánh {code.group(1)}: **đã có kết quả** xử lý.")])
        await wait_answer(page, "đã có kết quả")

        # closed, a later message shows as an unread badge on the button
        await page.keyboard.press("Escape")
        await channel.send(visitor, [Reply(text="Cơ quan đã gửi văn bản trả lời.")])
        badge = page.locator(".wc-badge")
        await badge.wait_for()
        assert await badge.inner_text() == "1"
        assert "1 tin nhắn mới" in await launcher.get_attribute("aria-label")

        await page.set_viewport_size({"width": 360, "height": 740})
        await page.screenshot(path=str(shots / "widget-closed-360.png"))
        await launcher.click()
        panel = await page.locator(".wc-panel").bounding_box()
        assert panel["width"] == 360 and panel["x"] == 0  # full width on a phone
        await page.screenshot(path=str(shots / "widget-report-360.png"))
        outs = await page.locator(".wc-out").count()
        await press(page, "Menu chính")
        await page.locator(f".wc-out >> nth={outs}").locator(".wc-btn", has_text="Phản ánh").wait_for()
        await page.screenshot(path=str(shots / "widget-menu-360.png"))
        assert not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not b.problems, b.problems  # no CSP violation or script error on the portal


async def test_keyboard_only(sqlite_engine, pack, tmp_path):
    async with portal_with_widget(sqlite_engine, pack, tmp_path) as b:
        page = b.page
        await page.goto(b.portal_url + "/")
        await page.locator(".wc-launcher").wait_for()

        async def focused() -> dict:
            return await page.evaluate("""() => {
                let a = document.activeElement;
                while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
                const s = getComputedStyle(a);
                return {cls: a.className || "", text: (a.textContent || "").trim(),
                        label: a.getAttribute("aria-label") || "", outline: s.outlineStyle + " " + s.outlineWidth};
            }""")

        for _ in range(5):  # the portal's own link, then the chat button
            await page.keyboard.press("Tab")
            if (await focused())["cls"] == "wc-launcher":
                break
        now = await focused()
        assert now["cls"] == "wc-launcher" and "trò chuyện" in now["label"]
        assert now["outline"] == "solid 3px"  # visible focus
        await page.keyboard.press("Enter")
        await wait_answer(page, "Xin chào")
        assert (await focused())["cls"] == "wc-input"  # typing can start at once
        await page.keyboard.type("so dien thoai duong day nong")
        await page.keyboard.press("Enter")
        await page.locator(".wc-out >> nth=-1").locator(".wc-btn, .wc-tel").first.wait_for()
        buttons = page.locator(".wc-log .wc-btn, .wc-log a")
        expected = -1
        while expected != await buttons.count():  # the turn's messages arrive together; wait until settled
            expected = await buttons.count()
            await page.wait_for_timeout(300)

        # Shift+Tab walks back through every button and link of the conversation to the close button,
        # each with a visible focus ring (the panel is not modal: Tab from "Gửi" goes on to the page)
        reached: list[dict] = []
        for _ in range(200):  # bounded; the close button ends the walk
            await page.keyboard.press("Shift+Tab")
            now = await focused()
            reached.append(now)
            assert now["outline"] == "solid 3px", now
            if now["cls"] == "wc-close":
                break
        classes = [r["cls"] for r in reached]
        assert classes[0] == "wc-attach" and classes[-2:] == ["wc-log", "wc-close"]
        assert len(classes) - 3 == await buttons.count()  # every button and link in between

        # a menu button pressed with the keyboard: the first button of the conversation
        await page.keyboard.press("Tab")  # the conversation log (scrollable with the arrow keys)
        await page.keyboard.press("Tab")
        label = (await focused())["text"]
        await page.keyboard.press("Enter")
        await page.locator(".wc-in", has_text=label).last.wait_for()
        # Escape closes the panel and gives the focus back to the chat button
        await page.keyboard.press("Escape")
        assert (await focused())["cls"] == "wc-launcher"
        assert await page.locator(".wc-panel").is_hidden()
    assert not b.problems, b.problems
