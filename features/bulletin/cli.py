"""`cchc-bot bulletin import|list|send|schedule|confirm|pause|resume|cancel|status`.

`bulletin send N` starts issue N (by its number; `--id` for the database id) now; `--wait` stays and
delivers in this process, printing progress. Without `--wait` the `run` and `worker` processes deliver it
(`cchc-bot worker`, bot/worker.py: start several, on any hosts sharing the database, and they split the
broadcast and the channel's cap).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from core.feature import CliHost

log = logging.getLogger(__name__)


async def _service(cli: CliHost, *, senders: bool = False):  # noqa: ANN202
    """(bot, service) without serving chats; with ``senders`` the channels can send but do not receive
    (a worker must not take the chats' updates; several workers run beside the main bot)."""
    settings = cli.settings()
    pack = cli.pack(settings.content_dir)
    built = await cli.open_host(settings, pack, senders=senders)
    return built, built.services.extra["bulletin"]


async def _resolve(service: Any, args: argparse.Namespace) -> Any:
    bulletin = await (service.store.get(args.ref) if args.id else service.store.by_number(args.ref))
    if bulletin is None:
        print(f"Không tìm thấy bản tin {'id' if args.id else 'số'} {args.ref}.", file=sys.stderr)
        raise SystemExit(1)
    return bulletin


_VERBS = {"pause": "tạm dừng", "resume": "tiếp tục gửi", "cancel": "hủy"}


def _state(bulletin: Any) -> str:
    """The state as the dashboard names it ("Bản nháp", "Tạm dừng"...), lower-cased inside a sentence."""
    from features.bulletin.dashboard import status_label

    label = status_label(bulletin)
    return label[:1].lower() + label[1:]


def _print_progress(report: dict[str, Any]) -> None:
    print(json.dumps(report, ensure_ascii=False))


def cmd_bulletin(args: argparse.Namespace) -> int:
    async def main() -> int:
        built, service = await _service(args.cli, senders=args.action == "send" and args.wait)
        try:
            action = args.action
            if action == "import":
                r = await service.import_files()
                print(f"Đã nạp bản tin từ tệp: {r.created} mới, {r.updated} cập nhật, {r.unchanged} không đổi.")
                return 0
            if action == "list":
                from dashboard.cli import print_table
                from dashboard.render import vntime
                from features.bulletin.dashboard import status_label

                print_table(("Mã", "Số", "Trạng thái", "Lịch gửi", "Tiêu đề"), [
                    (str(b.id), str(b.number), status_label(b), vntime(b.scheduled_at) or "-", b.title)
                    for b in await service.store.list(limit=args.limit)])
                return 0
            bulletin = await _resolve(service, args)
            if action == "send":
                audience = await service.publish_now(bulletin.id)
                if audience is None and bulletin.status not in ("sending",):
                    print(f"Không thể gửi: bản tin đang ở trạng thái {_state(bulletin)}.", file=sys.stderr)
                    return 1
                print(f"Bắt đầu gửi số {bulletin.number} tới {audience if audience is not None else '?'} người.",
                      file=sys.stderr)
                if args.wait:
                    engine = service.make_engine()
                    task = asyncio.create_task(engine.run_until_idle())
                    while not task.done():
                        await asyncio.sleep(2)
                        _print_progress(await service.report(bulletin.id))
                    await task
                _print_progress(await service.report(bulletin.id))
                return 0
            if action == "schedule":
                import datetime as dt
                from zoneinfo import ZoneInfo

                at = None
                if args.at:
                    at = dt.datetime.fromisoformat(args.at)
                    if at.tzinfo is None:
                        at = at.replace(tzinfo=ZoneInfo(service.zone))
                    at = at.astimezone(dt.UTC)
                when = await service.schedule(bulletin.id, at)
                if when is None:
                    print(f"Không thể lên lịch: bản tin đang ở trạng thái {_state(bulletin)}.", file=sys.stderr)
                    return 1
                print(f"Đã lên lịch số {bulletin.number} lúc {when.isoformat()}.")
                return 0
            ops = {"pause": service.pause, "resume": service.resume, "cancel": service.cancel}
            if action in ops:
                ok = await ops[action](bulletin.id)
                if not ok:
                    print(f"Không {_VERBS[action]} được: bản tin số {bulletin.number} đang ở trạng thái "
                          f"{_state(bulletin)}.", file=sys.stderr)
                    return 1
                _print_progress(await service.report(bulletin.id))
                return 0
            if action == "confirm":
                if not await service.confirm(bulletin.id, args.by):
                    print("Bản tin này không chờ xác nhận.", file=sys.stderr)
                    return 1
                _print_progress(await service.report(bulletin.id))
                return 0
            if action == "status":
                _print_progress(await service.report(bulletin.id))
                return 0
            return 2
        finally:
            await args.cli.close_host(built)

    return asyncio.run(main())


def add_commands(sub: argparse._SubParsersAction, cli: CliHost) -> None:
    bulletin = sub.add_parser("bulletin", help="bản tin Cải cách hành chính")
    actions = bulletin.add_subparsers(dest="action", required=True)
    actions.add_parser("import", help="nạp content/bulletins/*.md vào cơ sở dữ liệu").set_defaults(func=cmd_bulletin, cli=cli)
    lst = actions.add_parser("list", help="liệt kê bản tin")
    lst.add_argument("--limit", type=int, default=30)
    lst.set_defaults(func=cmd_bulletin, cli=cli)
    helps = {"send": "gửi ngay", "schedule": "lên lịch (mặc định: kỳ phát hành kế tiếp)",
             "confirm": "xác nhận gửi một số bị trễ lịch", "pause": "tạm dừng gửi", "resume": "tiếp tục gửi",
             "cancel": "hủy", "status": "tiến độ và báo cáo"}
    for name, text in helps.items():
        p = actions.add_parser(name, help=text)
        p.add_argument("ref", type=int, help="số bản tin (hoặc id với --id)")
        p.add_argument("--id", action="store_true", help="ref là id trong cơ sở dữ liệu")
        if name == "send":
            p.add_argument("--wait", action="store_true", help="gửi trong tiến trình này và chờ xong")
        if name == "schedule":
            p.add_argument("--at", help="thời điểm, ví dụ 2026-12-01T08:00 (giờ địa phương)")
        if name == "confirm":
            p.add_argument("--by", default="cli", help="người xác nhận")
        p.set_defaults(func=cmd_bulletin, cli=cli)
