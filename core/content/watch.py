"""Reload the content pack when a province edits it, without a restart.

Polls file modification times (cheap, works on every filesystem and in containers, unlike inotify);
a pack that no longer validates is refused with the report and the running pack stays in service.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from core.content.loader import PackError, PackSpec, load_pack
from core.context import PackHolder

log = logging.getLogger(__name__)


def fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file's path, size and mtime: changes when anything in the pack is edited, added or removed."""
    entries = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            entries.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def reload_if_changed(holder: PackHolder, root: Path, last: tuple, spec: PackSpec | None = None) -> tuple:
    """One poll: reload when the fingerprint changed; returns the fingerprint now in force."""
    current = fingerprint(root)
    if current == last:
        return last
    try:
        pack = load_pack(root, spec)
    except PackError as exc:
        log.error("content pack changed but is invalid; keeping the previous one:\n%s", exc.report.render())
        return current  # do not retry the same broken state every poll
    holder.replace(pack)
    log.info("content pack reloaded (%d FAQ entries)", len(pack.faq))
    return current


async def watch_pack(holder: PackHolder, root: Path, interval: float, spec: PackSpec | None = None) -> None:
    last = await asyncio.to_thread(fingerprint, root)
    while True:
        await asyncio.sleep(interval)
        try:
            last = await asyncio.to_thread(reload_if_changed, holder, root, last, spec)
        except Exception:  # noqa: BLE001 - a watcher must not die; the bot keeps serving
            log.exception("content watcher failed")
