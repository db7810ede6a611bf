"""Facebook Messenger channel (a province's Facebook Page). See README.md in this folder for set-up.

Wiring, for ``bot/app.py``::

    from channels import messenger
    channel = messenger.build(settings.extra, submit)   # None when MESSENGER_* is not configured
    if channel is not None:
        channel.register_routes(app)                     # GET + POST on MESSENGER_WEBHOOK_PATH
        await channel.start()                            # HTTP client, token check, "Get started" button
        bot.channels.append(channel)                     # a Sender for the core's outbound pipeline
        # /readyz: channel.ready_reason() ('' when ready; `await channel.health()` re-checks the token)

Outbound messages outside a conversation turn go through :func:`channels.messenger.policy.decide` first:
``send(user_id, replies, tag=decision.tag)`` when it says SEND / SEND_WITH_TAG, otherwise defer.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.channel import Submit

from channels.messenger.channel import CAPABILITIES, CHANNEL, MessengerChannel, render_reply, to_incoming
from channels.messenger.policy import Action, Decision, MessageKind, decide
from channels.messenger.settings import MessengerSettings

__all__ = [
    "Action",
    "CAPABILITIES",
    "CHANNEL",
    "Decision",
    "MessageKind",
    "MessengerChannel",
    "MessengerSettings",
    "build",
    "decide",
    "render_reply",
    "to_incoming",
]


def build(env: Mapping[str, str], submit: Submit, **options: Any) -> MessengerChannel | None:
    """The Messenger channel configured by ``env`` (``MESSENGER_*``), or None when none of
    ``MESSENGER_PAGE_ACCESS_TOKEN`` / ``MESSENGER_APP_SECRET`` / ``MESSENGER_VERIFY_TOKEN`` is set.

    ``submit`` receives every incoming event (the core stores it, then runs the turn) before Meta gets its
    200. ``options`` go to :class:`MessengerChannel` (timeouts, retries, download limits...).
    Raises ValueError (one line, naming the variable) when the configuration is wrong or incomplete.
    """
    settings = MessengerSettings.from_env(env)
    if not settings.configured:
        return None
    return MessengerChannel(settings, submit, **options)
