"""/healthz, /readyz (a registry of checks), /metrics (token or loopback; multi-process) — issue 15."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import use_inbox
from core.types import Incoming
from core.web import LIFECYCLE, add_readiness_check

ROOT = Path(__file__).resolve().parents[2]


class Sink:
    channel = "telegram"

    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, user_id, replies, **kw):  # noqa: ANN001, ANN003
        self.sent.append(replies)


async def test_ready_metrics_and_draining(bot) -> None:
    inbox = use_inbox(bot)
    sink = Sink()
    bot.senders["telegram"] = sink
    await inbox.submit(Incoming(channel="telegram", user_id="6060", text="đăng nhập bằng vneid như thế nào",
                                message_id="q1"))
    await inbox.run_until_idle()
    assert sink.sent
    from tests.feedback.test_service import _file

    await _file(bot, user_id="6161")  # one report, state "new"
    app = bot.web_app()
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        body = await ready.json()
        assert ready.status == 200 and body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"

        metrics = await client.get("/metrics")  # from loopback, no token configured
        text = await metrics.text()
        assert metrics.status == 200
        assert 'cchc_turns_total{channel="telegram",outcome="ok"}' in text
        assert "cchc_turn_seconds_bucket" in text and "cchc_inbox_backlog 0.0" in text
        assert 'cchc_outbound_total{channel="telegram",status="sent"}' in text
        assert 'cchc_faq_decisions_total{decision=' in text
        assert 'cchc_external_api_seconds_count{channel="telegram",operation="send"}' in text
        assert 'cchc_reports{state="new"} 1.0' in text  # read from the database at scrape time

        async def broken() -> str | None:
            return "not connected"

        add_readiness_check(app, "channel:zalo_oa", broken)
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["checks"]["channel:zalo_oa"] == "not connected"
        del app[__import__("core.web", fromlist=["READINESS"]).READINESS]["channel:zalo_oa"]

        app[LIFECYCLE].draining = True  # SIGTERM: new events refused so the platform retries elsewhere
        assert (await client.post("/webchat/api/message", json={})).status == 503
        assert (await client.get("/readyz")).status == 503
        assert (await client.get("/healthz")).status == 200  # alive while it finishes its turns


async def test_metrics_need_the_token_when_one_is_configured(bot) -> None:
    from core.web import create_web_app
    from core.metrics import install_metrics

    app = create_web_app(bot.services, [lambda a: install_metrics(a, bot.services, {"CCHC_METRICS_TOKEN": "s3cret-tok"})])
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/metrics")).status == 403
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 403
        assert (await client.get("/metrics", headers={"Authorization": "Bearer s3cret-tok"})).status == 200


def test_multiprocess_metrics_add_up_across_processes(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    bump = "from core.metrics import TURNS; TURNS.labels('telegram', 'ok').inc(2)"
    for _ in range(3):
        subprocess.run([sys.executable, "-c", bump], cwd=ROOT, env=env, check=True)
    show = "from prometheus_client import generate_latest; from core.metrics import registry; print(generate_latest(registry()).decode())"
    out = subprocess.run([sys.executable, "-c", show], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    assert 'cchc_turns_total{channel="telegram",outcome="ok"} 6.0' in out
