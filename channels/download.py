"""Fetch a file a citizen sent (Zalo gives a URL) with a size limit, timeouts and bounded retries."""
from __future__ import annotations

import aiohttp

from core.channel import FileTooLarge, PermanentError, TransientError, retry_call

__all__ = ["FileTooLarge", "fetch_bytes"]  # FileTooLarge lives in core.channel (features catch it)



async def read_limited(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The response body, refused with :class:`FileTooLarge` as soon as it passes ``max_bytes`` (the
    declared length is checked first; a lying or missing Content-Length is caught while reading)."""
    if resp.content_length is not None and resp.content_length > max_bytes:
        raise FileTooLarge(f"file of {resp.content_length} bytes exceeds {max_bytes}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise FileTooLarge(f"file exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

async def fetch_bytes(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float = 30.0,
    connect_timeout: float = 5.0,
    max_attempts: int = 3,
    retry_base_delay: float = 0.5,
) -> bytes:
    """GET ``url`` and return its body, or raise: :class:`FileTooLarge` (declared or actual size over
    ``max_bytes``), :class:`PermanentError` (not http(s), 4xx), :class:`TransientError` (network, 5xx, after
    the retries). The URL is never logged (it can carry access keys)."""
    if not url.lower().startswith(("https://", "http://")):
        raise PermanentError("attachment has no downloadable URL")

    async def attempt() -> bytes:
        try:
            async with session.get(
                url, timeout=aiohttp.ClientTimeout(total=timeout, connect=connect_timeout), allow_redirects=True,
            ) as resp:
                if resp.status >= 500 or resp.status == 429:
                    raise TransientError(f"download HTTP {resp.status}")
                if resp.status >= 400:
                    raise PermanentError(f"download HTTP {resp.status}")
                return await read_limited(resp, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"download failed: {type(exc).__name__}") from None

    return await retry_call(attempt, max_attempts=max_attempts, base_delay=retry_base_delay, max_delay=5.0)
