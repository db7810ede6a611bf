"""Access-token management for the Zalo OA adapter: cached in memory, stored in the database, refreshed
through Zalo's OAuth endpoint by one process at a time (see ``store.TokenStore.refresh_exclusive``).

* ``current()`` returns a usable access token: the cached one while it is fresh; otherwise the stored one
  (another process may have refreshed); otherwise it refreshes (under the lock).
* ``invalid(token)``: Zalo rejected ``token`` (-216/-220): reload, and refresh unless another process
  already did; returns the token to retry with.
* Every process therefore picks up a new token without a restart: at the latest when its cached token
  nears expiry or is rejected, and every ``reload_seconds`` anyway (a cheap read; picks up ``set-token``).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import aiohttp

from core.channel import PermanentError, TransientError, retry_call
from channels.zalo_oa.store import TokenPair, TokenStore

__all__ = ["OAuthError", "TokenManager", "ACCESS_TOKEN_PATH"]

log = logging.getLogger(__name__)

ACCESS_TOKEN_PATH = "/v4/oa/access_token"
DEFAULT_ACCESS_TTL = 25 * 3600  # Zalo: an access token lasts 25 hours
DEFAULT_REFRESH_TTL = 90 * 86400  # a refresh token about 3 months


class OAuthError(PermanentError):
    """Zalo's OAuth endpoint refused the refresh (refresh token invalid, expired or already used):
    a person must grant new tokens (``cchc-bot zalo set-token``)."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TokenManager:
    def __init__(
        self,
        store: TokenStore,
        *,
        app_id: str,
        app_secret: str,
        oauth_base_url: str,
        session_getter: Callable[[], aiohttp.ClientSession],
        refresh_margin: float = 3600.0,
        reload_seconds: float = 300.0,
        timeout: float = 10.0,
        max_attempts: int = 3,
        retry_base_delay: float = 0.5,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.app_id = app_id
        self._app_secret = app_secret
        self.url = oauth_base_url.rstrip("/") + ACCESS_TOKEN_PATH
        self._session = session_getter
        self.refresh_margin = refresh_margin
        self.reload_seconds = reload_seconds
        self.timeout = timeout
        self._retry = {"max_attempts": max_attempts, "base_delay": retry_base_delay, "max_delay": 5.0}
        self.clock = clock
        self._cached: TokenPair | None = None
        self._loaded_at: dt.datetime | None = None
        self._lock = asyncio.Lock()  # one refresh attempt per process at a time (the DB lock spans processes)
        self.refreshes = 0  # refreshes this process performed (diagnostics, tests)

    @property
    def cached(self) -> TokenPair | None:
        return self._cached

    async def seed(self, access_token: str, refresh_token: str, expires_in: float = DEFAULT_ACCESS_TTL) -> bool:
        """Store the configured first tokens when the database has none."""
        if not (access_token or refresh_token):
            return False
        now = self.clock()
        pair = TokenPair(access_token, refresh_token, now + dt.timedelta(seconds=expires_in),
                         now + dt.timedelta(seconds=DEFAULT_REFRESH_TTL))
        inserted = await self.store.seed(pair)
        if inserted:
            log.info("zalo_oa: stored the configured tokens for app %s", self.app_id)
        return inserted

    async def current(self) -> str:
        now = self.clock()
        pair = self._cached
        stale_cache = self._loaded_at is None or (now - self._loaded_at).total_seconds() >= self.reload_seconds
        if pair is None or stale_cache or pair.expires_within(self.refresh_margin, now):
            pair = await self._reload()
        if pair is None:
            raise PermanentError("no Zalo OA tokens: set ZALO_OA_ACCESS_TOKEN/ZALO_OA_REFRESH_TOKEN or run "
                                 "`cchc-bot zalo set-token`")
        if pair.expires_within(self.refresh_margin, now):
            pair = await self._refresh(pair)
        return pair.access_token

    async def invalid(self, token: str) -> str:
        """Zalo rejected ``token``: the token to retry with (refreshing if nobody did yet)."""
        pair = await self._reload()
        if pair is not None and pair.access_token != token and pair.access_token:
            return pair.access_token  # someone (another process, set-token) replaced it already
        if pair is None:
            raise PermanentError("no Zalo OA tokens stored")
        return (await self._refresh(pair)).access_token

    async def refresh_if_due(self) -> None:
        """For the background task: refresh when the stored token expires within the margin."""
        pair = await self._reload()
        if pair is not None and pair.expires_within(self.refresh_margin, self.clock()):
            await self._refresh(pair)

    def seconds_until_due(self) -> float:
        pair = self._cached
        if pair is None:
            return self.reload_seconds
        left = (pair.access_expires_at - self.clock()).total_seconds() - self.refresh_margin
        return max(1.0, min(left, self.reload_seconds))

    async def _reload(self) -> TokenPair | None:
        pair = await self.store.load()
        self._cached = pair
        self._loaded_at = self.clock()
        return pair

    async def _refresh(self, stale: TokenPair) -> TokenPair:
        async with self._lock:
            if self._cached is not None and self._cached.version != stale.version:
                return self._cached  # refreshed by another task of this process while we waited
            pair = await self.store.refresh_exclusive(stale, self._call_oauth)
            self._cached = pair
            self._loaded_at = self.clock()
            return pair

    async def _call_oauth(self, current: TokenPair) -> TokenPair:
        if not current.refresh_token:
            raise OAuthError("no Zalo OA refresh token stored: run `cchc-bot zalo set-token`")

        async def attempt() -> dict:
            try:
                async with self._session().post(
                    self.url,
                    data={"refresh_token": current.refresh_token, "app_id": self.app_id,
                          "grant_type": "refresh_token"},
                    headers={"secret_key": self._app_secret},
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as resp:
                    if resp.status >= 500 or resp.status == 429:
                        raise TransientError(f"zalo oauth HTTP {resp.status}")
                    if resp.status >= 400:
                        raise OAuthError(f"zalo oauth HTTP {resp.status}")
                    body = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise TransientError(f"zalo oauth: {type(exc).__name__}") from None
            if not isinstance(body, dict):
                raise TransientError("zalo oauth: unexpected answer")
            return body

        # A network error after Zalo accepted the refresh would lose the rotated token; nothing can prevent
        # that on our side, so transient failures are retried only a few times and then reported.
        body = await retry_call(attempt, **self._retry)  # type: ignore[arg-type]
        access = body.get("access_token")
        refresh = body.get("refresh_token")
        if not access or not refresh:
            code = body.get("error", "?")
            name = str(body.get("error_name") or body.get("error_description") or "")[:120]
            log.error("zalo_oa: token refresh refused (%s %s); grant new tokens with `cchc-bot zalo set-token`",
                      code, name)
            raise OAuthError(f"zalo oauth refused the refresh token (error {code})")
        try:
            expires_in = float(body.get("expires_in") or DEFAULT_ACCESS_TTL)
        except (TypeError, ValueError):
            expires_in = DEFAULT_ACCESS_TTL
        try:
            refresh_in = float(body.get("refresh_token_expires_in") or DEFAULT_REFRESH_TTL)
        except (TypeError, ValueError):
            refresh_in = DEFAULT_REFRESH_TTL
        now = self.clock()
        self.refreshes += 1
        log.info("zalo_oa: access token refreshed for app %s (valid %.0f h)", self.app_id, expires_in / 3600)
        return TokenPair(str(access), str(refresh), now + dt.timedelta(seconds=expires_in),
                         now + dt.timedelta(seconds=refresh_in))
