"""content/procedures.yaml: the catalogue of the procedures citizens ask about most.

Every value a citizen is told has a source recorded in the file; a value the province has not confirmed is
`!todo` (read as None) and never shown. Errors name the file, line and field like the rest of the pack.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from core.content.report import Report
from core.content.schema import SLUG, Strict
from core.content.yamlsource import YamlDoc

Portal = Literal["national", "vneid", "provincial", "business"]


class Source(Strict):
    title: str = Field(min_length=3)
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    date: dt.date


class Procedure(Strict):
    id: str = Field(pattern=SLUG)
    name: str = Field(min_length=3)
    aliases: list[str] = []
    questions: list[str] = []
    # Where it can be done online; [] = not online; None (`!todo`) = not confirmed, nothing is said.
    online: list[Portal] | None = None
    online_note: str | None = None
    agency: str | None = None
    documents: list[str] | None = None
    fee: str | None = None
    time_limit: str | None = None
    link: str | None = Field(default=None, pattern=r"^https?://\S+$")
    sources: list[str] = []
    checked: dt.date


class ProcedureFile(Strict):
    sources: dict[str, Source] = {}
    procedures: list[Procedure] = []


class Catalogue:
    def __init__(self, data: ProcedureFile) -> None:
        self.sources = data.sources
        self.procedures = data.procedures
        self._by_id = {p.id: p for p in data.procedures}

    def get(self, pid: str) -> Procedure | None:
        return self._by_id.get(pid)


def load_section(doc: YamlDoc, report: Report) -> Catalogue | None:
    from core.content.loader import _duplicates, _validate

    data = _validate(doc, ProcedureFile, report)
    if data is None:
        return None
    _duplicates([(p.id, doc.file, doc.line_of(("procedures", i))) for i, p in enumerate(data.procedures)],
                "thủ tục", report)
    for i, p in enumerate(data.procedures):
        for j, ref in enumerate(p.sources):
            if ref not in data.sources:
                path = ("procedures", i, "sources", j)
                report.error(doc.file, doc.line_of(path), f"procedures[{i}].sources[{j}]",
                             f"nguồn '{ref}' không có trong mục sources")
        told = [p.online, p.documents, p.fee, p.time_limit, p.agency]
        if any(v for v in told) and not p.sources:
            report.error(doc.file, doc.line_of(("procedures", i, "sources")), f"procedures[{i}].sources",
                         "thủ tục có thông tin cho người dân nhưng không ghi nguồn")
    return Catalogue(data)
