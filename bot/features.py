"""Which features this bot runs, in one place. Each is a package under `features/` exposing a
`core.feature.Feature`; nothing registers itself on import. Remove a line to switch a feature off
(its menu button then answers "not available here")."""
from __future__ import annotations

from functools import reduce
from pathlib import Path

from core import menu
from core.content import ContentPack, check_pack
from core.content import load_pack as _load_pack
from core.content.loader import PackSpec
from core.content.report import Report
from core.feature import Feature
from core.router import Router
from channels.web.content import SPEC as WEB_CHANNEL_SPEC  # the web chat channel's pack needs
from features.bulletin.feature import FEATURE as BULLETIN
from features.faq.feature import FEATURE as FAQ
from features.feedback.feature import FEATURE as FEEDBACK
from features.hotlines.feature import FEATURE as HOTLINES
from features.slogans.feature import FEATURE as SLOGANS

FEATURES: tuple[Feature, ...] = (FAQ, SLOGANS, HOTLINES, FEEDBACK, BULLETIN)


def pack_spec(features: tuple[Feature, ...] = FEATURES) -> PackSpec:
    """Everything the running features (and the web chat channel) need from a content pack."""
    return reduce(lambda a, b: a + b, (f.content for f in features), PackSpec()) + WEB_CHANNEL_SPEC


def load_pack(root: Path) -> ContentPack:
    """The content pack at `root`, validated for the features this bot runs."""
    return _load_pack(root, pack_spec())


def check(root: Path) -> Report:
    return check_pack(root, pack_spec())


def build_router(features: tuple[Feature, ...] = FEATURES) -> Router:
    router = Router()
    menu.register(router)
    for feature in features:
        if feature.chat is not None:
            feature.chat(router)
    return router
