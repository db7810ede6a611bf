"""Zalo OA settings from the environment (one-line ValueError naming the wrong variable)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ZaloOASettings", "SIGNATURE_KEYS", "SIGNATURE_IDS", "SIGNATURE_TIMESTAMPS"]

# Sources disagree on the webhook MAC (see README.md): which secret, which id, which timestamp.
SIGNATURE_KEYS = ("oa_secret_key", "app_secret")
SIGNATURE_IDS = ("app_id", "oa_id")
SIGNATURE_TIMESTAMPS = ("body", "header")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: không phải số nguyên: {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name}: phải ≥ {minimum}, nhận {value}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or "").strip() or default
    if not raw.startswith(("https://", "http://")):
        raise ValueError(f"{name}: phải là địa chỉ http(s)://, nhận {raw!r}")
    return raw.rstrip("/")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or "").strip().lower() or choices[0]
    if raw not in choices:
        raise ValueError(f"{name}: một trong {', '.join(choices)}; nhận {raw!r}")
    return raw


@dataclass(frozen=True)
class ZaloOASettings:
    app_id: str
    secret_key: str  # the OA secret key (webhook signature)
    app_secret: str  # the app's secret key (OAuth header `secret_key`)
    access_token: str = ""
    refresh_token: str = ""
    webhook_path: str = "/zalo/oa/webhook"
    api_base_url: str = "https://openapi.zalo.me"
    oauth_base_url: str = "https://oauth.zaloapp.com"
    proactive_monthly_quota: int = 0  # 0 = proactive messages off (only replies to a citizen's message)
    oa_id: str = ""
    signature_key: str = "oa_secret_key"
    signature_id: str = "app_id"
    signature_timestamp: str = "body"
    webhook_max_age: int = 3900  # seconds; Zalo retries a failed delivery for up to 1 hour

    @staticmethod
    def configured(env: Mapping[str, str]) -> bool:
        """True when any ZALO_OA_* setting is present (then the required ones must be too)."""
        return any((env.get(k) or "").strip() for k in ("ZALO_OA_APP_ID", "ZALO_OA_SECRET_KEY", "ZALO_OA_APP_SECRET"))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ZaloOASettings:
        def need(name: str) -> str:
            value = (env.get(name) or "").strip()
            if not value:
                raise ValueError(f"{name}: bắt buộc khi dùng Zalo OA")
            return value

        app_id = need("ZALO_OA_APP_ID")
        if not app_id.isdigit():
            raise ValueError(f"ZALO_OA_APP_ID: phải là dãy số (App ID của ứng dụng Zalo), nhận {app_id!r}")
        path = (env.get("ZALO_OA_WEBHOOK_PATH") or "").strip() or "/zalo/oa/webhook"
        if not path.startswith("/") or " " in path:
            raise ValueError(f"ZALO_OA_WEBHOOK_PATH: phải bắt đầu bằng '/', nhận {path!r}")
        settings = cls(
            app_id=app_id,
            secret_key=need("ZALO_OA_SECRET_KEY"),
            app_secret=need("ZALO_OA_APP_SECRET"),
            access_token=(env.get("ZALO_OA_ACCESS_TOKEN") or "").strip(),
            refresh_token=(env.get("ZALO_OA_REFRESH_TOKEN") or "").strip(),
            webhook_path=path,
            api_base_url=_url(env, "ZALO_OA_API_BASE_URL", "https://openapi.zalo.me"),
            oauth_base_url=_url(env, "ZALO_OAUTH_BASE_URL", "https://oauth.zaloapp.com"),
            proactive_monthly_quota=_int(env, "ZALO_OA_PROACTIVE_MONTHLY_QUOTA", 0),
            oa_id=(env.get("ZALO_OA_ID") or "").strip(),
            signature_key=_choice(env, "ZALO_OA_SIGNATURE_KEY", SIGNATURE_KEYS),
            signature_id=_choice(env, "ZALO_OA_SIGNATURE_ID", SIGNATURE_IDS),
            signature_timestamp=_choice(env, "ZALO_OA_SIGNATURE_TIMESTAMP", SIGNATURE_TIMESTAMPS),
            webhook_max_age=_int(env, "ZALO_OA_WEBHOOK_MAX_AGE", 3900, minimum=30),
        )
        if settings.signature_id == "oa_id" and not settings.oa_id:
            raise ValueError("ZALO_OA_ID: bắt buộc khi ZALO_OA_SIGNATURE_ID=oa_id")
        return settings

    @property
    def signing_secret(self) -> str:
        return self.secret_key if self.signature_key == "oa_secret_key" else self.app_secret
