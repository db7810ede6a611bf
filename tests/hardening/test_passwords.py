"""Issue 9: weak passwords refused with a reason; `admin add-user` without a terminal ends cleanly."""
from __future__ import annotations

import io
import sys

import pytest

from bot.cli import main
from dashboard.accounts import AccountError, check_password_policy
from dashboard.passwords import REASONS
from tests.conftest import CONTENT


@pytest.mark.parametrize(("password", "reason"), [
    ("aaaaaaaaaa", "repeat"),
    ("          ", "blank"),
    ("canbo.tuphap", "personal"),  # the username itself
    ("nguyenvanky2024", "personal"),  # the display name without diacritics
    ("matkhau123456", "vietnamese"),
    ("anhyeuem2024", "vietnamese"),
    ("ngan", "short"),
])
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    with pytest.raises(AccountError) as refused:
        check_password_policy(password, username="canbo.tuphap", display_name="Nguyễn Văn Kỹ",
                              agency_id="so-tu-phap")
    assert REASONS[reason] in str(refused.value)


def test_a_long_passphrase_is_accepted():
    check_password_policy("ca-phe-sang-mua-ngau-nhien-7", username="canbo.tuphap", display_name="Nguyễn Văn Kỹ")


async def test_set_password_checks_against_the_accounts_own_name(bot):
    from tests.dashboard.helpers import accounts_for, add_official

    await add_official(bot, "le.thi.hoa", "ttphhc", name="Lê Thị Hoa")
    with pytest.raises(AccountError):
        await accounts_for(bot).set_password("le.thi.hoa", "lethihoa12345")


def test_add_user_without_a_terminal_explains_instead_of_a_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CCHC_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CCHC_CONTENT_DIR", str(CONTENT))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a tty, nothing to read
    with pytest.raises(SystemExit) as ended:
        main(["admin", "add-user", "x.y", "--agency", "ttphhc", "--role", "officer"])
    assert ended.value.code == 2
    assert "--password-stdin" in capsys.readouterr().err
