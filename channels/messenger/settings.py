"""Configuration of the Messenger channel, read from the environment (``MESSENGER_*``).

The channel is *configured* when any of the three secrets is set; then all three are required. Every
problem is reported as a one-line :class:`ValueError` naming the variable, e.g.
``MESSENGER_API_VERSION must look like v25.0, got '25'``. Secrets never appear in messages.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_GRAPH_BASE_URL",
    "DEFAULT_WEBHOOK_PATH",
    "KNOWN_TAGS",
    "MessengerSettings",
]

DEFAULT_WEBHOOK_PATH = "/webhooks/messenger"
DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
# Meta releases a Graph API version about every quarter and supports each for about two years; the
# Messenger docs of May 2026 show v25.0. Set MESSENGER_API_VERSION to move on without a code change.
DEFAULT_API_VERSION = "v25.0"
# The message tags Meta's "Message Tags" page lists for Messenger (checked 2026). Outside the 24-hour
# window a message may only go out with a tag whose rules fit it (see channels/messenger/policy.py).
KNOWN_TAGS = frozenset({"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "HUMAN_AGENT"})

_VERSION_RE = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True, slots=True)
class MessengerSettings:
    page_access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    webhook_path: str = DEFAULT_WEBHOOK_PATH
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    update_tag: str = ""  # "" = defer updates outside the 24-hour window

    def __repr__(self) -> str:  # never print secrets (logs, tracebacks)
        return (f"MessengerSettings(configured={self.configured}, webhook_path={self.webhook_path!r}, "
                f"graph_base_url={self.graph_base_url!r}, api_version={self.api_version!r}, "
                f"update_tag={self.update_tag!r})")

    @property
    def configured(self) -> bool:
        return bool(self.page_access_token and self.app_secret and self.verify_token)

    @property
    def send_url(self) -> str:
        return f"{self.graph_base_url}/{self.api_version}/me/messages"

    def graph_url(self, path: str) -> str:
        return f"{self.graph_base_url}/{self.api_version}/{path.lstrip('/')}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MessengerSettings:
        """Read and check the ``MESSENGER_*`` variables. Returns unconfigured settings (``configured`` is
        False) when none of the three secrets is set; raises ValueError naming the first wrong variable."""

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        token, secret, verify = (get("MESSENGER_PAGE_ACCESS_TOKEN"), get("MESSENGER_APP_SECRET"),
                                 get("MESSENGER_VERIFY_TOKEN"))
        secrets_given = {"MESSENGER_PAGE_ACCESS_TOKEN": token, "MESSENGER_APP_SECRET": secret,
                         "MESSENGER_VERIFY_TOKEN": verify}
        if any(secrets_given.values()):
            for name, value in secrets_given.items():
                if not value:
                    others = ", ".join(n for n, v in secrets_given.items() if v)
                    raise ValueError(f"{name} là bắt buộc khi đã đặt {others}")
                if any(c.isspace() for c in value) or not value.isprintable():
                    raise ValueError(f"{name} không được chứa dấu cách hay ký tự điều khiển")
            if len(verify) > 256:
                raise ValueError("MESSENGER_VERIFY_TOKEN dài tối đa 256 ký tự")

        path = get("MESSENGER_WEBHOOK_PATH") or DEFAULT_WEBHOOK_PATH
        if not _PATH_RE.match(path) or "//" in path or len(path) > 200:
            raise ValueError(f"MESSENGER_WEBHOOK_PATH phải là đường dẫn như {DEFAULT_WEBHOOK_PATH} (đang là {path[:80]!r})")

        base = (get("MESSENGER_GRAPH_BASE_URL") or DEFAULT_GRAPH_BASE_URL).rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"MESSENGER_GRAPH_BASE_URL phải là địa chỉ http(s) như {DEFAULT_GRAPH_BASE_URL} "
                             f"(đang là {base[:80]!r})")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ValueError("MESSENGER_GRAPH_BASE_URL phải dùng https (http chỉ dùng cho API giả lập trên máy, 127.0.0.1)")

        version = get("MESSENGER_API_VERSION") or DEFAULT_API_VERSION
        if not _VERSION_RE.match(version):
            raise ValueError(f"MESSENGER_API_VERSION phải có dạng {DEFAULT_API_VERSION} (đang là {version[:20]!r})")

        tag = get("MESSENGER_UPDATE_TAG").upper()
        if tag and tag not in KNOWN_TAGS:
            raise ValueError(f"MESSENGER_UPDATE_TAG phải để trống hoặc là một trong {', '.join(sorted(KNOWN_TAGS))} "
                             f"(đang là {tag[:40]!r})")
        return cls(page_access_token=token, app_secret=secret, verify_token=verify, webhook_path=path,
                   graph_base_url=base, api_version=version, update_tag=tag)
