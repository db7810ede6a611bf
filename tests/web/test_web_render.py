"""The web emitter (core.render.to_web_html), replies as widget messages, and the web chat settings."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.web.adapter import render_reply
from channels.web.config import WebchatConfig
from channels.web.limits import SlidingWindow
from channels.web.uploads import sniff
from core.render import to_web_html
from core.types import Button, ButtonKind, ContactCard, Reply


def test_markdown_subset_to_safe_html():
    html = to_web_html("**Bước 1** <img src=x onerror=alert(1)>\n\n- một [Cổng](https://a.vn/?a=1&b=\"2\")\n"
                       "- hai [x](javascript:alert(1))\n\n3. ba\n4. bốn\n[Gọi](tel:1800 1096)")
    assert html == (
        "<p><strong>Bước 1</strong> &lt;img src=x onerror=alert(1)&gt;</p>\n"
        '<ul><li>một <a href="https://a.vn/?a=1&amp;b=&quot;2&quot;" rel="noopener noreferrer" target="_blank">'
        "Cổng</a></li><li>hai x: javascript:alert(1)</li></ul>\n"
        '<ol start="3"><li>ba</li><li>bốn</li></ol>\n<p>[Gọi](tel:1800 1096)</p>')
    assert to_web_html("") == "" and to_web_html("  \n ") == ""


@given(st.text())
def test_citizen_text_never_becomes_markup(text):
    html = to_web_html(text)
    for tag in ("<p>", "</p>", "<br>", "<ul>", "</ul>", "<ol>", "</ol>", "<li>", "</li>", "<strong>", "</strong>"):
        html = html.replace(tag, "")
    html = html.replace('<ol start="', "")
    import re

    html = re.sub(r'<a href="[^"<>]*"( rel="noopener noreferrer" target="_blank")?>|</a>', "", html)
    assert "<" not in html and ">" not in html.replace("&gt;", "")


def test_reply_as_widget_message():
    reply = Reply(text="Chọn:", buttons=[
        [Button("❓ Hỏi đáp", payload="m:faq"), Button("Cổng", kind=ButtonKind.URL, url="https://dichvucong.gov.vn")],
        [Button("Gọi", kind=ButtonKind.PHONE, phone="1800 1096"), Button("x", kind=ButtonKind.URL, url="javascript:x"),
         Button("SĐT", kind=ButtonKind.REQUEST_CONTACT)]],
        contact=ContactCard(phone="0255 3822 111", name="Trung tâm <PVHCC>", note="giờ hành chính"))
    body = render_reply(reply)
    assert body["html"] == "<p>Chọn:</p>"
    assert body["buttons"] == [[{"label": "❓ Hỏi đáp", "payload": "m:faq"},
                                {"label": "Cổng", "url": "https://dichvucong.gov.vn"}],
                               [{"label": "Gọi", "tel": "tel:18001096"}]]
    assert body["contact"] == {"name": "Trung tâm <PVHCC>", "phone": "0255 3822 111", "tel": "tel:02553822111",
                               "note": "giờ hành chính"}  # the widget shows the name as text, never as HTML
    assert render_reply(Reply(notice="Đã lưu")) == {"notice": "Đã lưu"}
    assert render_reply(Reply(text="a", notice="Đã lưu")) == {"html": "<p>a</p>"}


def test_settings_are_checked():
    config = WebchatConfig.from_env({"CCHC_WEBCHAT_ORIGINS": "https://A.gov.vn, http://b.vn:8080",
                                     "CCHC_WEBCHAT_SECRET": "n" * 32 + "," + "o" * 32,
                                     "CCHC_WEBCHAT_RATE_VISITOR": "5/10"})
    assert config.origins == {"https://a.gov.vn", "http://b.vn:8080"} and config.rate_visitor == (5, 10.0)
    assert config.secrets == ("n" * 32, "o" * 32)
    for env, name in [({"CCHC_WEBCHAT_ORIGINS": "https://a.vn/path"}, "CCHC_WEBCHAT_ORIGINS"),
                      ({"CCHC_WEBCHAT_SECRET": "short"}, "CCHC_WEBCHAT_SECRET"),
                      ({"CCHC_WEBCHAT_RATE_IP": "many"}, "CCHC_WEBCHAT_RATE_IP"),
                      ({"CCHC_WEBCHAT_COOKIE_SAMESITE": "Sometimes"}, "CCHC_WEBCHAT_COOKIE_SAMESITE"),
                      ({"CCHC_ZALO_OA_URL": "http://zalo.me/x"}, "CCHC_ZALO_OA_URL")]:
        with pytest.raises(ValueError, match=name):
            WebchatConfig.from_env(env, "k" * 40)
    derived = WebchatConfig.from_env({}, "k" * 40)
    assert derived.secrets == WebchatConfig.from_env({}, "k" * 40).secrets  # stable across restarts


def test_sliding_window_and_sniffing():
    now = [0.0]
    window = SlidingWindow(2, 10, clock=lambda: now[0])
    assert window.hit("a") == 0 and window.hit("a") == 0
    assert window.hit("a") == pytest.approx(10) and window.hit("b") == 0
    now[0] = 10.5
    assert window.hit("a") == 0
    assert sniff(b"%PDF-1.7 ...").type == "pdf" and sniff(b"\x89PNG\r\n\x1a\n....").kind == "photo"
    assert sniff(b"PK\x03\x04....word/document.xml").type == "docx"
    assert sniff(b"<svg onload=alert(1)>") is None and sniff(b"") is None
