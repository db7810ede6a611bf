"""Prometheus metrics (`prometheus-client`), multi-process aware, served at ``/metrics``.

* Counters and histograms are recorded where things happen (the inbox, the outbox, the interaction log).
  With ``PROMETHEUS_MULTIPROC_DIR`` set (prometheus-client's multiprocess mode) each process writes its values
  to files there and ``/metrics`` sums the files: the deployments give each service its own directory
  (systemd ``/run/%N``, a container's ``/app/metrics``); a serving process removes the files of processes no
  longer running at start (core.metrics_files) and one-off commands write none (bot.cli).
* Gauges of the database (inbox backlog and oldest age, reports by state and overdue...) are read at
  scrape time by the collectors in ``services.extra["metrics_collectors"]`` (async functions returning
  ``[(gauge, labels, value)]``): the same numbers whichever process answers.
* Protection: with ``CCHC_METRICS_TOKEN`` set a scrape needs ``Authorization: Bearer <token>``; without it
  only loopback clients are answered (bind the scraper to the host, or put the token in its config).

Labels never carry personal data: channels, outcomes, states, agency ids.
"""
from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

log = logging.getLogger(__name__)

_MULTI = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_GAUGE_MODE = {"multiprocess_mode": "mostrecent"} if _MULTI else {}

TURNS = Counter("cchc_turns_total", "Chat turns handled, by channel and outcome (ok, error, parked).",
                ["channel", "outcome"])
TURN_SECONDS = Histogram("cchc_turn_seconds", "From the event stored in the inbox to its replies sent.",
                         ["channel"], buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
FAQ_DECISIONS = Counter("cchc_faq_decisions_total", "FAQ decisions (answer, suggest, none...).", ["decision"])
OUTBOUND = Counter("cchc_outbound_total", "Messages to people by channel and result (sent, deferred, failed, retry).",
                   ["channel", "status"])
EXTERNAL_SECONDS = Histogram("cchc_external_api_seconds", "Calls to platform APIs (one send of a message).",
                             ["channel", "operation"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EXTERNAL_ERRORS = Counter("cchc_external_api_errors_total", "Failed platform API calls by error type.",
                          ["channel", "operation", "error"])
INBOX_BACKLOG = Gauge("cchc_inbox_backlog", "Events waiting in the inbox (pending).", **_GAUGE_MODE)
INBOX_OLDEST = Gauge("cchc_inbox_oldest_age_seconds", "Age of the oldest pending event.", **_GAUGE_MODE)
OUTBOX_BACKLOG = Gauge("cchc_outbox_pending", "Messages waiting in the outbox, by channel.", ["channel"],
                       **_GAUGE_MODE)
REPORTS = Gauge("cchc_reports", "Feedback reports by state.", ["state"], **_GAUGE_MODE)
REPORTS_OVERDUE = Gauge("cchc_reports_overdue", "Open reports past their deadline, by agency.", ["agency"],
                        **_GAUGE_MODE)

Sample = tuple[Gauge, Mapping[str, str], float]
Collector = Callable[[], Awaitable[Sequence[Sample]]]


def registry() -> CollectorRegistry:
    """What a scrape shows: every process's values in multiprocess mode, else this process's."""
    if _MULTI:
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    from prometheus_client import REGISTRY

    return REGISTRY


def allowed(request: web.Request, token: str) -> bool:
    if token:
        header = request.headers.get("Authorization", "")
        return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
    return request.remote in ("127.0.0.1", "::1")


def install_metrics(app: web.Application, services: Any, env: Mapping[str, str]) -> None:
    """Serve ``/metrics`` (see the module docstring for its protection)."""
    token = env.get("CCHC_METRICS_TOKEN", "")

    async def metrics(request: web.Request) -> web.Response:
        if not allowed(request, token):
            return web.Response(status=403, text="forbidden")
        for collect in services.extra.get("metrics_collectors", ()):
            try:
                for gauge, labels, value in await collect():
                    (gauge.labels(**labels) if labels else gauge).set(value)
            except Exception as exc:  # noqa: BLE001 - a failing collector must not hide the others
                log.warning("metrics: collector failed: %s", type(exc).__name__)
        body = generate_latest(registry())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)


def add_collector(services: Any, collect: Collector) -> None:
    services.extra.setdefault("metrics_collectors", []).append(collect)
