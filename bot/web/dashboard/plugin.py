"""Registers the dashboard with the app (web feature, services) and the CLI (`cchc-bot admin ...`)."""
from __future__ import annotations

import bot.app
import bot.web.dashboard.cli
from bot.web.dashboard.state import DashboardConfig


def _plugin(built: bot.app.Bot) -> None:
    from bot.web.dashboard import setup_dashboard

    built.services.extra.setdefault("dashboard_config", DashboardConfig.from_env(built.settings.extra))
    built.web_features.append(setup_dashboard)


if _plugin not in bot.app.PLUGINS:
    bot.app.PLUGINS.append(_plugin)
