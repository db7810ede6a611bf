"""The web chat's settings, from the environment (``CCHC_WEBCHAT_*``), checked once at start.

* ``CCHC_WEBCHAT_ORIGINS``: the portals allowed to embed the widget, comma-separated
  (``https://dichvucong.quangngai.gov.vn,https://quangngai.gov.vn``). The bot's own pages are always allowed.
* ``CCHC_WEBCHAT_SECRET``: signs the visitor cookie and the per-visitor token; comma-separated to rotate
  (the first signs, the others are still accepted). Unset: derived from ``CCHC_SECRET_KEY``, else random
  per start (visitors then get a new identity after a restart; a warning is logged).
* ``CCHC_WEBCHAT_COOKIE_SAMESITE``: ``Lax`` (default: portal and bot on one site, e.g. *.tinh.gov.vn) or
  ``None`` (portal on another site; the cookie is then ``Secure``, so the bot must be on https).
* ``CCHC_WEBCHAT_RATE_VISITOR`` / ``CCHC_WEBCHAT_RATE_IP``: ``count/seconds`` (default ``20/60`` and
  ``120/60``): messages and uploads one visitor / one IP address may send per window.
* ``CCHC_WEBCHAT_TRUST_PROXY``: ``1`` to take the client address from ``X-Forwarded-For`` (behind nginx).
* ``CCHC_TELEGRAM_USERNAME`` / ``CCHC_ZALO_OA_URL``: "connect on Telegram/Zalo" links on the public pages.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from core.web import trusted_proxies_setting

log = logging.getLogger(__name__)


def _origin(name: str, value: str) -> str:
    parsed = urlparse(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path not in ("", "/") \
            or parsed.query or parsed.fragment:
        raise ValueError(f"{name} phải là các nguồn dạng https://portal.gov.vn (chỉ giao thức và tên miền) "
                         f"(đang là {value.strip()!r})")
    return f"{parsed.scheme}://{parsed.netloc}".lower()


def _rate(name: str, value: str | None, default: tuple[int, float]) -> tuple[int, float]:
    if not value:
        return default
    try:
        count, seconds = value.split("/", 1)
        parsed = (int(count), float(seconds))
    except ValueError:
        raise ValueError(f"{name} phải có dạng số lần/số giây, ví dụ 20/60 (đang là {value!r})") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise ValueError(f"{name}: số lần phải ≥ 1 và số giây phải > 0 (đang là {value!r})")
    return parsed


@dataclass(frozen=True)
class WebchatConfig:
    origins: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()
    samesite: str = "Lax"
    rate_visitor: tuple[int, float] = (20, 60.0)
    rate_ip: tuple[int, float] = (120, 60.0)
    trust_proxy: bool = False
    trusted_proxies: int = 1  # proxies appending to X-Forwarded-For (core.web.forwarded_client)
    telegram_username: str = ""
    zalo_oa_url: str = ""
    poll_seconds: float = 10.0  # an open panel also checks the database this often (sends from other processes)
    stream_seconds: float = 300.0  # one SSE response lasts at most this long; the browser reconnects

    @classmethod
    def from_env(cls, env: Mapping[str, str], secret_key: str | None = None) -> WebchatConfig:
        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        origins = frozenset(_origin("CCHC_WEBCHAT_ORIGINS", o) for o in get("CCHC_WEBCHAT_ORIGINS").split(",")
                            if o.strip())
        keys = tuple(s.strip() for s in get("CCHC_WEBCHAT_SECRET").split(",") if s.strip())
        if any(len(k) < 32 for k in keys):
            raise ValueError("CCHC_WEBCHAT_SECRET: mỗi khóa phải dài ít nhất 32 ký tự")
        if not keys:
            if secret_key:
                keys = (hashlib.sha256(b"cchc-webchat\x00" + secret_key.encode()).hexdigest(),)
            else:
                log.warning("Chưa đặt CCHC_WEBCHAT_SECRET và cũng chưa đặt CCHC_SECRET_KEY: mỗi lần khởi động lại, người dân "
                            "trò chuyện trên web thành người mới và không thấy lại cuộc trò chuyện cũ")
                keys = (secrets.token_urlsafe(48),)
        samesite = get("CCHC_WEBCHAT_COOKIE_SAMESITE") or "Lax"
        if samesite.capitalize() not in ("Lax", "Strict", "None"):
            raise ValueError(f"CCHC_WEBCHAT_COOKIE_SAMESITE phải là Lax, Strict hoặc None (đang là {samesite!r})")
        zalo = get("CCHC_ZALO_OA_URL")
        if zalo and urlparse(zalo).scheme != "https":
            raise ValueError(f"CCHC_ZALO_OA_URL phải là liên kết https (https://zalo.me/...) (đang là {zalo!r})")
        username = get("CCHC_TELEGRAM_USERNAME").lstrip("@")
        if username and not username.replace("_", "").isalnum():
            raise ValueError(f"CCHC_TELEGRAM_USERNAME phải là tên bot, ví dụ TroLyCCHC_bot (đang là {username!r})")
        return cls(
            origins=origins, secrets=keys, samesite=samesite.capitalize(),
            rate_visitor=_rate("CCHC_WEBCHAT_RATE_VISITOR", get("CCHC_WEBCHAT_RATE_VISITOR"), (20, 60.0)),
            rate_ip=_rate("CCHC_WEBCHAT_RATE_IP", get("CCHC_WEBCHAT_RATE_IP"), (120, 60.0)),
            trust_proxy=get("CCHC_WEBCHAT_TRUST_PROXY").lower() in ("1", "true", "yes", "on"),
            trusted_proxies=trusted_proxies_setting(env, "CCHC_WEBCHAT_TRUSTED_PROXIES"),
            telegram_username=username, zalo_oa_url=zalo,
        )

    @property
    def telegram_url(self) -> str:
        return f"https://t.me/{self.telegram_username}" if self.telegram_username else ""
