"""The FAQ feature: questions in free text and the "Hỏi đáp" menu, small talk, the officials' page of
unanswered questions (and learning from them), and `cchc-bot faq match|eval|unanswered`."""
from __future__ import annotations

from core.content.loader import PackSpec
from core.feature import Feature, Host
from features.faq import chat, cli

LEARNED_POLL_SECONDS = 10.0

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
    from features.faq.learning import LearnedStore
    from features.faq.service import FaqService

    service = FaqService(host.services.pack, LearnedStore(host.services.store.sessions))
    host.services.packs.listeners.append(service.rebuild)
    host.services.extra["faq"] = service
    host.dashboard_pages.append(PAGE)
    # what officials teach the FAQ in any process reaches this one's index within this many seconds
    interval = float(host.env.get("CCHC_FAQ_LEARNED_SECONDS") or LEARNED_POLL_SECONDS)
    host.background.append(lambda: service.follow_learned(interval))


FEATURE = Feature(name="faq", chat=chat.register, content=SPEC, install=install, cli=cli.add_commands)
