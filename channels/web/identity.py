"""Who a visitor is: a random id in a signed cookie, and the per-visitor token that guards POSTs.

Both are HMAC-SHA256 over the id with the newest secret; any configured secret is accepted, so rotating
means putting the new secret first and dropping the old one a cookie lifetime later.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

COOKIE = "cchc_webchat"
COOKIE_MAX_AGE = 180 * 24 * 3600
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")


def _mac(secret: str, purpose: str, visitor_id: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}\x00{visitor_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Signer:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one secret is required")
        self.keys = tuple(keys)

    @staticmethod
    def new_visitor() -> str:
        return secrets.token_urlsafe(16)  # 22 characters, 128 random bits

    def cookie(self, visitor_id: str) -> str:
        return f"{visitor_id}.{_mac(self.keys[0], 'visitor', visitor_id)}"

    def visitor(self, cookie: str | None) -> tuple[str | None, bool]:
        """(visitor id, signed with an older secret) of a cookie value, or (None, False) when forged."""
        if not cookie or "." not in cookie:
            return None, False
        visitor_id, _, mac = cookie.partition(".")
        if not _ID_RE.match(visitor_id):
            return None, False
        for i, key in enumerate(self.keys):
            if hmac.compare_digest(mac, _mac(key, "visitor", visitor_id)):
                return visitor_id, i > 0
        return None, False

    def token(self, visitor_id: str) -> str:
        return _mac(self.keys[0], "csrf", visitor_id)

    def token_ok(self, visitor_id: str, token: str | None) -> bool:
        return bool(token) and any(hmac.compare_digest(token or "", _mac(k, "csrf", visitor_id)) for k in self.keys)
