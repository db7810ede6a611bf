"""The content pack's shape. Pydantic does the checking; the loader maps its errors to file and line."""
from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG = r"^[a-z0-9][a-z0-9-]*$"
PHONE_RE = re.compile(r"^\+?[0-9][0-9 .()-]{2,20}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class ServiceCentre(Strict):
    name: str
    address: str | None = None
    hours: str | None = None
    phone: str | None = None
    email: str | None = None


class Portals(Strict):
    national: str = "https://dichvucong.gov.vn"
    provincial: str | None = None
    business: str | None = None


class NationalSupport(Strict):
    phone: str | None = None
    email: str | None = None


class Limits(Strict):
    """pack.yaml ``limits``: per-person limits the province may tune (counted in the database, so every
    process shares them)."""

    # Messages one person may send in a minute before being asked, once, to slow down (0: no limit).
    turns_per_minute: int = Field(default=40, ge=0, le=600)


class PackConfig(Strict):
    """pack.yaml: who the province is and the facts answers read from."""

    province: str
    province_full: str
    bot_name: str
    timezone: str = "Asia/Ho_Chi_Minh"
    service_centre: ServiceCentre
    portals: Portals = Portals()
    national_support: NationalSupport = NationalSupport()
    limits: Limits = Limits()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"múi giờ không tồn tại: {value}") from None
        return value


class Slogan(Strict):
    text: str = Field(min_length=3, max_length=1000)
    source: str | None = None


class SloganFile(Strict):
    slogans: list[Slogan] = Field(min_length=1)


class Hotline(Strict):
    id: str = Field(pattern=SLUG)
    agency: str
    topic: str
    phone: str | None
    hours: str | None = None
    email: str | None = None
    notes: str | None = None
    keywords: list[str] = []

    @field_validator("phone")
    @classmethod
    def _phone_shape(cls, value: str | None) -> str | None:
        if value is not None and not PHONE_RE.match(value):
            raise ValueError(f"số điện thoại không hợp lệ: {value!r}")
        return value


class HotlineGroup(Strict):
    id: str = Field(pattern=SLUG)
    title: str
    entries: list[Hotline] = Field(min_length=1)


class HotlineFile(Strict):
    groups: list[HotlineGroup] = Field(min_length=1)


class Agency(Strict):
    id: str = Field(pattern=SLUG)
    name: str
    short_name: str | None = None
    kind: Literal["province", "department", "commune", "other"] = "department"


class Commune(Strict):
    id: str = Field(pattern=SLUG)
    name: str
    aliases: list[str] = []
    agency: str | None = None
    code: int | None = None  # official code (vietnam-provinces); lets `update-communes` see renames


class CommunesSource(Strict):
    """Where `communes` came from: written by `cchc-bot content new` and `content update-communes`."""

    package: Literal["vietnam-provinces"] = "vietnam-provinces"
    version: str
    province_code: int


class Category(Strict):
    id: str = Field(pattern=SLUG)
    title: str
    deadline_days: int = Field(ge=1, le=90)
    agency: str | None = None
    keywords: list[str] = []
    # Reports of this category go to the People's Committee of the commune the citizen names (when known).
    route_to_commune: bool = False


class RoutingRule(Strict):
    # What officials read for this rule on a report ("Thái độ cán bộ xã, phường → UBND xã đã chọn").
    name: str | None = None
    category: str | None = None
    commune: str | None = None
    keywords: list[str] = []
    # The agency the rule sends to; with `to_commune: true`, the People's Committee of the commune the citizen
    # named (then `agency`, when set, is used only when no such commune is known; without it the rule is skipped).
    agency: str | None = None
    to_commune: bool = False
    reason: str | None = None

    @model_validator(mode="after")
    def _agency_or_commune(self) -> "RoutingRule":
        if self.agency is None and not self.to_commune:
            raise ValueError("cần `agency` (hoặc `to_commune: true`)")
        return self


class AgencyFile(Strict):
    default_agency: str
    agencies: list[Agency] = Field(min_length=1)
    communes: list[Commune] = []
    categories: list[Category] = []
    routing: list[RoutingRule] = []
    holidays: list[dt.date] = []
    communes_source: CommunesSource | None = None


FaqAction = Literal["feedback", "feedback_lookup", "hotlines", "subscribe", "slogan"]


class FaqLink(Strict):
    title: str
    url: str = Field(pattern=r"^https?://\S+$")


class FaqEntry(Strict):
    id: str = Field(pattern=SLUG)
    title: str
    questions: list[str] = Field(min_length=1)
    keywords: list[str] = []
    answer: str = Field(min_length=1)
    links: list[FaqLink] = []
    action: FaqAction | None = None


class FaqGroupInfo(Strict):
    id: str = Field(pattern=SLUG)
    title: str
    order: int = 100




class SmalltalkFile(Strict):
    """smalltalk.yaml: greetings, thanks and goodbyes answered kindly instead of searching the FAQ."""

    greeting: list[str] = []
    thanks: list[str] = []
    goodbye: list[str] = []
