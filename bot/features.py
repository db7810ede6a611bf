"""Optional features plug in here: importing a feature registers its app plugin, CLI commands,
content sections and required templates. Keep this list in the order features depend on each other.
"""
import bot.feedback.plugin  # noqa: F401
import bot.web.dashboard.plugin  # noqa: F401
import bot.bulletin.plugin  # noqa: F401
