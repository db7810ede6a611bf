"""`cchc-bot admin add-user|set-password|list|deactivate|activate`: officials' accounts from the terminal.

Passwords never appear on the command line (shell history, `ps`): a getpass prompt, or `--password-stdin`
for scripts. The agency must exist in the content pack so a typo cannot create an orphan account.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Iterable, Sequence

from core.feature import CliHost
from dashboard.registry import ROLE_LABELS, ROLES

ACCOUNT_COLUMNS = ("Tên đăng nhập", "Vai trò", "Đơn vị", "Họ tên", "Đăng nhập lần cuối", "Tình trạng")


def print_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A terminal table an official reads (and a script can split): the Vietnamese column names, then
    one line per row, cells separated by tabs (tabs and line breaks inside a cell become spaces)."""
    for cells in (header, *rows):
        print("\t".join(" ".join(str(c).split()) for c in cells))


def _read_password(args: argparse.Namespace, *, confirm: bool = True) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not (sys.stdin and sys.stdin.isatty()):  # a script, a pipe, systemd: no terminal to prompt on
        print("Không có cửa sổ dòng lệnh để nhập mật khẩu: hãy chạy trong terminal, hoặc thêm "
              "--password-stdin và đưa mật khẩu vào dòng đầu của stdin.", file=sys.stderr)
        raise SystemExit(2)
    try:
        first = getpass.getpass("Mật khẩu: ")
        if confirm and getpass.getpass("Nhập lại mật khẩu: ") != first:
            print("Hai lần nhập mật khẩu không khớp.", file=sys.stderr)
            raise SystemExit(2)
    except (EOFError, KeyboardInterrupt):
        print("\nĐã hủy: chưa nhập mật khẩu.", file=sys.stderr)
        raise SystemExit(2) from None
    return first


def _run(cli: CliHost, work) -> int:
    from core.storage.db import session_factory
    from dashboard.accounts import AccountError, Accounts

    settings = cli.settings()

    async def main() -> int:
        engine = settings.make_engine()
        try:
            await cli.upgrade(engine)
            return await work(Accounts(session_factory(engine)))
        except AccountError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_add_user(args: argparse.Namespace) -> int:
    settings = args.cli.settings()
    pack = args.cli.pack(settings.content_dir)
    agencies = {a.id for a in pack.agencies.agencies}
    if args.agency not in agencies:
        print(f"Cơ quan {args.agency!r} không có trong {settings.content_dir}/agencies.yaml "
              f"(có: {', '.join(sorted(agencies))}).", file=sys.stderr)
        return 2
    password = _read_password(args)

    async def work(accounts) -> int:
        view = await accounts.create(args.username, password, agency_id=args.agency, role=args.role,
                                     display_name=args.name or "")
        print(f"Đã tạo tài khoản {view.username} ({view.role}, {view.agency_id}).")
        return 0

    return _run(args.cli, work)


def cmd_set_password(args: argparse.Namespace) -> int:
    password = _read_password(args)

    async def work(accounts) -> int:
        if not await accounts.set_password(args.username, password):
            print(f"Không có tài khoản {args.username!r}.", file=sys.stderr)
            return 1
        print(f"Đã đổi mật khẩu cho {args.username}; các phiên đăng nhập cũ hết hiệu lực.")
        return 0

    return _run(args.cli, work)


def _cmd_active(active: bool):
    def cmd(args: argparse.Namespace) -> int:
        async def work(accounts) -> int:
            if not await accounts.set_active(args.username, active):
                print(f"Không có tài khoản {args.username!r}.", file=sys.stderr)
                return 1
            print(f"Đã {'mở khóa' if active else 'khóa'} tài khoản {args.username}.")
            return 0

        return _run(args.cli, work)

    return cmd


def cmd_list(args: argparse.Namespace) -> int:
    """The accounts as a table with Vietnamese headers: role and agency by name (the agency's id, which
    ``--agency`` takes, in brackets), the last login in Vietnam time."""
    from dashboard.render import vntime

    settings = args.cli.settings()
    agencies = {a.id: a.name for a in args.cli.pack(settings.content_dir).agencies.agencies}

    async def work(accounts) -> int:
        rows = await accounts.list()
        if not rows:
            print("Chưa có tài khoản nào. Tạo bằng: cchc-bot admin add-user TÊN --agency MÃ --role officer")
            return 0
        print_table(ACCOUNT_COLUMNS, [
            (view.username, ROLE_LABELS.get(view.role, view.role),
             f"{agencies[view.agency_id]} ({view.agency_id})" if view.agency_id in agencies else view.agency_id,
             view.display_name or "-", vntime(row.last_login_at) or "chưa đăng nhập",
             "Đang dùng" if view.active else "Đã khóa")
            for view, row in rows])
        return 0

    return _run(args.cli, work)


def add_commands(sub: argparse._SubParsersAction, cli: CliHost) -> None:
    admin = sub.add_parser("admin", help="tài khoản cán bộ dùng bảng điều khiển").add_subparsers(
        dest="admin_command", required=True)
    add = admin.add_parser("add-user", help="tạo tài khoản cán bộ")
    add.add_argument("username")
    add.add_argument("--agency", required=True, help="mã cơ quan trong agencies.yaml")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", help="họ tên hiển thị")
    add.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ dòng đầu của stdin")
    add.set_defaults(func=cmd_add_user, cli=cli)
    pw = admin.add_parser("set-password", help="đặt lại mật khẩu")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    pw.set_defaults(func=cmd_set_password, cli=cli)
    admin.add_parser("list", help="liệt kê tài khoản").set_defaults(func=cmd_list, cli=cli)
    off = admin.add_parser("deactivate", help="khóa tài khoản")
    off.add_argument("username")
    off.set_defaults(func=_cmd_active(False), cli=cli)
    on = admin.add_parser("activate", help="mở khóa tài khoản")
    on.add_argument("username")
    on.set_defaults(func=_cmd_active(True), cli=cli)
