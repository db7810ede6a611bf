"""Which agency gets a report, and why (the decision and its reason are stored with the report).

Order, first hit wins (all of it data in `content/agencies.yaml`, so a merger or a new commune is a data edit):
1. `routing:` rules in file order. A rule matches when each condition it sets holds: its `category`, its
   `commune`, and (when it lists `keywords`) at least one keyword occurring in the description — whole words,
   diacritics-aware (`vntext.normalize.word_matches`: a word typed with diacritics matches only the same word,
   one typed without matches every word that folds to it). A rule with only keywords is a keyword hint
   across categories. A rule with `to_commune: true` sends the report to the People's Committee of the
   commune the citizen named (and does not match when no commune with a committee is known).
2. The category's `route_to_commune: true` and a known commune with an agency: the commune's People's Committee.
3. The category's own `agency`.
4. The commune's `agency` (categories without an agency of their own).
5. `default_agency`, the receiving unit (provincial public administration service centre).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.content.schema import AgencyFile
from vntext.normalize import count_phrases, first_phrase, plain_words


@dataclass(frozen=True)
class RoutingDecision:
    agency_id: str
    rule: str  # "rule:<name>" ("rule:3" unnamed), "category-commune", "category", "commune", "default" (`rule_label`)
    reason: str  # the rule's own reason from the pack, or "" (the service renders a standard one)
    matched_keyword: str = ""
    params: dict[str, str] = field(default_factory=dict)


def keyword_hit(keywords: list[str], words: list[str]) -> str:
    """The first keyword occurring in `words` (`plain_words` of the text), diacritics-aware, or ''."""
    return first_phrase(words, keywords)


RULE_LABELS = {
    "category-commune": "Lĩnh vực do Ủy ban nhân dân xã, phường nơi xảy ra sự việc xử lý",
    "category": "Cơ quan phụ trách lĩnh vực",
    "commune": "Cơ quan phụ trách địa bàn xã, phường",
    "default": "Đơn vị đầu mối tiếp nhận (chưa có quy tắc phù hợp)",
}


def rule_code(rule: object, index: int) -> str:
    """What a report stores for the pack rule that routed it: "rule:<its name>" (stable when rules are reordered,
    readable by officials), or "rule:<index>" for an unnamed rule. At most 128 characters (the column)."""
    name = " ".join(str(getattr(rule, "name", None) or "").split())
    return f"rule:{name}"[:128] if name else f"rule:{index}"


def rule_label(code: str | None) -> str:
    """The Vietnamese label officials read for a stored routing code (never "rule:1")."""
    code = code or ""
    if code.startswith("rule:"):
        rest = code[5:]
        return f"Quy tắc chuyển số {int(rest) + 1}" if rest.isdigit() else f"Quy tắc chuyển “{rest}”"
    return RULE_LABELS.get(code, code)


def route(agencies: AgencyFile, category_id: str, commune_id: str | None, description: str = "") -> RoutingDecision:
    text = plain_words(description)
    category = next((c for c in agencies.categories if c.id == category_id), None)
    commune = next((c for c in agencies.communes if c.id == commune_id), None) if commune_id else None
    for i, rule in enumerate(agencies.routing):
        if rule.category is not None and rule.category != category_id:
            continue
        if rule.commune is not None and rule.commune != commune_id:
            continue
        hit = ""
        if rule.keywords:
            hit = keyword_hit(list(rule.keywords), text)
            if not hit:
                continue
        agency = rule.agency
        if rule.to_commune and commune is not None and commune.agency:
            agency = commune.agency
        if agency is None:  # to_commune without a known commune and no fallback agency
            continue
        return RoutingDecision(agency, rule_code(rule, i), rule.reason or "", hit,
                               {"category": category_id, "commune": commune_id or ""})
    if category is not None and getattr(category, "route_to_commune", False) and commune and commune.agency:
        return RoutingDecision(commune.agency, "category-commune", "", "", {"category": category_id, "commune": commune.id})
    if category is not None and category.agency:
        return RoutingDecision(category.agency, "category", "", "", {"category": category_id})
    if commune is not None and commune.agency:
        return RoutingDecision(commune.agency, "commune", "", "", {"commune": commune.id})
    return RoutingDecision(agencies.default_agency, "default", "", "", {})


def suggest_categories(agencies: AgencyFile, text: str, limit: int = 3) -> list[str]:
    """Category ids whose keywords occur in free text (a hint when the citizen types instead of pressing)."""
    words = plain_words(text)
    scored = []
    for i, cat in enumerate(agencies.categories):
        hits = count_phrases(words, cat.keywords)
        if hits:
            scored.append((-hits, i, cat.id))
    return [cid for _, _, cid in sorted(scored)[:limit]]
