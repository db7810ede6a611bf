"""`cchc-bot zalo set-token` / `cchc-bot zalo token-status`: the OA tokens in the database.

`set-token` stores the tokens an OA admin granted (from the Zalo developer console or the OAuth flow):
every running bot process picks them up without a restart (at the latest within 5 minutes, at once when
its token is rejected). Tokens are read from the options, or prompted for without echo when omitted;
they are never printed.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import os
import sys

from core.feature import CliHost

__all__ = ["add_commands", "set_tokens", "token_status"]


async def set_tokens(sessions, app_id: str, access_token: str, refresh_token: str,  # noqa: ANN001
                     expires_in: float) -> dt.datetime:
    from channels.zalo_oa.store import TokenPair, TokenStore
    from channels.zalo_oa.tokens import DEFAULT_REFRESH_TTL

    now = dt.datetime.now(dt.UTC)
    pair = TokenPair(access_token, refresh_token, now + dt.timedelta(seconds=expires_in),
                     now + dt.timedelta(seconds=DEFAULT_REFRESH_TTL))
    saved = await TokenStore(sessions, app_id).save(pair)
    return saved.access_expires_at


async def token_status(sessions, app_id: str) -> str:  # noqa: ANN001
    from channels.zalo_oa.store import TokenStore

    pair = await TokenStore(sessions, app_id).load()
    if pair is None:
        return f"Ứng dụng {app_id}: chưa có token (chạy `cchc-bot zalo set-token`)."
    left = pair.access_expires_at - dt.datetime.now(dt.UTC)
    state = f"còn {left.total_seconds() / 3600:.1f} giờ" if left.total_seconds() > 0 else "đã hết hạn"
    return (f"Ứng dụng {app_id}: access token hết hạn lúc {pair.access_expires_at:%Y-%m-%d %H:%M} UTC ({state}); "
            f"refresh token {'có' if pair.refresh_token else 'KHÔNG có'}; phiên bản {pair.version}.")


def _run(args: argparse.Namespace) -> int:
    from core.storage.db import session_factory

    cli: CliHost = args.cli
    settings = cli.settings()
    app_id = (args.app_id or os.environ.get("ZALO_OA_APP_ID") or "").strip()
    if not app_id.isdigit():
        print("ZALO_OA_APP_ID: chưa đặt hoặc không phải dãy số (hoặc dùng --app-id).", file=sys.stderr)
        return 2
    if args.action == "set-token":
        access = args.access_token or getpass.getpass("Access token: ").strip()
        refresh = args.refresh_token or getpass.getpass("Refresh token: ").strip()
        if not access or not refresh:
            print("Cần cả access token và refresh token.", file=sys.stderr)
            return 2

    async def main() -> int:
        engine = settings.make_engine()  # its schema (CCHC_DATABASE_SCHEMA) and pool, as every command
        try:
            await cli.upgrade(engine)
            sessions = session_factory(engine)
            if args.action == "set-token":
                until = await set_tokens(sessions, app_id, access, refresh, args.expires_in)
                print(f"Đã lưu token Zalo OA cho ứng dụng {app_id} (access token đến {until:%Y-%m-%d %H:%M} UTC).")
            else:
                print(await token_status(sessions, app_id))
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(main())


def add_commands(sub: argparse._SubParsersAction, cli: CliHost) -> None:
    parser = sub.add_parser("zalo", help="Zalo OA: lưu token, xem hạn token")
    parser.add_argument("action", choices=["set-token", "token-status"])
    parser.add_argument("--app-id", default="", help="App ID (mặc định: ZALO_OA_APP_ID)")
    parser.add_argument("--access-token", default="", help="bỏ trống để nhập ẩn")
    parser.add_argument("--refresh-token", default="", help="bỏ trống để nhập ẩn")
    parser.add_argument("--expires-in", type=float, default=25 * 3600,
                        help="số giây access token còn hiệu lực (mặc định 90000 = 25 giờ)")
    parser.set_defaults(func=_run, cli=cli)
