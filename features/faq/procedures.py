"""The procedures catalogue (content/procedures.yaml) as searchable entries.

Pure Python: the bot validates the file (bot/content/procedures.py) and renders the answers; this module
only turns a procedure's name, other names and sample questions into an `FaqDoc`, so the FAQ engine, the
evaluation and the benchmark index the catalogue exactly as the bot does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from vntext.engine import FaqDoc

__all__ = ["GROUP", "procedure_doc", "load_procedure_docs"]

GROUP = "thu-tuc"  # the group id procedures are listed under (browse, "Bạn muốn hỏi về…")


def procedure_doc(pid: str, name: str, aliases: Iterable[str], questions: Iterable[str]) -> FaqDoc:
    return FaqDoc(id=pid, title=name, questions=tuple(q for q in questions if q),
                  keywords=tuple(a for a in aliases if a), group=GROUP)


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!todo", lambda loader, node: None)


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value if v is not None] if isinstance(value, list) else []


def load_procedure_docs(content_dir: str | Path) -> list[FaqDoc]:
    """FaqDocs of `<content_dir>/procedures.yaml` (none when the pack has no catalogue)."""
    path = Path(content_dir) / "procedures.yaml"
    if not path.is_file():
        return []
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    docs = []
    for p in data.get("procedures") or []:
        if isinstance(p, Mapping) and p.get("id") and p.get("name"):
            docs.append(procedure_doc(str(p["id"]), str(p["name"]), _strs(p.get("aliases")), _strs(p.get("questions"))))
    return docs
