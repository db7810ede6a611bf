"""Issue 9, privacy between citizens and between agencies."""
from __future__ import annotations

import pytest

from features.feedback.service import Forbidden, InvalidInput, NotPermitted
from tests.feedback.conftest import Chat, officer, receiving_supervisor


async def _file(bot, user_id: str, **kw) -> tuple[Chat, str, int]:
    chat = Chat(bot, user_id=user_id, name=f"Người dân {user_id}")
    code = await chat.file_report(**kw)
    return chat, code, await bot.services.extra["feedback"].find_id(code)


async def test_duplicate_of_another_agencys_report_is_refused_like_a_missing_code(bot, sender, service, pack):
    # category 0 → the receiving unit (ttphhc); find a category routed elsewhere
    _, own_code, own_id = await _file(bot, "9101")
    other_chat, other_code, other_id = await _file(bot, "9102", category=_category_of(pack, "dvc-loi"))
    own_agency = (await service.get_report(receiving_supervisor(pack), own_id)).agency_id
    other_agency = (await service.get_report(receiving_supervisor(pack), other_id)).agency_id
    assert own_agency != other_agency
    await service.resolve(officer(other_agency, official_id=8), other_id,
                          "Trả lời riêng cho Người dân 9102, CCCD 012345678901")
    me = officer(own_agency)
    with pytest.raises(InvalidInput) as foreign:
        await service.mark_duplicate(me, own_id, other_code)
    with pytest.raises(InvalidInput) as missing:
        await service.mark_duplicate(me, own_id, "ABCD-EFGH")
    assert str(foreign.value) == str(missing.value)
    assert (await service.get_report(receiving_supervisor(pack), own_id)).status == "new"


async def test_a_citizen_never_reads_the_content_of_someone_elses_report(bot, sender, service, pack):
    owner, code, rid = await _file(bot, "9111")
    secret = "Trả lời riêng: ông Nguyễn Văn An, CCCD 012345678901"
    agency = (await service.get_report(receiving_supervisor(pack), rid)).agency_id
    await service.reply(officer(agency), rid, secret)
    await service.reject(officer(agency), rid, "Lý do riêng 0987 111 222")
    stranger = Chat(bot, user_id="9112")
    await stranger.say(f"/tracuu {code}")
    assert code in stranger.text
    assert "012345678901" not in stranger.text and "0987 111 222" not in stranger.text
    await owner.say(f"/tracuu {code}")
    assert "012345678901" in owner.text and "0987 111 222" in owner.text


async def test_out_of_scope_is_forbidden_but_in_scope_without_the_role_is_not_permitted(bot, sender, service, pack):
    _, _, rid = await _file(bot, "9121")
    agency = (await service.get_report(receiving_supervisor(pack), rid)).agency_id
    with pytest.raises(NotPermitted):
        await service.reassign(officer(agency), rid, "so-tu-phap", "x")
    with pytest.raises(Forbidden) as outside:
        await service.accept(officer("so-tu-phap"), rid)
    assert not isinstance(outside.value, NotPermitted)


def _category_of(pack, category_id: str) -> int:
    return [c.id for c in pack.agencies.categories].index(category_id)
