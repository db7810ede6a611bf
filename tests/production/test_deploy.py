"""deploy/: the compose file is valid and names real commands; the Dockerfile's entry point and health
check point at things that exist (issue 15)."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.cli import EXIT_SETTING, EXIT_UNAVAILABLE, build_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def _dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


def _json_array(instruction: str) -> list[str]:
    import json

    match = re.search(rf"^{instruction}\s+(\[.*\])\s*$", _dockerfile(), re.M)
    assert match, f"{instruction} in exec form"
    return json.loads(match.group(1))


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on this machine")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"docker has no compose plugin here: {(probe.stderr or probe.stdout).strip()[:120]}")
    done = subprocess.run([docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_compose_runs_postgres_two_bots_a_worker_and_nginx_with_real_commands() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"postgres", "bot1", "bot2", "worker", "nginx", "migrate"} <= services.keys()
    parser = build_parser()
    for name in ("migrate", "bot1", "bot2", "worker"):
        args = parser.parse_args(services[name]["command"])  # SystemExit on an unknown command
        assert callable(args.func), name
    assert services["bot1"]["command"][0] == "run" and services["worker"]["command"] == ["worker"]
    # the worker's own environment map replaces the anchor's: it must still name the database, and serve
    # /healthz where the image's HEALTHCHECK looks
    worker_env = services["worker"]["environment"]
    assert worker_env["CCHC_DATABASE_URL"] == services["bot1"]["environment"]["CCHC_DATABASE_URL"]
    health_port = re.search(r"http://127\.0\.0\.1:(\d+)/healthz", _dockerfile())
    assert health_port and worker_env["CCHC_WORKER_PORT"] == health_port.group(1)
    build = services["bot1"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    mount = services["nginx"]["volumes"][0].split(":")[0]
    nginx = (DEPLOY / mount).read_text(encoding="utf-8")
    for upstream in ("bot1:8080", "bot2:8080"):
        assert upstream in nginx
    assert "http_503" in nginx  # a draining process's 503 goes to the other one
    env_file = services["bot1"]["env_file"][0]["path"]
    example = (DEPLOY / env_file).with_name(Path(env_file).name + ".example")
    assert example.exists(), "the secrets' template exists"
    assert all(not v.strip() or "change-me" in v or not k.endswith(("SECRET", "TOKEN", "KEY", "PASSWORD"))
               for k, _, v in (line.partition("=") for line in example.read_text().splitlines()
                               if line and not line.startswith("#"))), "no real secret in the example"


def test_dockerfile_entry_point_and_health_check_name_real_commands_and_paths() -> None:
    text = _dockerfile()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER (?!root)\w+", text, re.M), "runs as a non-root user"
    entry = _json_array("ENTRYPOINT")
    assert entry[:3] == ["python", "-m", "bot.cli"] and (ROOT / "bot" / "cli.py").exists()
    build_parser().parse_args(_json_array("CMD"))
    for src in re.findall(r"^COPY (\S+) \./", text, re.M):
        assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
    health = re.search(r"^HEALTHCHECK .*\n\s*CMD (\[.*\])", text, re.M)
    assert health, "HEALTHCHECK in exec form"
    import json

    command = json.loads(health.group(1))
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(command))
    assert url and url.group(2) == "/healthz"
    assert f"CCHC_WEB_PORT={url.group(1)}" in text.replace(" ", "")
    from types import SimpleNamespace

    from core.web import create_web_app

    served = {r.resource.canonical for r in create_web_app(SimpleNamespace()).router.routes()}  # type: ignore[arg-type]
    assert {"/healthz", "/readyz"} <= served
    assert command[0] == "python"  # the image's own interpreter


def test_systemd_units_use_real_commands_and_stop_gracefully() -> None:
    parser = build_parser()
    for unit in ("cchc-bot.service", "cchc-worker@.service"):
        text = (DEPLOY / unit).read_text()
        for line in re.findall(r"^Exec\w+=(.*)$", text, re.M):
            argv = shlex.split(line)
            assert argv[0].endswith("/cchc-bot")
            parser.parse_args(argv[1:])
        assert "KillSignal=SIGTERM" in text and "TimeoutStopSec=" in text
        # a setting to fix is not retried in a loop; an unreachable database is (bot.cli's exit codes)
        assert f"RestartPreventExitStatus={EXIT_SETTING}" in text and EXIT_UNAVAILABLE != EXIT_SETTING
        # each unit its own metrics directory, a copied bot unit included (%N is the unit's own name)
        runtime = re.search(r"^RuntimeDirectory=(.*)$", text, re.M).group(1)  # type: ignore[union-attr]
        assert f"PROMETHEUS_MULTIPROC_DIR=/run/{runtime}" in text and ("%N" in runtime or "%i" in runtime)
