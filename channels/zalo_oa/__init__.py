"""Zalo Official Account channel (Open API v3). See ``channel.py`` and README.md.

Wiring (for ``bot/app.py``)::

    from channels import zalo_oa
    for channel in zalo_oa.build(os.environ, submit, store_sessions):
        bot.channels.append(channel); bot.senders[channel.channel] = channel
        channel.register_routes(app)          # before the web app starts
        await channel.start()                 # seeds/loads tokens, starts the refresh task

``build`` returns ``[]`` when no ``ZALO_OA_*`` setting is present and raises a one-line ``ValueError``
naming the wrong variable otherwise. ``receive=False`` (workers, CLI) sends only and adds no route.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.channel import Channel, Submit

__all__ = ["build"]


def build(env: Mapping[str, str], submit: Submit | None, store_sessions: Any, *, receive: bool = True,
          **channel_kwargs: Any) -> list[Channel]:
    """The Zalo OA channel configured by ``env`` (``[]`` when not configured).

    ``submit``: the core's ``Submit`` (awaited for every accepted event before Zalo gets its 200);
    ``store_sessions``: the app's ``async_sessionmaker`` (the tokens live in ``zalo_tokens``);
    ``channel_kwargs`` go to :class:`~channels.zalo_oa.channel.ZaloOAChannel` (timeouts, limits)."""
    from channels.zalo_oa.channel import ZaloOAChannel
    from channels.zalo_oa.settings import ZaloOASettings

    if not ZaloOASettings.configured(env):
        return []
    settings = ZaloOASettings.from_env(env)
    return [ZaloOAChannel(settings, submit, sessions=store_sessions, receive=receive, **channel_kwargs)]
