"""`cchc-bot faq match|eval|unanswered|learned` and `cchc-bot content export-learned`: the FAQ engine and what
officials taught it, from the terminal, for content editors."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from core.feature import CliHost


def _interpreter(cli: CliHost):  # noqa: ANN202
    from features.faq.service import FaqService

    directory = Path(os.environ.get("CCHC_CONTENT_DIR") or "content")
    return FaqService(cli.pack(directory)).interpreter


def cmd_match(args: argparse.Namespace) -> int:
    from features.faq.evaluate import run_match

    run_match(_interpreter(args.cli), sys.stdin, sys.stdout)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Every set given (default: dev, held-out, real-style held-out): accuracy, right-or-top3, confident wrong."""
    from features.faq.evaluate import default_eval_files, run_eval

    interpreter = _interpreter(args.cli)
    files = [Path(f) for f in args.file] or [p for p in default_eval_files() if p.exists()]
    for path in files:
        run_eval(interpreter, path, sys.stdout)
    return 0


def cmd_unanswered(args: argparse.Namespace) -> int:
    from core.storage.db import session_factory
    from core.storage.repos import Store

    settings = args.cli.settings()

    async def main() -> list[tuple[str, int]]:
        engine = settings.make_engine()
        try:
            return await Store(session_factory(engine)).unanswered(limit=args.limit)
        finally:
            await engine.dispose()

    from dashboard.cli import print_table

    rows = asyncio.run(main())
    if not rows:
        print("Chưa có câu hỏi nào bot không trả lời được.")
        return 0
    print_table(("Số lần hỏi", "Câu hỏi"), [(str(count), question) for question, count in rows])
    return 0


def _learned_store(settings):  # noqa: ANN001, ANN202
    from core.storage.db import session_factory
    from features.faq.learning import LearnedStore

    engine = settings.make_engine()  # its schema (CCHC_DATABASE_SCHEMA) and pool, as every command
    return engine, LearnedStore(session_factory(engine))


def cmd_learned(args: argparse.Namespace) -> int:
    """Every decision taken on the "Câu hỏi chưa trả lời" page, newest first, with who and when."""
    from dashboard.cli import print_table
    from dashboard.render import vntime

    settings = args.cli.settings()

    async def main():  # noqa: ANN202
        engine, store = _learned_store(settings)
        try:
            return await store.list(limit=args.limit)
        finally:
            await engine.dispose()

    rows = asyncio.run(main())
    if not rows:
        print("Chưa có câu hỏi nào được bổ sung vào hỏi đáp.")
        return 0
    table = []
    for r in rows:
        state = ("đã hủy" if not r.active else "đã ghi vào gói" if r.exported_at else
                 "chờ viết câu trả lời" if r.kind == "topic" else "bot đang dùng")
        target = f"chủ đề mới {r.entry_id} “{r.title}”" if r.kind == "topic" else r.entry_id
        table.append((f"#{r.id}", target, r.question, f"{r.decided_by} {vntime(r.decided_at)}", state))
    print_table(("Số", "Bổ sung vào", "Câu hỏi", "Người quyết định, lúc", "Trạng thái"), table)
    return 0


def cmd_export_learned(args: argparse.Namespace) -> int:
    """`cchc-bot content export-learned [dir] [--apply]`: the learned variants and draft topics into the pack."""
    from features.faq.export import describe, exported_now, plan_export, write_export

    directory = Path(args.dir or os.environ.get("CCHC_CONTENT_DIR") or "content")
    if not (directory / "faq").is_dir():
        print(f"{directory}: không phải gói nội dung (thiếu thư mục faq/)", file=sys.stderr)
        return 2
    settings = args.cli.settings()

    async def rows():  # noqa: ANN202
        engine, store = _learned_store(settings)
        try:
            return await store.list()
        finally:
            await engine.dispose()

    async def mark(ids: list[int]) -> None:
        engine, store = _learned_store(settings)
        try:
            await store.mark_exported(ids)
        finally:
            await engine.dispose()

    plan = plan_export(directory, asyncio.run(rows()))
    for line in describe(plan, directory):
        print(line)
    if not plan.added:
        print("Không có gì mới để ghi vào gói nội dung.")
        if plan.present:
            asyncio.run(mark(exported_now(plan)))
        return 0
    if not args.apply:
        print(f"Chạy lại với --apply để ghi {len(plan.added)} mục vào {directory}.")
        return 0
    write_export(plan)
    asyncio.run(mark(exported_now(plan)))
    print(f"Đã ghi {len(plan.added)} mục vào {directory}; kiểm tra lại gói nội dung:")
    report = args.cli.pack(directory).report  # an invalid pack: the report (file, line) and exit 2
    print(f"{len(report.errors)} lỗi, {len(report.warnings)} cảnh báo "
          "(chủ đề mới cần viết câu trả lời: xem cchc-bot content check).")
    return 0


def add_content_commands(content: argparse._SubParsersAction, cli: CliHost) -> None:
    """`cchc-bot content export-learned` (the issue's name; it lives with the content commands)."""
    ex = content.add_parser("export-learned",
                            help="ghi các câu hỏi cán bộ đã bổ sung từ trang Câu hỏi chưa trả lời vào tệp hỏi đáp")
    ex.add_argument("dir", nargs="?", help="gói nội dung (mặc định: CCHC_CONTENT_DIR hoặc content)")
    ex.add_argument("--apply", action="store_true", help="ghi vào tệp (mặc định: chỉ liệt kê)")
    ex.set_defaults(func=cmd_export_learned, cli=cli)


def add_commands(sub: argparse._SubParsersAction, cli: CliHost) -> None:
    faq = sub.add_parser("faq", help="hỏi đáp").add_subparsers(dest="faq_command", required=True)
    faq.add_parser("match", help="đọc câu hỏi từ stdin, in JSON mỗi dòng").set_defaults(func=cmd_match, cli=cli)
    ev = faq.add_parser("eval", help="đánh giá độ chính xác trên tệp JSONL")
    ev.add_argument("file", nargs="*", help="JSONL; mặc định: bộ dev, bộ kiểm tra và bộ câu hỏi thực tế")
    ev.set_defaults(func=cmd_eval, cli=cli)
    un = faq.add_parser("unanswered", help="các câu hỏi bot chưa trả lời được")
    un.add_argument("--limit", type=int, default=100)
    un.set_defaults(func=cmd_unanswered, cli=cli)
    le = faq.add_parser("learned", help="các câu hỏi cán bộ đã bổ sung vào hỏi đáp (ai, khi nào)")
    le.add_argument("--limit", type=int, default=200)
    le.set_defaults(func=cmd_learned, cli=cli)
