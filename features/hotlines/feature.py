"""The hotline directory: by group, found from typed text ("sdt 1 cua"), each number as a contact card."""
from __future__ import annotations

from core.content.loader import PackSpec
from core.feature import Feature, Host
from features.hotlines import chat

SPEC = PackSpec(templates=("hotlines/list", "hotlines/group", "hotlines/found"),
                labels=("cmd.hotlines", "hotline.contact", "hotline.all"), payload_ids=chat.PAYLOAD_IDS)


def install(host: Host) -> None:
    from features.hotlines.service import HotlineService

    service = HotlineService(host.services.pack)
    host.services.packs.listeners.append(service.rebuild)
    host.services.extra["hotlines"] = service


FEATURE = Feature(name="hotlines", chat=chat.register, content=SPEC, install=install)
