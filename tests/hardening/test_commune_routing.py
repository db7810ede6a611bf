"""Issue 9: commune-level matters go to that commune's People's Committee (rules shipped in the pack), and the
rule that matched is shown to officials by its Vietnamese name, never `rule:1`."""
from __future__ import annotations

from features.feedback.routing import route, rule_label
from tests.dashboard.helpers import add_official, dashboard_client, login
from tests.feedback.conftest import Chat, receiving_supervisor


def test_the_pack_sends_commune_matters_to_the_communes_committee(pack):
    agencies = pack.agencies
    attitude = route(agencies, "thai-do-can-bo", "xa-tinh-khe", "Cán bộ tư pháp ở xã quát tháo, gây khó khăn")
    assert attitude.agency_id == "ubnd-xa-tinh-khe"
    assert rule_label(attitude.rule) == "Quy tắc chuyển “Thái độ cán bộ, công chức cấp xã”"
    delay = route(agencies, "tre-han", "phuong-cam-thanh", "Nộp hồ sơ tại một cửa phường, trễ hẹn 10 ngày")
    assert delay.agency_id == "ubnd-phuong-cam-thanh"
    # a provincial matter, or no commune named: the provincial centre as before
    assert route(agencies, "thai-do-can-bo", "xa-tinh-khe", "Nhân viên trung tâm tỉnh thô lỗ").agency_id == "ttphhc"
    assert route(agencies, "thai-do-can-bo", None, "Cán bộ xã quát tháo").agency_id == "ttphhc"
    assert route(agencies, "tre-han", "phuong-cam-thanh", "Hồ sơ cấp tỉnh trễ hẹn").agency_id == "ttphhc"


def test_labels_are_vietnamese():
    assert rule_label("rule:1") == "Quy tắc chuyển số 2"
    for code in ("category-commune", "category", "commune", "default"):
        assert not rule_label(code).isascii()


async def test_a_commune_officials_attitude_reaches_the_committee_and_officials_read_the_rule_name(bot, sender, service, pack):
    chat = Chat(bot, user_id="9601")
    code = await chat.file_report(category=1, commune="Tịnh Khê",
                                  description="Cán bộ một cửa xã quát tháo, bắt tôi đi lại ba lần.")
    rid = await service.find_id(code)
    detail = await service.get_report(receiving_supervisor(pack), rid)
    assert detail.agency_id == "ubnd-xa-tinh-khe"
    await add_official(bot, "tk.officer", "ubnd-xa-tinh-khe")
    async with dashboard_client(bot) as client:
        await login(client, "tk.officer")
        page = await (await client.get(f"/dashboard/reports/{rid}")).text()
    assert 'id="routing-rule">(Quy tắc chuyển “Thái độ cán bộ, công chức cấp xã”)' in page
