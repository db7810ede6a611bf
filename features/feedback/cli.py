"""`cchc-bot feedback show CODE` / `cchc-bot feedback stats`: quick looks for the operator on the server."""
from __future__ import annotations

import argparse
import asyncio
import json

from core.feature import CliHost


def _show(args: argparse.Namespace) -> int:
    from features.feedback.permissions import Actor

    cli: CliHost = args.cli
    settings = cli.settings()
    pack = cli.pack(settings.content_dir)

    async def main() -> int:
        app = await cli.open_host(settings, pack)
        try:
            service = app.services.extra["feedback"]
            actor = Actor(None, "cli", pack.agencies.default_agency, "admin")
            if args.action == "stats":
                st = await service.stats(actor)
                print(json.dumps(st.__dict__, ensure_ascii=False, indent=2, default=str))
                return 0
            report_id = await service.find_id(args.code or "")
            if report_id is None:
                print(f"Không tìm thấy phản ánh có mã {args.code!r}.")
                return 1
            d = await service.get_report(actor, report_id)
            print(f"{d.code}  [{service.status_label(d.status)}]  {d.agency_name}")
            print(f"Loại: {d.category_title} | Xã/phường: {d.commune_name or '-'} | Hạn: {d.due_date:%d/%m/%Y}"
                  f"{' (QUÁ HẠN)' if d.overdue else ''}")
            print(f"Chuyển vì: {d.routing_reason}")
            print(f"Người gửi: {d.contact_name or '(ẩn danh)'} {d.phone}")
            print(f"Nội dung:\n{d.description}")
            for e in d.events:
                print(f"- {e.created_at:%d/%m/%Y %H:%M} {e.kind} {e.actor_name} {e.text}".rstrip())
            return 0
        finally:
            await cli.close_host(app)

    return asyncio.run(main())


def add_commands(sub: argparse._SubParsersAction, cli: CliHost) -> None:
    parser = sub.add_parser("feedback", help="Xem phản ánh theo mã, thống kê")
    parser.add_argument("action", choices=["show", "stats"])
    parser.add_argument("code", nargs="?", default="")
    parser.set_defaults(func=_show, cli=cli)
