"""Speed of a turn, end to end, with real `cchc-bot run` processes on PostgreSQL (issue 15).

    .venv/bin/python bench/turn_bench.py [--citizens 400] [--rounds 5] [--processes 1] [--uncapped 1,2,4]
                                         [--pg URL] [--rate 100] [--no-profile] [--no-sqlite]

The path measured is the production one: a FAQ question (the FAQ's held-out set of real-style questions)
is POSTed as a Telegram webhook update (round robin over the processes, like the reverse proxy) → stored in
the durable inbox → claimed, the turn runs → the replies are an outbox row → sent to the fake Bot API on
loopback. A turn's latency is from the POST to the fake accepting the turn's last message. Each process is
`python -m bot.cli run --no-chat` in webhook mode on one throw-away PostgreSQL schema (CCHC_DATABASE_SCHEMA).

* closed loop: ``citizens`` people ask at once, each waits for the answer before asking again
  (``rounds`` questions each): turns/s, p50/p99 and the bot processes' CPU per turn —
  with Telegram's send cap (30 msg/s per bot: what one bot can answer on real Telegram, ``--processes``)
  and without it (``CCHC_RATE_TELEGRAM`` lifted: the pipeline's own speed, for 1, 2 and 4 processes);
* open loop: one process, questions offered at ``rate`` turns/s and at half that (each from a new
  citizen): p50/p99;
* profile: the 1-process closed loop again under cProfile, summarised by package and top functions;
* SQLite (one process, closed loop, cap lifted) for comparison; ``targets``: issue 15's figures beside them.

Zero loss is checked: every question answered exactly once. Prints ONE JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage  # noqa: E402
from tests.pgschema import PG_URL, pg_unreachable, throwaway_schema  # noqa: E402

TOKEN = "123456:turn-bench-token-abcdefghijklmnopqrstu"
SECRET = "Tb7kQ2vN7xLp4RzT9mB3cF6hJ1dY5gKaU0eVnXo"
SECRET_KEY = "turn-bench-secret-key-0123456789abcdefghijklmn"
# What citizens ask: the FAQ's held-out set of real-style questions (with and without diacritics, typos,
# abbreviations), in scope only, each asked by several citizens, as after a bulletin. Turns that open a
# report or ask for personal data are left out: the benchmark measures the question-and-answer turn.
QUESTIONS = [q["q"] for q in map(json.loads, (ROOT / "tests/faq/heldout-real.jsonl").read_text().splitlines())
             if q.get("expect") and not any(ch.isdigit() for ch in q["q"])]
USER_BASE = 8_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))] * 1000, 1)


class TimedFake(FakeTelegramAPI):
    """The fake Bot API that tells waiters when a chat received messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiters: dict[str, tuple[int, asyncio.Future[float]]] = {}

    def _record(self, rec: SentMessage) -> None:
        super()._record(rec)
        waiter = self.waiters.get(rec.chat_id)
        if waiter is not None and len(self._by_chat[rec.chat_id]) >= waiter[0] and not waiter[1].done():
            waiter[1].set_result(time.perf_counter())

    def expect(self, chat: int, count: int) -> asyncio.Future[float]:
        fut = asyncio.get_running_loop().create_future()
        self.waiters[str(chat)] = (len(self._by_chat[str(chat)]) + count, fut)
        return fut


class Cluster:
    """N `cchc-bot run` processes in webhook mode on one database."""

    def __init__(self, api: FakeTelegramAPI, env: dict[str, str], processes: int, *, profile: Path | None = None):
        self.api, self.env, self.n, self.profile = api, env, processes, profile
        self.ports = [_free_port() for _ in range(processes)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    async def start(self) -> None:
        for i, port in enumerate(self.ports):
            env = {**os.environ, **self.env, "CCHC_WEB_PORT": str(port), "TELEGRAM_BOT_TOKEN": self.api.token,
                   "TELEGRAM_API_BASE_URL": self.api.base_url,
                   "TELEGRAM_WEBHOOK_URL": "https://bot.example.vn/telegram/webhook",
                   "TELEGRAM_WEBHOOK_SECRET": SECRET, "CCHC_SECRET_KEY": SECRET_KEY,
                   "CCHC_CONTENT_RELOAD_SECONDS": "0", "CCHC_CONTENT_DIR": str(ROOT / "content"),
                   "CCHC_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            cmd = [sys.executable]
            if self.profile is not None:
                cmd += ["-m", "cProfile", "-o", str(self.profile)]
            cmd += ["-m", "bot.cli", "run", "--no-chat"]
            log = Path(tempfile.mkstemp(prefix=f"turnbench{i}-", suffix=".log")[1])
            self.logs.append(log)
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=log.open("wb")))
        async with aiohttp.ClientSession() as http:
            for port, proc in zip(self.ports, self.procs):
                for _ in range(600):
                    if proc.poll() is not None:
                        raise RuntimeError(f"bot process exited: {self.logs[0].read_text()[-1500:]}")
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/readyz") as r:  # ready: the webhook takes updates
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("bot process did not become healthy")

    async def stop(self) -> list[int | None]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(await asyncio.to_thread(proc.wait, 60))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(None)
        for log in self.logs:
            if not os.environ.get("BENCH_KEEP_LOGS"):
                log.unlink(missing_ok=True)
        return codes


async def _ask(http: aiohttp.ClientSession, api: TimedFake, port: int, chat: int, text: str, per_turn: int,
               timeout: float = 120.0) -> float:
    update = api.make_text(chat, text, "Dân")
    fut = api.expect(chat, per_turn)
    started = time.perf_counter()
    async with http.post(f"http://127.0.0.1:{port}/telegram/webhook", json=update,
                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
        if r.status != 200:
            raise RuntimeError(f"webhook answered {r.status}")
    finished = await asyncio.wait_for(fut, timeout)
    return finished - started


async def _messages_per_turn(http: aiohttp.ClientSession, api: TimedFake, port: int) -> int:
    """How many messages the bot sends for one FAQ question (the probe citizen asks once)."""
    chat = USER_BASE - 1
    await _ask(http, api, port, chat, QUESTIONS[0], 1, timeout=30)
    await asyncio.sleep(1.0)
    return len(api.sent_to(chat))


async def closed_loop(api: TimedFake, cluster: Cluster, citizens: int, rounds: int, per_turn: int) -> dict[str, Any]:
    latencies: list[float] = []
    failures: collections.Counter[str] = collections.Counter()
    sent_before = len(api.messages)

    async def citizen(i: int, http: aiohttp.ClientSession) -> None:
        chat = USER_BASE + i
        port = cluster.ports[i % cluster.n]
        for r in range(rounds):
            try:
                latencies.append(await _ask(http, api, port, chat, QUESTIONS[(i + r) % len(QUESTIONS)], per_turn))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                failures[type(exc).__name__] += 1
                return

    connector = aiohttp.TCPConnector(limit=0)
    cpu_before = sum(_cpu_seconds(p.pid) for p in cluster.procs)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(citizen(i, http) for i in range(citizens)))
        wall = time.perf_counter() - started
    cpu = sum(_cpu_seconds(p.pid) for p in cluster.procs) - cpu_before
    await asyncio.sleep(0.5)  # anything sent twice arrives now
    answers = len(api.messages) - sent_before
    expected = citizens * rounds
    return {"processes": cluster.n, "citizens": citizens, "turns": len(latencies), "wall_s": round(wall, 2),
            "turns_per_s": round(len(latencies) / wall, 1), "p50_ms": _pct(latencies, 0.5),
            "p99_ms": _pct(latencies, 0.99), "max_ms": _pct(latencies, 1.0),
            "bot_cpu_ms_per_turn": round(cpu / len(latencies) * 1000, 2) if latencies else None,
            "messages": answers, "zero_loss_no_duplicates": answers == expected * per_turn and not failures,
            "failures": dict(failures)}


async def open_loop(api: TimedFake, cluster: Cluster, rate: float, seconds: float, per_turn: int) -> dict[str, Any]:
    latencies: list[float] = []
    failures: collections.Counter[str] = collections.Counter()
    total = int(rate * seconds)

    async def one(i: int, http: aiohttp.ClientSession) -> None:
        try:
            latencies.append(await _ask(http, api, cluster.ports[i % cluster.n], USER_BASE + 500_000 + i,
                                        QUESTIONS[i % len(QUESTIONS)], per_turn))
        except Exception as exc:  # noqa: BLE001
            failures[type(exc).__name__] += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for i in range(total):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, http)))
        await asyncio.gather(*tasks)
    return {"processes": cluster.n, "offered_turns_per_s": rate, "turns": len(latencies),
            "p50_ms": _pct(latencies, 0.5), "p99_ms": _pct(latencies, 0.99), "max_ms": _pct(latencies, 1.0),
            "failures": dict(failures)}


def profile_summary(path: Path, turns: int) -> dict[str, Any]:
    """Where the process's CPU time went: own time by package, and the top functions."""
    stats = pstats.Stats(str(path))
    by_package: collections.Counter[str] = collections.Counter()
    rows = []
    total = 0.0
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        fn = filename.replace("\\", "/")
        if "site-packages/" in fn:
            package = fn.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        elif fn.startswith(str(ROOT)):
            package = "cchc:" + fn[len(str(ROOT)) + 1:].split("/", 1)[0]
        elif fn.startswith("~") or fn.startswith("<"):
            package = "builtins" if name.startswith("<") else "stdlib"
            if name.startswith("<method 'select'") or "epoll" in name or name.startswith("<method 'poll'"):
                package = "idle (epoll wait)"
        else:
            package = "stdlib:" + Path(fn).stem if "asyncio" in fn or "selectors" in fn else "stdlib"
        by_package[package] += tottime
        rows.append((tottime, calls, f"{Path(fn).name}:{line}({name})", cumtime))
    rows.sort(reverse=True)
    busy = total - by_package.get("idle (epoll wait)", 0.0)
    return {
        "profiled_turns": turns,
        "cpu_ms_per_turn": round(busy / turns * 1000, 2) if turns else None,
        "share_by_package": {k: round(v / busy * 100, 1) for k, v in by_package.most_common(14)
                             if k != "idle (epoll wait)"},
        "top_functions_own_time": [{"function": f, "calls": c, "own_ms_per_turn": round(t / turns * 1000, 3)}
                                   for t, c, f, _cum in rows[:15] if "epoll" not in f and "select" not in f],
    }


@asynccontextmanager
async def pg_database(url: str) -> AsyncIterator[dict[str, str]]:
    """A fresh, migrated throw-away schema (each run starts empty; the fake's update ids restart at 1)."""
    from bot.database import upgrade

    async with throwaway_schema(url, prefix="turnbench") as (engine, schema):
        await upgrade(engine)
        yield {"CCHC_DATABASE_URL": url, "CCHC_DATABASE_SCHEMA": schema}


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[dict[str, str]]:
    from bot.database import upgrade
    from core.storage.db import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield {"CCHC_DATABASE_URL": url}


def pool_env(processes: int) -> dict[str, str]:
    """Each process's PostgreSQL pool: ``processes`` x (size + overflow) stays under PostgreSQL's
    max_connections (100 here) beside the benchmark's own connections. Overflow connections are opened and
    closed around every burst (each a new TLS-tried connection with a cold statement cache), so the pool is
    all steady size: the product's 30 per process (25 + 5), at most ``BENCH_POOL`` (default 90) in all."""
    total = min(30 * processes, int(os.environ.get("BENCH_POOL", "90")))
    return {"CCHC_DB_POOL_SIZE": str(max(2, total // processes)), "CCHC_DB_MAX_OVERFLOW": "0"}


async def run_backend(args: argparse.Namespace, database: Callable[[], Any], counts: list[int], *,
                      profile: bool, rate: float | None, uncapped: list[int] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"closed_loop": []}
    for n in counts:
        async with database() as env, TimedFake(token=TOKEN) as api:
            # processes x (pool size + overflow) must stay under PostgreSQL's max_connections (100 here)
            cluster = Cluster(api, {**pool_env(n), **env}, n)
            await cluster.start()
            try:
                async with aiohttp.ClientSession() as http:
                    out["messages_per_turn"] = per_turn = await _messages_per_turn(http, api, cluster.ports[0])
                out["closed_loop"].append(await closed_loop(api, cluster, args.citizens, args.rounds, per_turn))
                if n == 1 and rate:
                    out["open_loop"] = await open_loop(api, cluster, rate, args.seconds, per_turn)
            finally:
                codes = await cluster.stop()
                if out["closed_loop"]:
                    out["closed_loop"][-1]["exit_codes"] = codes
    if uncapped:
        # The same closed loop with Telegram's send cap lifted (CCHC_RATE_TELEGRAM): the pipeline's own speed.
        # With the cap (30 msg/s per bot, core.pacing) one process cannot answer more than ~29 turns/s.
        out["closed_loop_send_cap_lifted"] = []
        for n in uncapped:
            async with database() as env, TimedFake(token=TOKEN) as api:
                cluster = Cluster(api, {**pool_env(n), **env, "CCHC_RATE_TELEGRAM": "100000"}, n)
                await cluster.start()
                try:
                    async with aiohttp.ClientSession() as http:
                        per_turn = await _messages_per_turn(http, api, cluster.ports[0])
                    run = await closed_loop(api, cluster, args.citizens, args.rounds, per_turn)
                    if n == 1 and rate:
                        run["open_loop"] = await open_loop(api, cluster, rate, args.seconds, per_turn)
                        # and at half that rate: the latency a citizen sees when the process is not saturated
                        run["open_loop_half_rate"] = await open_loop(api, cluster, rate / 2, args.seconds, per_turn)
                finally:
                    run["exit_codes"] = await cluster.stop()
                out["closed_loop_send_cap_lifted"].append(run)
    if profile:
        with tempfile.TemporaryDirectory() as tmp:
            prof = Path(tmp) / "turn.prof"
            async with database() as env, TimedFake(token=TOKEN) as api:
                cluster = Cluster(api, {**pool_env(1), **env, "CCHC_RATE_TELEGRAM": "100000"}, 1, profile=prof)
                await cluster.start()
                try:
                    async with aiohttp.ClientSession() as http:
                        per_turn = await _messages_per_turn(http, api, cluster.ports[0])
                    run = await closed_loop(api, cluster, args.citizens, args.rounds, per_turn)
                finally:
                    await cluster.stop()
            if os.environ.get("BENCH_PROFILE_OUT") and prof.exists():
                import shutil

                shutil.copy(prof, os.environ["BENCH_PROFILE_OUT"])
            out["profile"] = {"turns_per_s_under_profiler": run["turns_per_s"],
                              **(profile_summary(prof, run["turns"] + 1) if prof.exists()
                                 else {"error": "no profile written (the process did not exit cleanly)"})}
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--processes", default="1", help="process counts run with Telegram's 30 msg/s cap")
    parser.add_argument("--rate", type=float, default=100.0, help="open loop offered turns/s (0: skip)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pg", default=PG_URL)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--uncapped", default="1,2,4", help="process counts run without the send cap (the curve)")
    args, _unknown = parser.parse_known_args()  # run_all passes its own arguments to every benchmark
    counts = [int(x) for x in args.processes.split(",") if x]
    out: dict[str, Any] = {"benchmark": "turn_end_to_end", "path": "webhook → inbox → turn → outbox → fake Bot API",
                           "citizens": args.citizens, "rounds": args.rounds, "cpus": os.cpu_count(),
                           "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    reason = await pg_unreachable(args.pg)
    if reason:
        out["postgresql"] = {"skipped": reason}
    else:
        out["postgresql"] = await run_backend(args, lambda: pg_database(args.pg), counts,
                                              profile=not args.no_profile, rate=args.rate,
                                              uncapped=[int(x) for x in args.uncapped.split(",") if x])
    if not args.no_sqlite:
        out["sqlite"] = await run_backend(args, sqlite_database, [], profile=False, rate=None, uncapped=[1])
    out["targets"] = targets(out)
    print(json.dumps(out, ensure_ascii=False))


def targets(out: dict[str, Any]) -> dict[str, Any]:
    """Issue 15's targets beside the measured figures (the pipeline's own speed: send cap lifted)."""
    pg = out.get("postgresql", {})
    lifted = {r["processes"]: r for r in pg.get("closed_loop_send_cap_lifted", [])}
    one = lifted.get(1, {})
    open_loop = one.get("open_loop") or pg.get("open_loop") or {}
    sqlite = (out.get("sqlite", {}).get("closed_loop_send_cap_lifted") or [{}])[0]
    return {
        "pg_1_process_turns_per_s": {"target": 200, "measured": one.get("turns_per_s"),
                                     "met": (one.get("turns_per_s") or 0) >= 200},
        "sqlite_turns_per_s": {"target": 120, "measured": sqlite.get("turns_per_s"),
                               "met": (sqlite.get("turns_per_s") or 0) >= 120},
        "p99_ms_at_100_turns_per_s": {"target": 250, "measured": open_loop.get("p99_ms"),
                                      "met": (open_loop.get("p99_ms") or 1e9) <= 250},
        "p99_ms_at_half_that_rate": (one.get("open_loop_half_rate") or {}).get("p99_ms"),
        "scaling_turns_per_s": {n: r["turns_per_s"] for n, r in sorted(lifted.items())},
    }


if __name__ == "__main__":
    asyncio.run(main())
