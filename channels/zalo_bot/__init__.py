"""Zalo Bot Platform channel (``bot-api.zaloplatforms.com/bot<TOKEN>/<method>``). See ``channel.py``.

Wiring (for ``bot/app.py``)::

    from channels import zalo_bot
    for channel in zalo_bot.build(os.environ, submit, store_sessions):
        bot.channels.append(channel); bot.senders[channel.channel] = channel
        channel.register_routes(app)          # webhook mode only (ZALO_BOT_WEBHOOK_URL set)
        await channel.start()                 # setWebhook, or deleteWebhook + long polling

``build`` returns ``[]`` without ``ZALO_BOT_TOKEN``; a wrong value raises a one-line ``ValueError`` naming
the variable. ``receive=False`` (workers, CLI): sends only, never polls, never touches the webhook.
``store_sessions`` is accepted for symmetry with ``channels.zalo_oa.build`` and unused.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.channel import Channel, Submit

__all__ = ["build"]


def build(env: Mapping[str, str], submit: Submit | None, store_sessions: Any = None, *, receive: bool = True,
          **channel_kwargs: Any) -> list[Channel]:
    from channels.zalo_bot.channel import ZaloBotChannel, ZaloBotSettings

    if not (env.get("ZALO_BOT_TOKEN") or "").strip():
        if any((env.get(k) or "").strip() for k in ("ZALO_BOT_WEBHOOK_URL", "ZALO_BOT_WEBHOOK_SECRET")):
            raise ValueError("ZALO_BOT_TOKEN: bắt buộc khi đặt ZALO_BOT_WEBHOOK_URL/ZALO_BOT_WEBHOOK_SECRET")
        return []
    return [ZaloBotChannel(ZaloBotSettings.from_env(env), submit, receive=receive, **channel_kwargs)]
