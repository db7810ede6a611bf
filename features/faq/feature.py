"""The FAQ feature: questions in free text and the "Hỏi đáp" menu, small talk, the officials' page of
unanswered questions, and `cchc-bot faq match|eval|unanswered`."""
from __future__ import annotations

from core.content.loader import PackSpec
from core.feature import Feature, Host
from features.faq import chat, cli

SPEC = PackSpec(
    templates=("faq/answer", "faq/suggest", "faq/no_match", "faq/browse", "faq/group", "faq/thanks",
               "faq/procedure", "faq/safety", "faq/clarify", "faq/complaint", "faq/report_offer",
               "smalltalk/greeting", "smalltalk/thanks", "smalltalk/goodbye"),
    labels=("cmd.faq", "faq.helpful", "faq.unhelpful", "faq.thanks", "faq.more", "faq.browse",
            "faq.none_of_these", "faq.action.feedback", "faq.action.feedback_lookup", "faq.action.hotlines",
            "faq.action.subscribe", "faq.action.slogan", "faq.report_this", "faq.procedures", "faq.login_help"),
    payload_ids=chat.PAYLOAD_IDS,
)


def install(host: Host) -> None:
    from features.faq.dashboard import PAGE
    from features.faq.service import FaqService

    service = FaqService(host.services.pack)
    host.services.packs.listeners.append(service.rebuild)
    host.services.extra["faq"] = service
    host.dashboard_pages.append(PAGE)


FEATURE = Feature(name="faq", chat=chat.register, content=SPEC, install=install, cli=cli.add_commands)
