"""The official administrative list: 34 provinces and their communes, wards and special zones.

Data comes from the `vietnam-provinces` package (names and codes of the National Statistics Office after the
1 July 2025 reorganisation); this module only adapts it to the pack:

- `find_province("tp hcm")`: a province the way people type it (with or without diacritics, "TP"/"tỉnh"
  prefixes, initials such as "HCM", small typos);
- `check_communes`: `content check` warns when a commune in `agencies.yaml` is not in the official list of the
  pack's province and names the closest official name (pre-merger names belong in `aliases`);
- `diff_communes` / `apply_changes`: what `cchc-bot content update-communes` reports and applies when the
  installed package's list differs from the pack's (added, renamed, removed), keeping aliases and routing.
"""
from __future__ import annotations

import importlib.metadata
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from core.content.report import Report
from core.content.schema import AgencyFile, Commune, PackConfig
from core.content.yamlsource import YamlDoc
from vntext.normalize import fold

PACKAGE = "vietnam-provinces"


@dataclass(frozen=True)
class OfficialProvince:
    code: int
    official_name: str  # as listed: "Thành phố Hà Nội", "Quảng Ngãi"
    city: bool  # a centrally-run city (thành phố trực thuộc trung ương)
    codename: str

    @property
    def name(self) -> str:
        """The name without "Thành phố": "Hà Nội", "Huế"."""
        prefix = "Thành phố "
        return self.official_name[len(prefix):] if self.official_name.startswith(prefix) else self.official_name

    @property
    def full(self) -> str:
        """As written in a sentence: "thành phố Hà Nội", "tỉnh Quảng Ngãi"."""
        return f"{'thành phố' if self.city else 'tỉnh'} {self.name}"


@dataclass(frozen=True)
class OfficialCommune:
    code: int
    name: str  # "Xã Tịnh Khê", "Phường Cẩm Thành", "Đặc khu Lý Sơn"
    kind: str  # "xã", "phường", "đặc khu"
    codename: str

    @property
    def in_sentence(self) -> str:
        """"xã Tịnh Khê": the name with its lower-case kind, as it follows "Ủy ban nhân dân"."""
        return self.kind + self.name[len(self.kind):] if self.name.lower().startswith(self.kind) else self.name


class ProvinceNotFound(LookupError):
    def __init__(self, query: str, candidates: list[OfficialProvince], ambiguous: bool = False) -> None:
        super().__init__(query)
        self.query = query
        self.candidates = candidates
        self.ambiguous = ambiguous

    def message(self) -> str:
        names = ", ".join(p.official_name for p in self.candidates)
        if self.ambiguous:
            return f"'{self.query}' có thể là: {names}. Ghi rõ hơn tên tỉnh, thành phố."
        near = f" Tên gần giống: {names}." if names else ""
        return (f"không có tỉnh, thành phố '{self.query}' trong danh mục {len(provinces())} tỉnh, thành phố từ "
                f"ngày 1/7/2025.{near} Tỉnh đã hợp nhất thì dùng tên tỉnh, thành phố sau hợp nhất.")


def package_version() -> str:
    return importlib.metadata.version(PACKAGE)


@lru_cache(maxsize=1)
def provinces() -> tuple[OfficialProvince, ...]:
    from vietnam_provinces import Province, VietNamDivisionType

    return tuple(
        OfficialProvince(int(p.code), p.name, p.division_type == VietNamDivisionType.THANH_PHO_TRUNG_UONG, p.codename)
        for p in sorted(Province.iter_all(), key=lambda p: int(p.code))
    )


def province_by_code(code: int) -> OfficialProvince | None:
    return next((p for p in provinces() if p.code == code), None)


@lru_cache(maxsize=64)
def communes(province_code: int) -> tuple[OfficialCommune, ...]:
    from vietnam_provinces import Ward

    return tuple(
        OfficialCommune(int(w.code), w.name, w.division_type.value, w.codename)
        for w in sorted(Ward.iter_by_province(province_code), key=lambda w: int(w.code))  # type: ignore[arg-type]
    )


# --- matching names as people type them --------------------------------------------------------------
_NON_WORD = re.compile(r"[^0-9a-z]+")
_PROVINCE_PREFIXES = ("thanh pho ", "tinh ", "tp ", "t p ")
# What people call a province besides its name: Sài Gòn, and Thừa Thiên Huế (the province became Huế city
# in 2025 without merging).
NICKNAMES = {"sai gon": "ho chi minh", "saigon": "ho chi minh", "thua thien hue": "hue"}


def _key(text: str) -> str:
    return _NON_WORD.sub(" ", fold(unicodedata.normalize("NFC", text)).lower()).strip()


def _strip_province_prefix(key: str) -> str:
    for prefix in _PROVINCE_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix):]
    if key.startswith("tp") and len(key) > 4 and " " not in key:  # "tphcm"
        return key[2:]
    return key


def _province_keys(p: OfficialProvince) -> set[str]:
    key = _key(p.name)
    return {key, key.replace(" ", ""), "".join(word[0] for word in key.split())}


def find_province(query: str) -> OfficialProvince:
    """The province meant by `query`: its name with or without diacritics and "tỉnh"/"TP" prefix, written
    together ("quangngai"), its initials ("HCM") or its everyday name ("Sài Gòn"). Nothing is guessed: a typo
    or a pre-2025 name ("Quảng Nam", now part of Đà Nẵng) raises ProvinceNotFound with the nearest names, as
    a near name is often another province ("Quảng Bình" / "Quảng Ninh")."""
    key = _strip_province_prefix(_key(query))
    key = NICKNAMES.get(key, key)
    exact = [p for p in provinces() if key and (key in _province_keys(p) or key.replace(" ", "") in _province_keys(p))]
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise ProvinceNotFound(query, exact, ambiguous=True)
    names = [_key(p.name) for p in provinces()]
    near = process.extract(key, names, scorer=fuzz.ratio, limit=3, score_cutoff=60) if key else []
    raise ProvinceNotFound(query, [provinces()[index] for _, _, index in near])


def same_name(a: str, b: str) -> bool:
    """Equal up to Unicode normalisation, case and spacing ("Phường Đăk Bla" = "Phường Đăk BLa")."""
    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return norm(a) == norm(b)


def closest_commune(name: str, official: Iterable[OfficialCommune]) -> OfficialCommune | None:
    """The official commune whose name is nearest (folded first, then with diacritics to split "Ba Tơ"/"Ba Tô")."""
    items = list(official)
    if not items:
        return None
    key = _key(name)
    lower = unicodedata.normalize("NFC", name).casefold()

    def score(c: OfficialCommune) -> tuple[float, float]:
        return (fuzz.WRatio(key, _key(c.name)), fuzz.ratio(lower, c.name.casefold()))

    return max(items, key=score)


# --- content check -------------------------------------------------------------------------------------
def pack_province(agencies: AgencyFile | None, config: PackConfig | None) -> OfficialProvince | None:
    if agencies is not None and agencies.communes_source is not None:
        return province_by_code(agencies.communes_source.province_code)
    if config is None:
        return None
    try:
        return find_province(config.province)
    except ProvinceNotFound:
        return None


def check_communes(root: Path, docs: dict[str, YamlDoc | None], parsed: dict[str, Any], report: Report) -> None:
    """Warn about communes that are not in the official list of the pack's province (a typo, a pre-2025
    name, a code that no longer exists), naming the closest official name."""
    agencies: AgencyFile | None = parsed.get("agencies")
    config: PackConfig | None = parsed.get("pack")
    doc = docs.get("agencies")
    if agencies is None or doc is None or not agencies.communes:
        return
    installed = package_version()
    source = agencies.communes_source
    province = pack_province(agencies, config)
    if province is None:
        if source is not None:
            report.error(doc.file, doc.line_of(("communes_source", "province_code")), "communes_source.province_code",
                         f"mã tỉnh {source.province_code} không có trong danh mục {PACKAGE} {installed}")
        elif config is not None and docs.get("pack") is not None:
            pack_doc = docs["pack"]
            report.warning(pack_doc.file, pack_doc.line_of(("province",)), "province",
                           f"'{config.province}' không có trong danh mục 34 tỉnh, thành phố: không kiểm tra được "
                           "danh sách xã, phường")
        return
    if source is not None and source.version != installed:
        report.warning(doc.file, doc.line_of(("communes_source", "version")), "communes_source.version",
                       f"danh sách xã, phường lấy từ {PACKAGE} {source.version}, máy đang cài {installed}: chạy "
                       "`cchc-bot content update-communes` để xem thay đổi")
    official = communes(province.code)
    by_code = {c.code: c for c in official}
    by_name = {" ".join(c.name.casefold().split()): c for c in official}
    where = f"{province.full} ({PACKAGE} {installed})"
    for i, commune in enumerate(agencies.communes):
        if commune.code is not None:
            match = by_code.get(commune.code)
            if match is None:
                report.warning(doc.file, doc.line_of(("communes", i, "code")), f"communes[{i}].code",
                               f"mã {commune.code} ('{commune.name}') không có trong danh mục chính thức của {where}")
            elif not same_name(commune.name, match.name):
                report.warning(doc.file, doc.line_of(("communes", i, "name")), f"communes[{i}].name",
                               f"'{commune.name}' khác tên chính thức '{match.name}' của mã {commune.code}")
            continue
        if " ".join(unicodedata.normalize("NFC", commune.name).casefold().split()) in by_name:
            continue
        near = closest_commune(commune.name, official)
        hint = f"; tên gần nhất: '{near.name}'" if near else ""
        report.warning(doc.file, doc.line_of(("communes", i, "name")), f"communes[{i}].name",
                       f"'{commune.name}' không có trong danh mục chính thức của {where}{hint}. Tên cũ trước sắp "
                       "xếp chỉ ghi trong aliases của xã, phường chính thức")
    for i, commune in enumerate(agencies.communes):
        for j, alias in enumerate(commune.aliases):
            other = by_name.get(" ".join(unicodedata.normalize("NFC", alias).casefold().split()))
            if other is not None and not same_name(other.name, commune.name) and other.code != commune.code:
                report.warning(doc.file, doc.line_of(("communes", i, "aliases", j)), f"communes[{i}].aliases[{j}]",
                               f"'{alias}' là tên chính thức của một đơn vị khác ({other.name}, mã {other.code})")



# --- update-communes -------------------------------------------------------------------------------------
def committee_id(commune_id: str) -> str:
    return f"ubnd-{commune_id}"


def committee_names(commune: OfficialCommune) -> tuple[str, str]:
    """(name, short name) of the commune's People's Committee."""
    return f"Ủy ban nhân dân {commune.in_sentence}", f"UBND {commune.in_sentence}"


def commune_ids(official: Iterable[OfficialCommune]) -> dict[int, str]:
    """Slug ids from the official codenames; two communes whose names differ only by diacritics ("Ba Tơ",
    "Ba Tô") share a codename, so both get their official code appended."""
    items = list(official)
    counts: dict[str, int] = {}
    for c in items:
        counts[c.codename] = counts.get(c.codename, 0) + 1
    return {c.code: c.codename.replace("_", "-") + (f"-{c.code}" if counts[c.codename] > 1 else "") for c in items}


@dataclass
class CommuneDiff:
    province: OfficialProvince
    pack_version: str | None
    installed: str
    added: list[OfficialCommune] = field(default_factory=list)
    renamed: list[tuple[int, OfficialCommune]] = field(default_factory=list)  # (pack index, official)
    removed: list[int] = field(default_factory=list)  # pack indexes whose code is gone
    coded: list[tuple[int, OfficialCommune]] = field(default_factory=list)  # name matched, code to record
    unknown: list[tuple[int, OfficialCommune | None]] = field(default_factory=list)  # (pack index, closest)

    @property
    def changes(self) -> bool:
        return bool(self.added or self.renamed or self.removed or self.coded
                    or self.pack_version != self.installed)


def diff_communes(agencies: AgencyFile, province: OfficialProvince) -> CommuneDiff:
    official = communes(province.code)
    source = agencies.communes_source
    diff = CommuneDiff(province, source.version if source else None, package_version())
    by_code = {c.code: c for c in official}
    seen: set[int] = set()
    for i, commune in enumerate(agencies.communes):
        if commune.code is not None:
            match = by_code.get(commune.code)
            if match is None:
                diff.removed.append(i)
                continue
            seen.add(match.code)
            if not same_name(commune.name, match.name):
                diff.renamed.append((i, match))
            continue
        match = next((c for c in official if same_name(c.name, commune.name)), None)
        if match is not None:
            seen.add(match.code)
            diff.coded.append((i, match))
    # Names neither coded nor official: kept for the province to decide; their closest official commune is
    # not added beside them (it is most likely the same place, misspelt or under an old name).
    coded = {i for i, _ in diff.coded}
    for i, commune in enumerate(agencies.communes):
        if commune.code is None and i not in coded:
            near = closest_commune(commune.name, [c for c in official if c.code not in seen])
            diff.unknown.append((i, near))
            if near is not None:
                seen.add(near.code)
    diff.added = [c for c in official if c.code not in seen]
    return diff


def render_diff(diff: CommuneDiff, communes_in_pack: list[Commune], referenced: dict[int, list[str]]) -> str:
    """The report `update-communes` prints (Vietnamese, one change per line)."""
    p = diff.province
    lines = [f"Danh mục xã, phường, đặc khu của {p.full} (mã {p.code}): gói nội dung dùng "
             f"{PACKAGE} {diff.pack_version or '(chưa ghi)'}, máy đang cài {diff.installed}."]
    if diff.added:
        lines.append(f"Thêm mới ({len(diff.added)}):")
        lines += [f"  + {c.name} (mã {c.code})" for c in diff.added]
    if diff.renamed:
        lines.append(f"Đổi tên ({len(diff.renamed)}), tên cũ được giữ làm tên gọi khác (aliases):")
        lines += [f"  ~ {communes_in_pack[i].name} → {c.name} (mã {c.code})" for i, c in diff.renamed]
    if diff.removed:
        lines.append(f"Không còn trong danh mục ({len(diff.removed)}):")
        for i in diff.removed:
            c = communes_in_pack[i]
            uses = referenced.get(i)
            keep = f" — còn được dùng ở {', '.join(uses)}: giữ lại, tỉnh tự xử lý" if uses else ""
            lines.append(f"  - {c.name} (mã {c.code}){keep}")
    if diff.coded:
        lines.append(f"Ghi thêm mã chính thức cho {len(diff.coded)} xã, phường đã đúng tên.")
    if diff.unknown:
        lines.append(f"Không có trong danh mục, tỉnh kiểm tra ({len(diff.unknown)}):")
        for i, near in diff.unknown:
            hint = f" — tên gần nhất: {near.name} (mã {near.code})" if near else ""
            lines.append(f"  ? {communes_in_pack[i].name}{hint}")
    if not diff.changes and not diff.unknown:
        lines.append("Không có thay đổi.")
    return "\n".join(lines)


def references(agencies: AgencyFile) -> dict[int, list[str]]:
    """For each commune (by index): the routing rules that name it."""
    index = {c.id: i for i, c in enumerate(agencies.communes)}
    out: dict[int, list[str]] = {}
    for r, rule in enumerate(agencies.routing):
        if rule.commune in index:
            out.setdefault(index[rule.commune], []).append(f"routing[{r}]")
    return out


def apply_changes(file: Path, agencies: AgencyFile, diff: CommuneDiff) -> None:
    """Rewrite `agencies.yaml` in place: comments, `!todo` values, aliases and routing stay as they are.

    Round-trip editing is ruamel.yaml's (PyYAML drops comments); we only add, rename and remove entries.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(file.read_text(encoding="utf-8"))
    raw_communes = data.setdefault("communes", CommentedSeq())
    raw_agencies = data["agencies"]
    agency_by_id = {a.get("id"): a for a in raw_agencies}
    used_agencies = {data.get("default_agency")} | {c.get("agency") for c in (data.get("categories") or [])} \
        | {r.get("agency") for r in (data.get("routing") or []) if r.get("agency")}

    for i, official in diff.coded:
        raw_communes[i]["code"] = official.code
    for i, official in diff.renamed:
        entry = raw_communes[i]
        old = str(entry["name"])
        aliases = entry.get("aliases")
        if aliases is None:
            aliases = entry["aliases"] = CommentedSeq()
            aliases.fa.set_flow_style()
        if not any(same_name(str(a), old) for a in aliases):
            aliases.append(old)
        entry["name"] = official.name
        agency = agency_by_id.get(entry.get("agency"))
        if agency is not None and agency.get("kind") == "commune":
            agency["name"], agency["short_name"] = committee_names(official)
    referenced = references(agencies)
    drop = [i for i in diff.removed if i not in referenced]
    for i in sorted(drop, reverse=True):
        entry = raw_communes[i]
        agency_id = entry.get("agency")
        del raw_communes[i]
        others = {c.get("agency") for c in raw_communes}
        agency = agency_by_id.get(agency_id)
        if agency is not None and agency.get("kind") == "commune" and agency_id not in others | used_agencies:
            raw_agencies.remove(agency)
    taken = {str(c.get("id")) for c in raw_communes} | set(map(str, agency_by_id))
    ids = commune_ids(communes(diff.province.code))
    for official in diff.added:
        cid = ids[official.code]
        if cid in taken or committee_id(cid) in taken:
            cid = f"{cid}-{official.code}"
        name, short = committee_names(official)
        raw_agencies.append(CommentedMap(id=committee_id(cid), name=name, short_name=short, kind="commune"))
        raw_communes.append(CommentedMap(id=cid, name=official.name, code=official.code, agency=committee_id(cid)))
        taken |= {cid, committee_id(cid)}
    source = CommentedMap(package=PACKAGE, version=diff.installed, province_code=diff.province.code)
    data["communes_source"] = source
    with file.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
