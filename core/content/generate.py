"""`cchc-bot content new --province NAME DIR`: a complete, valid pack for any of the 34 provinces.

What is official and the same everywhere comes from data: the province's name and every commune, ward and
special zone with its code (`vietnam-provinces`, version recorded in `agencies.yaml: communes_source`), one
People's Committee per commune as an agency. The provincial agencies, categories, hotlines, slogans and
calendar come from the templates beside this module (`pack_templates/*.yaml.j2`), with every value only the
province knows marked `!todo`. The FAQ, message templates, smalltalk, feedback and bulletin settings are
copied from the sample pack (`content/`), whose answers read provincial facts from `pack.yaml`.

The templates carry no fact about the sample province, so a generated pack never inherits its numbers.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

from core.content import provinces as official

TEMPLATES = Path(__file__).with_name("pack_templates")
# Copied from the sample pack as they are: nothing in them is about one province.
COPIED = ("faq", "templates", "bulletin.yaml", "feedback.yaml", "smalltalk.yaml", "webchat.yaml")
RENDERED = ("pack.yaml", "agencies.yaml", "hotlines.yaml", "slogans.yaml", "calendar.yaml")
# The provincial departments after the 1/3/2025 reorganisation common to every province: (id, name, short).
DEPARTMENTS = (
    ("so-noi-vu", "Sở Nội vụ", "Sở Nội vụ"),
    ("so-tu-phap", "Sở Tư pháp", "Sở Tư pháp"),
    ("so-tai-chinh", "Sở Tài chính", "Sở Tài chính"),
    ("so-cong-thuong", "Sở Công Thương", "Sở Công Thương"),
    ("so-nong-nghiep-moi-truong", "Sở Nông nghiệp và Môi trường", "Sở NN&MT"),
    ("so-xay-dung", "Sở Xây dựng", "Sở Xây dựng"),
    ("so-khcn", "Sở Khoa học và Công nghệ", "Sở KH&CN"),
    ("so-giao-duc-dao-tao", "Sở Giáo dục và Đào tạo", "Sở GD&ĐT"),
    ("so-y-te", "Sở Y tế", "Sở Y tế"),
    ("so-van-hoa-the-thao-du-lich", "Sở Văn hóa, Thể thao và Du lịch", "Sở VH,TT&DL"),
    ("thanh-tra", "Thanh tra", "Thanh tra"),
    ("cong-an", "Công an", "Công an"),
)


class GenerateError(Exception):
    """A reason the pack cannot be created, as one line for the person at the terminal."""


def default_sample() -> Path:
    """The sample pack of a source checkout (`content/` beside the `bot` package)."""
    return Path(__file__).resolve().parents[2] / "content"


def _yaml_scalar(value: object) -> str:
    """A YAML scalar for `value`: plain when it reads back unchanged, double-quoted otherwise."""
    text = str(value)
    try:
        plain_ok = yaml.safe_load(text) == text and not any(ch in text for ch in "#:{}[]&*!|>'\"%@`")
    except yaml.YAMLError:
        plain_ok = False
    return text if plain_ok else json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True)
class _CommuneRow:
    id: str
    name: str
    code: int
    agency_id: str
    committee_name: str
    committee_short: str


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["q"] = _yaml_scalar
    return env


def render_files(province: official.OfficialProvince, today: dt.date) -> dict[str, str]:
    """The province-specific files of a new pack: name → text."""
    items = official.communes(province.code)
    ids = official.commune_ids(items)
    rows = []
    for c in items:
        name, short = official.committee_names(c)
        rows.append(_CommuneRow(ids[c.code], c.name, c.code, official.committee_id(ids[c.code]), name, short))
    kinds = Counter(c.kind for c in items)
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    context = {
        "p": province, "package": official.PACKAGE, "version": official.package_version(),
        "communes": rows, "counts": counts, "departments": DEPARTMENTS, "years": [today.year, today.year + 1],
    }
    env = _environment()
    return {name: env.get_template(f"{name}.j2").render(**context) for name in RENDERED}


def generate_pack(province_query: str, target: Path, *, sample: Path | None = None,
                  today: dt.date | None = None) -> official.OfficialProvince:
    """Write a new pack for the province named `province_query` into `target` (absent or empty)."""
    try:
        province = official.find_province(province_query)
    except official.ProvinceNotFound as exc:
        raise GenerateError(exc.message()) from None
    sample = sample or default_sample()
    missing = [name for name in COPIED if not (sample / name).exists()]
    if missing:
        raise GenerateError(f"không thấy gói mẫu ở {sample} (thiếu {', '.join(missing)}); chỉ ra bằng --sample DIR")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise GenerateError(f"{target} đã có và không trống: chọn thư mục mới để không ghi đè nội dung của tỉnh")
    files = render_files(province, today or dt.date.today())
    target.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = sample / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy2(source, target / name)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return province
