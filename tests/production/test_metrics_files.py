"""The multi-process metrics directory: a restarted service does not add its previous run's values, and
one-off commands (the unit's ExecStartPre, an `admin` command in a container) write nothing there."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import prometheus_client  # noqa: F401 - as in a serving process: this process's own files may be open
from core.metrics_files import remove_stale_files

REPO = Path(__file__).resolve().parents[2]


def test_a_serving_process_removes_only_the_files_of_processes_gone(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    gone = int(finished.stdout)
    files = {name: tmp_path / name for name in (
        f"counter_{gone}.db", f"histogram_{gone}.db",  # a previous run of this service
        f"counter_{os.getpid()}.db",  # this process (its import already opened it)
        f"counter_{os.getppid()}.db",  # another live process sharing the directory
        "notes.txt")}
    for path in files.values():
        path.write_bytes(b"x")
    removed = remove_stale_files(tmp_path)
    assert sorted(p.name for p in removed) == [f"counter_{gone}.db", f"histogram_{gone}.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{os.getpid()}.db", f"counter_{os.getppid()}.db", "notes.txt"])


def test_before_prometheus_is_imported_a_file_named_by_this_pid_is_a_previous_runs(tmp_path: Path) -> None:
    """In a container the bot is pid 1 on every start: its previous run's files carry this pid."""
    code = ("import os, sys; from pathlib import Path; from core.metrics_files import remove_stale_files; "
            "d = Path(sys.argv[1]); (d / f'counter_{os.getpid()}.db').write_bytes(b'x'); "
            "print(len(remove_stale_files(d)), 'prometheus_client' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["1", "False"] and list(tmp_path.iterdir()) == []


def test_one_off_commands_write_no_metric_files(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics), "CCHC_CONTENT_DIR": str(REPO / "content"),
           "CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}
    for command in (["db", "upgrade"], ["admin", "list"], ["bulletin", "list"]):  # the last opens the outbox
        result = subprocess.run([sys.executable, "-m", "bot.cli", *command], cwd=REPO, env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    assert list(metrics.iterdir()) == []
