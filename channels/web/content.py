"""What the web chat needs from the content pack: ``webchat.yaml`` (upload limits), the widget's labels
(``templates/labels/web.yaml``) and its messages and pages (``templates/web/``)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.content.loader import PackSpec
from core.content.report import Report
from core.content.schema import Strict
from core.content.yamlsource import YamlDoc

FileType = Literal["jpeg", "png", "webp", "gif", "heic", "pdf", "docx", "xlsx", "doc"]


class WebchatSettings(Strict):
    # Largest photo/file a visitor may upload, in megabytes.
    max_file_mb: float = Field(default=10, gt=0, le=50)
    # File types accepted (recognised from the file's bytes, never from its name).
    accept: list[FileType] = Field(default_factory=lambda: ["jpeg", "png", "webp", "heic", "pdf"], min_length=1)

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


DEFAULTS = WebchatSettings()


def load_section(doc: YamlDoc, report: Report) -> WebchatSettings | None:
    from core.content.loader import _validate

    return _validate(doc, WebchatSettings, report)


def settings_of(pack: object) -> WebchatSettings:
    value = (getattr(pack, "extras", {}) or {}).get("webchat")
    return value if isinstance(value, WebchatSettings) else DEFAULTS


LABELS = (
    "web.launcher", "web.open", "web.close", "web.log", "web.input", "web.placeholder", "web.send",
    "web.attach", "web.unread", "web.you", "web.bot", "web.typing", "web.failed", "web.offline",
    "web.uploading", "web.call", "web.new_messages",
)
TEMPLATES = ("web/rate_limited", "web/upload_too_big", "web/upload_kind", "web/session_expired",
             "web/refused", "web/unavailable")

SPEC = PackSpec(sections=(("webchat", "webchat.yaml", load_section),), templates=TEMPLATES, labels=LABELS)
