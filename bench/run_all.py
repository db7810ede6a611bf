"""`make bench`: run every benchmark in its own process and print one JSON document.

Each `bench/*_bench.py` prints one JSON object on stdout; a failing benchmark is reported with its
exit code and last lines of stderr instead of hiding the others' numbers.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: Path, args: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=HERE.parent, timeout=3600)
    elapsed = round(time.perf_counter() - started, 1)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}", "stderr": proc.stderr[-2000:], "elapsed_s": elapsed}
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "no JSON on stdout", "stdout": proc.stdout[-2000:], "elapsed_s": elapsed}
    result.setdefault("elapsed_s", elapsed)
    return result


def main() -> int:
    args = sys.argv[1:]
    results = {script.stem: run(script, args) for script in sorted(HERE.glob("*_bench.py"))}
    text = json.dumps(results, ensure_ascii=False, indent=2)
    (HERE / "results.json").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
