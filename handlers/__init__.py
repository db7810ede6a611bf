"""Channel-agnostic conversation logic. `build_router()` assembles every feature."""
from __future__ import annotations

from handlers.router import Router


def build_router() -> Router:
    from handlers import bulletin, faq, feedback, hotlines, menu, slogans

    router = Router()
    for feature in (menu, faq, slogans, hotlines, feedback, bulletin):
        feature.register(router)
    return router
