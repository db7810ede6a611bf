"""The `cchc-bot` command as an operator uses it."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOT = [sys.executable, "-m", "bot.cli"]


def run(*args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "CCHC_CONTENT_DIR": str(REPO / "content"), **(env or {})}
    return subprocess.run([*BOT, *args], input=stdin, capture_output=True, text=True, cwd=REPO, env=full_env,
                          timeout=timeout)


def test_content_check_passes_on_the_shipped_pack() -> None:
    result = run("content", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 lỗi" in result.stdout


def test_content_check_fails_on_a_broken_pack(tmp_path: Path) -> None:
    broken = tmp_path / "content"
    shutil.copytree(REPO / "content", broken)
    (broken / "pack.yaml").write_text("province: [\n", encoding="utf-8")
    result = run("content", "check", str(broken))
    assert result.returncode == 1
    assert "pack.yaml:" in result.stdout and "lỗi" in result.stdout


def test_invalid_configuration_is_one_clear_line(tmp_path: Path) -> None:
    result = run("db", "upgrade", env={"CCHC_WEB_PORT": "abc"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["Cấu hình sai: CCHC_WEB_PORT phải là số cổng từ 0 đến 65535 (đang là 'abc')"]


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("db", "upgrade", env={"CCHC_DATABASE_URL": f"postgresql+asyncpg://cchc:s3cret-pw@127.0.0.1:{port}/cchc",
                                       "CCHC_SECRET_KEY": "k" * 40})
    assert result.returncode == 69  # EX_UNAVAILABLE: the units restart (the database may come up)
    [line] = [x for x in result.stderr.splitlines() if "WARNING" not in x]
    assert line.startswith(f"Không kết nối được cơ sở dữ liệu postgresql+asyncpg://cchc:***@127.0.0.1:{port}/cchc")
    assert "s3cret-pw" not in result.stderr and "Traceback" not in result.stderr


def test_terminal_chat_runs_the_same_handlers(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    result = run("chat", env={"CCHC_DATABASE_URL": db}, stdin="/khauhieu\n3\nnop ho so online\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Xin chào" in result.stdout and "Khẩu hiệu cải cách hành chính" in result.stdout
    assert "Nộp hồ sơ trực tuyến" in result.stdout
    assert "Traceback" not in result.stderr
    assert " INFO " not in result.stderr  # the terminal shows the conversation, not start-up lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_without_token_and_terminal_serves_the_web_server(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "CCHC_CONTENT_DIR": str(REPO / "content"), "CCHC_WEB_PORT": str(port),
           "CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("CCHC_SECRET_KEY", None)
    env.pop("CCHC_LOG_LEVEL", None)
    proc = subprocess.Popen([*BOT, "run"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline and body is None and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = response.read().decode()
            except OSError:
                time.sleep(0.2)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert body is not None and '"ok"' in body, stderr[-2000:]
    assert "TELEGRAM_BOT_TOKEN" in stderr and "chỉ chạy máy chủ web" in stderr
    assert " INFO " in stderr and "Chưa đặt CCHC_SECRET_KEY" in stderr  # a service logs; the operator is told


def test_faq_match_writes_one_json_decision_per_line() -> None:
    import json

    result = run("faq", "match", stdin="nop ho so truc tuyen nhu the nao\ngiá vàng hôm nay\n\n😀\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert set(rows[0]) == {"q", "kind", "answer_id", "score", "suggestions", "report"}
    assert rows[0]["answer_id"] == "nop-ho-so-truc-tuyen"
    assert rows[1]["answer_id"] is None and rows[1]["q"] == "giá vàng hôm nay"
    assert all(isinstance(r["score"], float) and isinstance(r["suggestions"], list) for r in rows)


def test_faq_eval_prints_the_metrics(tmp_path: Path) -> None:
    data = tmp_path / "q.jsonl"
    data.write_text('{"q": "dang nhap dich vu cong bang tai khoan gi", "expect": ["dang-nhap-vneid"]}\n'
                    '{"q": "công thức nấu phở", "expect": [null]}\n', encoding="utf-8")
    result = run("faq", "eval", str(data))
    assert result.returncode == 0, result.stderr
    assert "accuracy 1.000" in result.stdout and "rejection 1.000" in result.stdout


def test_faq_unanswered_lists_what_the_bot_could_not_answer(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'u.db'}"
    chat = run("chat", env={"CCHC_DATABASE_URL": db}, stdin="giá vàng hôm nay\ngia vang hom nay\n/quit\n")
    assert chat.returncode == 0, chat.stderr
    result = run("faq", "unanswered", env={"CCHC_DATABASE_URL": db})
    assert result.returncode == 0, result.stderr
    header, first = result.stdout.splitlines()[:2]
    assert header == "Số lần hỏi\tCâu hỏi"
    count, question = first.split("\t")
    assert count == "2" and "vàng" in question


def test_bulletin_list_names_its_columns_and_statuses_in_vietnamese(tmp_path: Path) -> None:
    env = {"CCHC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"}
    assert run("bulletin", "import", env=env).returncode == 0
    result = run("bulletin", "list", env=env)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split("\t") == ["Mã", "Số", "Trạng thái", "Lịch gửi", "Tiêu đề"]
    assert rows and all(len(r.split("\t")) == 5 for r in rows)
    statuses = {r.split("\t")[2] for r in rows}
    assert statuses <= {"Bản nháp", "Đã lên lịch", "Chờ xác nhận (trễ lịch)", "Đang gửi", "Tạm dừng",
                        "Đã gửi xong", "Đã hủy"}, statuses
    assert all(not (r.split("\t")[3][:4].isdigit() and "T" in r.split("\t")[3]) for r in rows)  # not ISO
    draft = next(r.split("\t")[1] for r in rows if r.split("\t")[2] == "Bản nháp")
    refused = run("bulletin", "pause", draft, env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"Không tạm dừng được: bản tin số {draft} đang ở trạng thái bản nháp."
