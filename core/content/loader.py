"""Load a content pack directory, validating everything in one run so every mistake is reported at once."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from pydantic import BaseModel, ValidationError

from core.channel import MIN_PAYLOAD_BYTES
from core.content.report import Report
from core.content.schema import (
    AgencyFile,
    FaqEntry,
    FaqGroupInfo,
    HotlineFile,
    PackConfig,
    SloganFile,
    SmalltalkFile,
)
from core.content.texts import Texts
from core.content.yamlsource import YamlDoc, YamlSyntaxError, read_yaml

M = TypeVar("M", bound=BaseModel)

# Templates and button labels the core itself uses (menu, errors); features declare theirs in a PackSpec.
CORE_TEMPLATES: tuple[str, ...] = (
    "start/welcome", "start/automated", "menu/main", "menu/help", "menu/unavailable",
    "errors/internal", "errors/stale_button", "errors/unknown_command", "errors/no_text", "errors/attachment",
    "errors/group", "errors/rate_limited", "errors/no_option",
)
CORE_LABELS: tuple[str, ...] = (
    "menu.faq", "menu.slogan", "menu.hotlines", "menu.feedback", "menu.bulletin", "menu.back",
    "cmd.start", "cmd.menu", "cmd.help", "notice.stale",
)

# An extra pack file a feature reads: (file name, loader(doc, report) -> its settings object).
SectionLoader = Callable[[YamlDoc, Report], Any]


@dataclass(frozen=True)
class PayloadId:
    """A content id a feature puts into button payloads, declared where the feature builds them.

    ``files``: the pack file(s) holding the ids (a glob like ``faq/*.yaml``; names starting with "_" are
    skipped); ``field``: the path to the id in each file (``groups[].entries[].id``); the payload is
    ``prefix + id + suffix``. ``content check`` reports an id whose payload would exceed
    ``core.channel.MIN_PAYLOAD_BYTES`` (the smallest limit of any channel) as an error with file, line
    and field. Build the payloads with :meth:`payload` so the check and the buttons cannot disagree."""

    files: str
    field: str
    prefix: str
    suffix: str = ""

    def payload(self, content_id: str) -> str:
        return f"{self.prefix}{content_id}{self.suffix}"

    @property
    def overhead(self) -> int:
        return len((self.prefix + self.suffix).encode("utf-8"))


@dataclass(frozen=True)
class PackSpec:
    """What a feature needs from a content pack: extra files (``sections``: name -> (file name, loader);
    the result lands in ``pack.extras[name]``), the templates and labels it renders (a pack missing
    one fails ``content check``), and the content ids it puts into button payloads (``payload_ids``,
    checked against the smallest payload limit). Specs of several features combine with ``+``."""

    sections: tuple[tuple[str, str, SectionLoader], ...] = ()
    templates: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    payload_ids: tuple[PayloadId, ...] = ()

    def __add__(self, other: PackSpec) -> PackSpec:
        def merged(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
            return a + tuple(x for x in b if x not in a)

        names = {name for name, _, _ in self.sections}
        return PackSpec(self.sections + tuple(s for s in other.sections if s[0] not in names),
                        merged(self.templates, other.templates), merged(self.labels, other.labels),
                        merged(self.payload_ids, other.payload_ids))


CORE_SPEC = PackSpec(templates=CORE_TEMPLATES, labels=CORE_LABELS)


class PackError(Exception):
    def __init__(self, report: Report) -> None:
        super().__init__(report.render())
        self.report = report


@dataclass
class FaqItem:
    """An FAQ entry with its answer already rendered against the pack (answers are static per load)."""

    entry: FaqEntry
    group: FaqGroupInfo
    answer: str


@dataclass
class ContentPack:
    root: Path
    config: PackConfig
    slogans: SloganFile
    hotlines: HotlineFile
    agencies: AgencyFile
    faq: list[FaqItem]
    faq_groups: list[FaqGroupInfo]
    texts: Texts
    report: Report
    smalltalk: SmalltalkFile = field(default_factory=SmalltalkFile)
    extras: dict[str, Any] = field(default_factory=dict)

    def faq_item(self, entry_id: str) -> FaqItem | None:
        return self._faq_by_id.get(entry_id)

    def __post_init__(self) -> None:
        self._faq_by_id = {item.entry.id: item for item in self.faq}


def _fmt_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validate(doc: YamlDoc, model: type[M], report: Report, *, data: Any = None,
              prefix: tuple[Any, ...] = ()) -> M | None:
    """Validate `data` (default: the whole document) located at `prefix` in the document."""
    value = doc.data if prefix == () and data is None else data
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError as exc:
        for err in exc.errors():
            loc = prefix + tuple(err["loc"])
            report.error(doc.file, doc.line_of(loc), _fmt_loc(loc), err["msg"])
        return None


def _read(file: Path, report: Report) -> YamlDoc | None:
    if not file.exists():
        report.error(file, 0, "", "thiếu tệp bắt buộc")
        return None
    try:
        doc = read_yaml(file)
    except YamlSyntaxError as exc:
        report.error(exc.file, exc.line, "", exc.message)
        return None
    for todo in doc.todos:
        note = f" ({todo.note})" if todo.note else ""
        report.warning(file, todo.line, _fmt_loc(todo.path), f"giá trị chưa được tỉnh xác nhận{note}; bot sẽ không hiển thị")
    return doc


def _duplicates(items: list[tuple[str, Path, int]], what: str, report: Report) -> None:
    seen: dict[str, tuple[Path, int]] = {}
    for key, file, line in items:
        if key in seen:
            first = seen[key]
            report.error(file, line, "id", f"{what} '{key}' trùng với {first[0].name}:{first[1]}")
        else:
            seen[key] = (file, line)


def _check_agencies(doc: YamlDoc, data: AgencyFile, report: Report) -> None:
    agency_ids = {a.id for a in data.agencies}
    category_ids = {c.id for c in data.categories}
    commune_ids = {c.id for c in data.communes}
    _duplicates([(a.id, doc.file, doc.line_of(("agencies", i))) for i, a in enumerate(data.agencies)], "cơ quan", report)
    _duplicates([(c.id, doc.file, doc.line_of(("communes", i))) for i, c in enumerate(data.communes)], "xã/phường", report)
    _duplicates([(c.id, doc.file, doc.line_of(("categories", i))) for i, c in enumerate(data.categories)], "lĩnh vực", report)

    def need(ref: str | None, known: set[str], path: tuple[Any, ...], what: str) -> None:
        if ref is not None and ref not in known:
            report.error(doc.file, doc.line_of(path), _fmt_loc(path), f"{what} '{ref}' không có trong danh sách")

    need(data.default_agency, agency_ids, ("default_agency",), "cơ quan")
    for i, c in enumerate(data.communes):
        need(c.agency, agency_ids, ("communes", i, "agency"), "cơ quan")
    for i, c in enumerate(data.categories):
        need(c.agency, agency_ids, ("categories", i, "agency"), "cơ quan")
    for i, r in enumerate(data.routing):
        need(r.agency, agency_ids, ("routing", i, "agency"), "cơ quan")
        need(r.category, category_ids, ("routing", i, "category"), "lĩnh vực")
        need(r.commune, commune_ids, ("routing", i, "commune"), "xã/phường")


def _field_values(data: Any, steps: list[str], path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every value at ``steps`` ("groups", "[]", "id"...) in parsed YAML."""
    if not steps:
        return [(path, data)]
    step, rest = steps[0], steps[1:]
    if step == "[]":
        items = data if isinstance(data, list) else []
        return [hit for i, item in enumerate(items) for hit in _field_values(item, rest, path + (i,))]
    if isinstance(data, dict) and step in data:
        return _field_values(data[step], rest, path + (step,))
    return []


def _check_payload_ids(root: Path, specs: tuple[PayloadId, ...], report: Report) -> None:
    """Every declared payload id fits the smallest payload limit of the channels (one error per id,
    for its longest payload)."""
    longest: dict[tuple[str, str], PayloadId] = {}
    for spec in specs:
        key = (spec.files, spec.field)
        if key not in longest or spec.overhead > longest[key].overhead:
            longest[key] = spec
    for (pattern, fld), spec in longest.items():
        steps = fld.replace("[]", ".[]").split(".")
        for file in sorted(p for p in root.glob(pattern) if not p.name.startswith("_")):
            try:
                doc = read_yaml(file)
            except YamlSyntaxError:
                continue  # reported where the file is loaded
            for path, value in _field_values(doc.data, [s for s in steps if s]):
                if not isinstance(value, str):
                    continue
                size = spec.overhead + len(value.encode("utf-8"))
                if size > MIN_PAYLOAD_BYTES:
                    report.error(file, doc.line_of(path), _fmt_loc(path),
                                 f"mã '{value}' quá dài: nút bấm mang '{spec.payload(value)}' ({size} byte), "
                                 f"vượt giới hạn {MIN_PAYLOAD_BYTES} byte của kênh nhắn tin; hãy rút gọn mã "
                                 f"còn tối đa {MIN_PAYLOAD_BYTES - spec.overhead} ký tự")


def _load_faq(root: Path, texts: Texts | None, report: Report) -> tuple[list[FaqItem], list[FaqGroupInfo]]:
    items: list[FaqItem] = []
    groups: list[FaqGroupInfo] = []
    ids: list[tuple[str, Path, int]] = []
    faq_dir = root / "faq"
    files = sorted(p for p in faq_dir.glob("*.yaml") if not p.name.startswith("_")) if faq_dir.is_dir() else []
    if not files:
        report.error(faq_dir, 0, "", "không có tệp hỏi đáp (*.yaml)")
    for file in files:
        doc = _read(file, report)
        if doc is None:
            continue
        raw = doc.data if isinstance(doc.data, dict) else {}
        group = _validate(doc, FaqGroupInfo, report, data=raw.get("group"), prefix=("group",))
        raw_entries = raw.get("entries")
        if not isinstance(raw_entries, list) or not raw_entries:
            report.error(file, doc.line_of(("entries",)), "entries", "cần danh sách câu hỏi (ít nhất một)")
            continue
        if group is None:
            continue
        groups.append(group)
        todo = {tuple(t.path) for t in doc.todos}
        for i, raw_entry in enumerate(raw_entries):
            ids_here = raw_entry.get("id") if isinstance(raw_entry, dict) else None
            if isinstance(ids_here, str):
                ids.append((ids_here, file, doc.line_of(("entries", i))))
            if isinstance(raw_entry, dict) and raw_entry.get("answer") is None and ("entries", i, "answer") in todo:
                # a draft topic (`answer: !todo`, e.g. proposed from the dashboard): checked, warned, not answered
                _validate(doc, FaqEntry, report, data={**raw_entry, "answer": "-"}, prefix=("entries", i))
                continue
            entry = _validate(doc, FaqEntry, report, data=raw_entry, prefix=("entries", i))
            if entry is None:
                continue
            answer = entry.answer
            if texts is not None:
                try:
                    answer = texts.render_string(entry.answer)
                except jinja2.TemplateSyntaxError as exc:
                    report.error(file, doc.line_of(("entries", i, "answer")) + exc.lineno, f"entries[{i}].answer", f"mẫu sai: {exc.message}")
                    continue
                except jinja2.UndefinedError as exc:
                    report.error(file, doc.line_of(("entries", i, "answer")), f"entries[{i}].answer", f"biến không tồn tại: {exc.message}")
                    continue
            items.append(FaqItem(entry=entry, group=group, answer=answer))
    _duplicates(ids, "câu hỏi", report)
    _duplicates([(g.id, faq_dir, 0) for g in groups], "nhóm hỏi đáp", report)
    return items, sorted(groups, key=lambda g: (g.order, g.title))


def _load_texts(root: Path, config: PackConfig | None, report: Report, spec: PackSpec) -> Texts | None:
    template_dir = root / "templates"
    if not template_dir.is_dir():
        report.error(template_dir, 0, "", "thiếu thư mục mẫu tin nhắn")
        return None
    labels_file = template_dir / "labels" / "core.yaml"
    labels: dict[str, str] = {}
    label_files = sorted((template_dir / "labels").glob("*.yaml"))
    for file in label_files:
        labels_doc = _read(file, report)
        if labels_doc is None:
            continue
        if not isinstance(labels_doc.data, dict):
            report.error(file, 1, "", "cần một bảng 'khóa: nhãn'")
            continue
        for key, value in labels_doc.data.items():
            if str(key) in labels:
                report.error(file, labels_doc.line_of((key,)), str(key), "nhãn bị khai báo hai lần")
            labels[str(key)] = str(value)
    for key in spec.labels:
        if key not in labels:
            report.error(labels_file, 0, key, "thiếu nhãn nút bắt buộc")
    texts = Texts(template_dir, {"pack": config}, labels) if config else Texts(template_dir, {}, labels)
    for name in texts.names():
        try:
            texts.env.get_template(f"{name}.j2")
        except jinja2.TemplateSyntaxError as exc:
            report.error(template_dir / f"{name}.j2", exc.lineno, "", f"mẫu sai cú pháp: {exc.message}")
    present = set(texts.names())
    for name in spec.templates:
        if name not in present:
            report.error(template_dir / f"{name}.j2", 0, "", "thiếu mẫu tin nhắn bắt buộc")
    return texts if config else None


def _load(root: Path, spec: PackSpec | None) -> tuple[ContentPack | None, Report]:
    spec = CORE_SPEC + (spec or PackSpec())
    root = root.resolve()
    report = Report(root=root)
    docs = {name: _read(root / f"{name}.yaml", report) for name in ("pack", "slogans", "hotlines", "agencies")}
    config = _validate(docs["pack"], PackConfig, report) if docs["pack"] else None
    slogans = _validate(docs["slogans"], SloganFile, report) if docs["slogans"] else None
    hotlines = _validate(docs["hotlines"], HotlineFile, report) if docs["hotlines"] else None
    agencies = _validate(docs["agencies"], AgencyFile, report) if docs["agencies"] else None
    if hotlines and docs["hotlines"]:
        doc = docs["hotlines"]
        _duplicates(
            [
                (e.id, doc.file, doc.line_of(("groups", gi, "entries", ei)))
                for gi, g in enumerate(hotlines.groups)
                for ei, e in enumerate(g.entries)
            ],
            "đường dây nóng",
            report,
        )
        if not any(e.phone for g in hotlines.groups for e in g.entries):
            report.error(doc.file, 1, "groups", "không có số điện thoại nào đã xác nhận")
    if agencies and docs["agencies"]:
        _check_agencies(docs["agencies"], agencies, report)
    if agencies and docs["agencies"] and docs["pack"]:
        from core.content.provinces import check_communes  # communes against the official list

        check_communes(root, docs, {"pack": config, "slogans": slogans, "hotlines": hotlines, "agencies": agencies},
                       report)
    texts = _load_texts(root, config, report, spec)
    if texts is not None:  # answers name a contact only when the pack has its confirmed number
        texts.env.globals["hotlines"] = {e.id: e for g in hotlines.groups for e in g.entries if e.phone} if hotlines else {}
    faq, groups = _load_faq(root, texts, report)
    smalltalk = SmalltalkFile()
    if (root / "smalltalk.yaml").exists():
        doc = _read(root / "smalltalk.yaml", report)
        smalltalk = (_validate(doc, SmalltalkFile, report) if doc else None) or SmalltalkFile()
    _check_payload_ids(root, spec.payload_ids, report)
    extras: dict[str, Any] = {}
    from core.content import holidays  # calendar.yaml: optional, the official calendar alone without it

    calendar_file = root / holidays.FILE_NAME
    calendar_doc = _read(calendar_file, report) if calendar_file.exists() else YamlDoc(file=calendar_file, data=None)
    if calendar_doc is not None:
        extras["calendar"] = holidays.load_section(calendar_doc, report)
    if (root / "procedures.yaml").exists():  # optional: the catalogue of common procedures (FAQ)
        from core.content.procedures import load_section as load_procedures

        doc = _read(root / "procedures.yaml", report)
        catalogue = load_procedures(doc, report) if doc else None
        if catalogue is not None and doc is not None:
            faq_ids = {item.entry.id for item in faq}
            for i, p in enumerate(catalogue.procedures):
                if p.id in faq_ids:
                    report.error(doc.file, doc.line_of(("procedures", i, "id")), f"procedures[{i}].id",
                                 f"'{p.id}' trùng với một câu hỏi trong faq/")
            extras["procedures"] = catalogue
    for name, file_name, loader in spec.sections:
        doc = _read(root / file_name, report)
        if doc is not None:
            extras[name] = loader(doc, report)
    if not report.ok or not (config and slogans and hotlines and agencies and texts):
        return None, report
    pack = ContentPack(
        root=root, config=config, slogans=slogans, hotlines=hotlines, agencies=agencies,
        faq=faq, faq_groups=groups, texts=texts, report=report, smalltalk=smalltalk, extras=extras,
    )
    return pack, report


def check_pack(root: Path, spec: PackSpec | None = None) -> Report:
    """Validate without raising: every error and warning, with file and line. ``spec``: what the running
    features need besides the core (``bot.features.pack_spec()``)."""
    return _load(root, spec)[1]


def load_pack(root: Path, spec: PackSpec | None = None) -> ContentPack:
    """The pack at ``root``; raises :class:`PackError` (with the whole report) when it is invalid."""
    pack, report = _load(root, spec)
    if pack is None:
        raise PackError(report)
    return pack
