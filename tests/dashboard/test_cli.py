"""`cchc-bot admin ...`: accounts from the terminal (password from stdin), agency checked against the pack."""
from __future__ import annotations

import io
import sys

import pytest

from bot.cli import main
from tests.conftest import CONTENT


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("CCHC_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CCHC_CONTENT_DIR", str(CONTENT))

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return main(list(argv))

    return run


def test_add_user_list_and_set_password(env, capsys):
    assert env("admin", "add-user", "Can.Bo", "--agency", "so-khcn", "--role", "officer", "--name",
               "Nguyễn Văn Kỹ", "--password-stdin", stdin="mat-khau-rat-dai-1\n") == 0
    assert "Đã tạo tài khoản can.bo" in capsys.readouterr().out
    assert env("admin", "add-user", "can.bo", "--agency", "so-khcn", "--role", "officer", "--password-stdin",
               stdin="mat-khau-rat-dai-1\n") == 2
    assert "đã tồn tại" in capsys.readouterr().err
    assert env("admin", "list") == 0
    header, *rows = capsys.readouterr().out.splitlines()
    # a header row in Vietnamese names every column; the role and the agency by name, not by code
    assert header.split("\t") == ["Tên đăng nhập", "Vai trò", "Đơn vị", "Họ tên", "Đăng nhập lần cuối", "Tình trạng"]
    assert rows == ["can.bo\tCán bộ\tSở Khoa học và Công nghệ tỉnh Quảng Ngãi (so-khcn)\tNguyễn Văn Kỹ\tchưa đăng nhập\tĐang dùng"]
    assert env("admin", "set-password", "can.bo", "--password-stdin", stdin="mat-khau-moi-2025\n") == 0
    assert env("admin", "set-password", "khong.co", "--password-stdin", stdin="mat-khau-moi-2025\n") == 1
    assert env("admin", "deactivate", "can.bo") == 0
    assert "Đã khóa tài khoản can.bo" in capsys.readouterr().out
    env("admin", "list")
    assert capsys.readouterr().out.splitlines()[1].endswith("\tĐã khóa")


def test_unknown_agency_short_password_and_bad_role(env, capsys):
    assert env("admin", "add-user", "x.y", "--agency", "so-khong-co", "--role", "officer", "--password-stdin",
               stdin="mat-khau-rat-dai-1\n") == 2
    assert "không có trong" in capsys.readouterr().err
    assert env("admin", "add-user", "x.y", "--agency", "ttphhc", "--role", "officer", "--password-stdin",
               stdin="ngan\n") == 2
    assert "ít nhất" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        env("admin", "add-user", "x.y", "--agency", "ttphhc", "--role", "boss", "--password-stdin", stdin="x\n")
