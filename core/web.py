"""The one aiohttp server: Telegram/Zalo webhooks, officials' dashboard, web chat, health and metrics.

Features add routes through `WebFeature` callables so this module stays small (aiohttp-demos style app
factory with typed AppKeys).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web
from sqlalchemy import text

from core.context import Services

SERVICES = web.AppKey("services", Services)
BIG_ID_MAX = 2**63 - 1  # BIGINT primary keys (PostgreSQL); SQLite INTEGER has the same range
INT_MAX = 2**31 - 1  # INTEGER columns (e.g. a bulletin's number)


def positive_int(value: str | None, *, maximum: int = BIG_ID_MAX) -> int | None:
    """A path or query parameter as a positive integer that fits its column, else None (the caller answers
    404 or 400). Refuses what `int()` would take but the database would not: "99999999999999999999",
    "-1", "0", " 7", "٣" (non-ASCII digits), "1_000"."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if 1 <= number <= maximum else None
STARTED = web.AppKey("started", float)


class Lifecycle:
    """The process's state as the web server sees it: ``draining`` after SIGTERM (new requests get 503
    so the platform retries them elsewhere; health and metrics still answer)."""

    def __init__(self) -> None:
        self.draining = False


LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
_ALWAYS_SERVED = ("/healthz", "/readyz", "/metrics")


@web.middleware
async def _drain_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    if request.app[LIFECYCLE].draining and request.path not in _ALWAYS_SERVED:
        return web.Response(status=503, headers={"Retry-After": "1"}, text="shutting down")
    return await handler(request)

WebFeature = Callable[[web.Application], None]


async def healthz(request: web.Request) -> web.Response:
    """Liveness plus a database round-trip, for load balancers and `deploy/` health checks."""
    services = request.app[SERVICES]
    try:
        async with services.store.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "uptime_s": round(time.monotonic() - request.app[STARTED], 1)})


# --- readiness (issue 15) -----------------------------------------------------------------------------------
# /readyz answers 200 only when every registered check passes: the database answers, the migrations are at
# head (bot.app registers it), each configured channel is connected (channels register theirs with
# `add_readiness_check`, e.g. `add_readiness_check(app, "telegram", lambda: ...)`), the process is not draining.
ReadinessCheck = Callable[[], Awaitable[str | None]]  # None when ready, else the reason (no personal data)
READINESS = web.AppKey("readiness", dict)
READINESS_TIMEOUT = 2.0


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    """Add (or replace) the readiness check ``name`` of this web app."""
    app[READINESS][name] = check


async def _database_ready(services: Services) -> str | None:
    async with services.store.sessions() as session:
        await session.execute(text("SELECT 1"))
    return None


async def readyz(request: web.Request) -> web.Response:
    """Ready to take traffic: every check passes (each bounded by READINESS_TIMEOUT seconds, run at once)."""
    checks: dict[str, ReadinessCheck] = dict(request.app[READINESS])
    for check in request.app[SERVICES].extra.get("readiness", ()):  # checks the app wiring registered
        checks.setdefault(getattr(check, "__name__", "check"), check)

    async def run(check: ReadinessCheck) -> str:
        try:
            async with asyncio.timeout(READINESS_TIMEOUT):
                return await check() or "ok"
        except TimeoutError:
            return "timed out"
        except Exception as exc:  # noqa: BLE001 - any failure is "not ready", named by its type only
            return f"failed: {type(exc).__name__}"

    results = dict(zip(checks, await asyncio.gather(*(run(c) for c in checks.values()))))
    if request.app[LIFECYCLE].draining:
        results["process"] = "shutting down"
    ready = all(v == "ok" for v in results.values())
    return web.json_response({"status": "ready" if ready else "not ready", "checks": results},
                             status=200 if ready else 503)
# --- end readiness ------------------------------------------------------------------------------------------


def forwarded_client(request: web.Request, trusted_proxies: int) -> str:
    """The client's address behind ``trusted_proxies`` reverse proxies that each append the address they
    received from to X-Forwarded-For (nginx's ``$proxy_add_x_forwarded_for``): the address that many hops
    from the right of [X-Forwarded-For..., peer]. Anything further left was written by the client and is
    never believed. (aiohttp's ``request.remote`` takes no hop count; the dashboard and the web chat share this.)"""
    peer = request.remote or "unknown"
    hops = [part.strip() for header in request.headers.getall("X-Forwarded-For", [])
            for part in header.split(",") if part.strip()]
    chain = [*hops, peer]  # the peer is the nearest proxy
    return chain[max(len(chain) - 1 - trusted_proxies, 0)][:64]


def trusted_proxies_setting(env: Mapping[str, str], name: str) -> int:
    """``name`` (e.g. CCHC_DASHBOARD_TRUSTED_PROXIES): how many proxies append to X-Forwarded-For, 1-10,
    default 1; ValueError naming the variable otherwise."""
    raw = (env.get(name) or "").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 10:
        raise ValueError(f"{name} phải là số nguyên từ 1 đến 10 (đang là {raw!r})")
    return int(raw)


def create_web_app(services: Services, features: Sequence[WebFeature] = ()) -> web.Application:
    app = web.Application(client_max_size=20 * 1024 * 1024, middlewares=[_drain_middleware])
    app[SERVICES] = services
    app[LIFECYCLE] = Lifecycle()
    app[STARTED] = time.monotonic()
    app[READINESS] = {"database": lambda: _database_ready(services)}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for feature in features:
        feature(app)
    return app
