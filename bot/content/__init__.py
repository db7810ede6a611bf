"""The content pack: data a province edits (YAML, Markdown, jinja2 templates), loaded and validated."""
from bot.content.loader import ContentPack, PackError, check_pack, load_pack
from bot.content.report import Finding, Report

__all__ = ["ContentPack", "PackError", "check_pack", "load_pack", "Finding", "Report"]
