"""The content pack: data a province edits (YAML, Markdown, jinja2 templates), loaded and validated."""
from core.content.loader import ContentPack, PackError, check_pack, load_pack
from core.content.report import Finding, Report

__all__ = ["ContentPack", "PackError", "check_pack", "load_pack", "Finding", "Report"]
