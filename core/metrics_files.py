"""The files of prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR): a serving process's
clean-up at start. No prometheus import here (see :func:`remove_stale_files`)."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def remove_stale_files(directory: Path) -> list[Path]:
    """Remove the multi-process value files of processes no longer running from ``directory``
    (PROMETHEUS_MULTIPROC_DIR); returns what was removed. prometheus-client names them ``<kind>_<pid>.db``
    and sums every file at a scrape, so a restarted service would otherwise add its previous run's values
    (its docs ask for the directory to be wiped between runs; ``multiprocess.mark_process_dead`` only
    removes live gauges). Files of live processes (another process sharing the directory) are kept, and
    this process's own only once prometheus-client is imported (it may have opened them): called before,
    a file named by this pid is a previous run's (a container's process is pid 1 on every start).

    Here, not in core.metrics: importing that module opens this process's files."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.glob("*.db"):
        pid_text = path.stem.rsplit("_", 1)[-1]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if (pid == os.getpid() and "prometheus_client" in sys.modules) or (pid != os.getpid() and _alive(pid)):
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError as exc:  # another process removed it first, or no permission: the scrape still works
            log.debug("metrics: could not remove %s: %s", path.name, type(exc).__name__)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True
