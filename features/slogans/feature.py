"""The reform slogans of the province's outreach plan, one at a time."""
from __future__ import annotations

from core.content.loader import PackSpec
from core.feature import Feature
from features.slogans import chat

FEATURE = Feature(name="slogans", chat=chat.register,
                  content=PackSpec(templates=("slogans/show",), labels=("cmd.slogan", "slogan.next")))
