"""`cchc-bot content export-learned`: what officials taught the FAQ, written into the pack's YAML.

The pack stays the province's source of truth (under version control); the dashboard's decisions
(`faq_learned`) are applied to the running bots at once and exported here:

* a learned variant is appended to its entry's ``questions`` in ``faq/<group>.yaml`` (or to the procedure's
  ``questions`` in ``procedures.yaml``), with a comment saying who decided it and when;
* a draft topic becomes a new entry at the end of its group's file, its first question the citizen's, and
  ``answer: !todo "…"``: `content check` warns with the file and line, and the bot does not use the entry
  until the province writes the answer.

Round-trip editing with ruamel.yaml: comments, quoting and layout of the files stay as they are. Running it
twice adds nothing twice (a question already in the entry, a topic id already in the pack are skipped).
Withdrawn decisions are never exported.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from features.faq.learning import TOPIC, VARIANT, Learned
from features.faq.privacy import find_personal

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TODO_ANSWER = "viết câu trả lời rồi bỏ dấu !todo"


@dataclass
class ExportPlan:
    added: list[tuple[Learned, Path]] = field(default_factory=list)  # written (or to be written) into the file
    present: list[Learned] = field(default_factory=list)  # already in the pack
    skipped: list[tuple[Learned, str]] = field(default_factory=list)  # cannot be exported, with the reason
    files: dict[Path, Any] = field(default_factory=dict)  # file -> its edited round-trip data


def _yaml():  # noqa: ANN202
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _who(row: Learned) -> str:
    return f"học từ câu hỏi người dân: {row.decided_by}, {row.decided_at.astimezone(VN):%d/%m/%Y}"


def plan_export(pack_dir: Path, rows: Iterable[Learned]) -> ExportPlan:
    """Apply the active decisions to the pack's YAML in memory (`write_export` saves the files)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

    from features.faq.service import plain_fold

    yaml = _yaml()
    plan = ExportPlan()
    entries: dict[str, tuple[Path, Any]] = {}  # id -> (file, its round-trip mapping)
    groups: dict[str, tuple[Path, Any]] = {}
    for file in sorted(p for p in (pack_dir / "faq").glob("*.yaml") if not p.name.startswith("_")):
        data = yaml.load(file.read_text(encoding="utf-8"))
        plan.files[file] = data
        group_id = str((data.get("group") or {}).get("id", ""))
        groups[group_id] = (file, data)
        for entry in data.get("entries") or []:
            entries[str(entry.get("id"))] = (file, entry)
    procedures = pack_dir / "procedures.yaml"
    if procedures.exists():
        data = yaml.load(procedures.read_text(encoding="utf-8"))
        plan.files[procedures] = data
        for proc in data.get("procedures") or []:
            entries[str(proc.get("id"))] = (procedures, proc)
    changed: set[Path] = set()
    for row in sorted(rows, key=lambda r: r.id):
        if not row.active:
            continue
        if find_personal(row.question) or find_personal(row.title):  # stored before a stricter rule: never export
            plan.skipped.append((row, "có thông tin cá nhân"))
            continue
        if row.kind == VARIANT:
            if row.entry_id not in entries:
                plan.skipped.append((row, f"mục '{row.entry_id}' không còn trong gói"))
                continue
            file, entry = entries[row.entry_id]
            questions = entry.get("questions")
            if questions is None:
                questions = entry["questions"] = CommentedSeq()
            if plain_fold(row.question) in {plain_fold(str(q)) for q in questions}:
                plan.present.append(row)
                continue
            questions.append(row.question)
            questions.yaml_add_eol_comment(_who(row), len(questions) - 1)
        elif row.kind == TOPIC:
            if row.entry_id in entries:
                plan.present.append(row)
                continue
            if row.group_id not in groups:
                plan.skipped.append((row, f"nhóm '{row.group_id}' không còn trong gói"))
                continue
            file, data = groups[row.group_id]
            items = data.get("entries")
            if items is None:
                items = data["entries"] = CommentedSeq()
            questions = CommentedSeq([row.question])
            entry = CommentedMap(id=row.entry_id, title=row.title, questions=questions,
                                 answer=TaggedScalar(TODO_ANSWER, style='"', tag="!todo"))
            items.append(entry)
            items.yaml_set_comment_before_after_key(len(items) - 1, before=_who(row), indent=2)
            entries[row.entry_id] = (file, entry)
        else:
            continue
        plan.added.append((row, file))
        changed.add(file)
    plan.files = {f: d for f, d in plan.files.items() if f in changed}
    return plan


def write_export(plan: ExportPlan) -> None:
    yaml = _yaml()
    for file, data in plan.files.items():
        tmp = file.with_name(f".{file.name}.tmp")
        with tmp.open("w", encoding="utf-8") as out:
            yaml.dump(data, out)
        tmp.replace(file)


def describe(plan: ExportPlan, pack_dir: Path) -> list[str]:
    """One line per decision, in Vietnamese, for the terminal."""
    lines = []
    for row, file in plan.added:
        where = file.relative_to(pack_dir)
        if row.kind == TOPIC:
            lines.append(f"+ {where}: chủ đề mới {row.entry_id} “{row.title}” (cần viết câu trả lời)")
        else:
            lines.append(f"+ {where}: {row.entry_id} ← “{row.question}”")
    lines += [f"= đã có trong gói: {r.entry_id} “{r.title or r.question}”" for r in plan.present]
    lines += [f"! bỏ qua #{r.id} “{r.title or r.question}”: {why}" for r, why in plan.skipped]
    return lines


def exported_now(plan: ExportPlan) -> list[int]:
    """The decisions the pack now holds (written now or already there)."""
    return [row.id for row, _ in plan.added] + [row.id for row in plan.present]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
