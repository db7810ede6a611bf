"""The bot's own file store: what citizens send is downloaded at intake and kept here, never only as a
platform file id (platform ids expire, and officials must not depend on a chat platform to see evidence).

Files are stored under the SHA-256 of their bytes, so equal bytes are stored once and a name can never
point at other content. A store is four awaitables, small enough for an S3-like backend later::

    class FileStore(Protocol):
        async def put(self, data: bytes) -> str          # the key (64 lowercase hex = sha256); idempotent
        def open(self, key: str) -> AsyncIterator[bytes]  # the bytes in chunks (FileNotFoundError if absent)
        async def exists(self, key: str) -> bool
        async def size(self, key: str) -> int             # FileNotFoundError if absent

:class:`LocalFileStore` (the default) keeps ``<root>/<k[0:2]>/<k[2:4]>/<key>``; the root comes from
``CCHC_FILES_DIR`` (default ``data/files``, see :func:`store_from_env`). A file is written to a temporary
file in its final folder, flushed to disk and renamed into place (atomic on POSIX), so a crash never
leaves a half-written file under a valid key, and two processes writing the same bytes both succeed.

:func:`accept` checks what a feature is willing to keep before anything is written: the size limit and
the type *from the bytes* (magic numbers), never from the file name or the platform's claimed MIME type.
Detection uses the `filetype` library (MIT, no dependencies, signature matchers for the formats citizens
send: JPEG/PNG/GIF/WebP/HEIC images, PDF, Office Open XML and OpenDocument files, MP4/MOV/3GP video,
OGG/MP3/M4A/AMR audio). It was chosen over `python-magic` (needs libmagic, a system library) and
`puremagic` (a large heuristic database that returns ranked guesses; we want one deterministic answer
per signature). Content it cannot identify is refused: a plain-text or HTML "photo" is not evidence and
must never be served back to an official's browser.

Where a feature finds the channel's downloader: :func:`downloader_for` (``services.extra["downloaders"]``
filled by the app wiring, else the channel's sender when it implements ``core.channel.Downloader``).
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import filetype

__all__ = [
    "DEFAULT_DIR",
    "Download",
    "FileRejected",
    "FileStore",
    "LocalFileStore",
    "Stored",
    "accept",
    "detect",
    "downloader_for",
    "extension_for",
    "is_key",
    "known_types",
    "store_from_env",
]

DEFAULT_DIR = "data/files"
CHUNK = 256 * 1024
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")

# What a channel adapter offers to fetch an attachment's bytes (``core.channel.Downloader.download``).
Download = Callable[[Any], Awaitable[bytes]]


def is_key(key: str) -> bool:
    """A well-formed store key (so a key from a URL or a row can never walk out of the store's root)."""
    return bool(_KEY_RE.match(key or ""))


@runtime_checkable
class FileStore(Protocol):
    async def put(self, data: bytes) -> str: ...

    def open(self, key: str) -> AsyncIterator[bytes]: ...

    async def exists(self, key: str) -> bool: ...

    async def size(self, key: str) -> int: ...


class LocalFileStore:
    """Files in a local directory, sharded by the first two bytes of the hash (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"file store {str(self.root)!r} exists and is not a directory")

    def path(self, key: str) -> Path:
        if not is_key(key):
            raise ValueError("not a file store key")
        return self.root / key[:2] / key[2:4] / key

    async def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, key, data)
        return key

    def _write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        if target.is_file() and target.stat().st_size == len(data):
            return  # the same bytes are already there (content addressed: nothing to do)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        try:  # make the rename itself durable
            dir_fd = os.open(target.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks (FileNotFoundError when iteration starts on a missing key)."""
        path = self.path(key)
        fh = await asyncio.to_thread(path.open, "rb")
        try:
            while True:
                chunk = await asyncio.to_thread(fh.read, CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            fh.close()

    async def read(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.open(key)])

    async def exists(self, key: str) -> bool:
        return is_key(key) and await asyncio.to_thread(self.path(key).is_file)

    async def size(self, key: str) -> int:
        return (await asyncio.to_thread(self.path(key).stat)).st_size


def store_from_env(env: Mapping[str, str]) -> LocalFileStore:
    """The process's store: ``CCHC_FILES_DIR`` or ``data/files``."""
    return LocalFileStore((env.get("CCHC_FILES_DIR") or "").strip() or DEFAULT_DIR)


# --- limits and type detection ------------------------------------------------------------------


class FileRejected(Exception):
    """The bytes are not kept. ``reason``: "empty", "too_large" or "type" (never shown as is to users)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True, slots=True)
class Stored:
    """A file the store holds: its key (sha256), size in bytes, the MIME type and extension from its bytes."""

    key: str
    size: int
    mime_type: str
    extension: str


def known_types() -> frozenset[str]:
    """Every MIME type the detector can recognise (what a pack may allow)."""
    return frozenset(t.mime for t in filetype.types)


def extension_for(mime_type: str) -> str:
    """The usual extension of a MIME type the detector knows ("bin" otherwise)."""
    return next((t.extension for t in filetype.types if t.mime == mime_type), "bin")


def detect(data: bytes) -> tuple[str, str] | None:
    """(MIME type, extension) from the bytes' signature, or None when unknown."""
    kind = filetype.guess(data[:8192]) if data else None
    if kind is None:
        return None
    return kind.mime, kind.extension


async def accept(store: FileStore, data: bytes, *, max_bytes: int, allowed_types: Iterable[str]) -> Stored:
    """Check ``data`` against the limits and keep it; raises :class:`FileRejected` (nothing written)."""
    if not data:
        raise FileRejected("empty")
    if len(data) > max_bytes:
        raise FileRejected("too_large", f"{len(data)} > {max_bytes} bytes")
    found = detect(data)
    if found is None or found[0] not in set(allowed_types):
        raise FileRejected("type", found[0] if found else "unknown")
    key = await store.put(data)
    return Stored(key, len(data), found[0], found[1])


def downloader_for(services: Any, channel: str) -> Download | None:
    """How to fetch ``channel``'s attachments: ``services.extra["downloaders"][channel]`` (set by the app
    wiring), else the channel's sender when it has a ``download`` method; None when there is neither."""
    extra = getattr(services, "extra", {}) or {}
    found = (extra.get("downloaders") or {}).get(channel)
    if found is not None:
        return found
    sender = (extra.get("senders") or {}).get(channel)
    download = getattr(sender, "download", None)
    return download if callable(download) else None
