"""`cchc-bot faq match|eval|unanswered`: the FAQ engine from the terminal, for content editors."""
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

    rows = asyncio.run(main())
    if not rows:
        print("Chưa có câu hỏi nào bot không trả lời được.")
    for question, count in rows:
        print(f"{count}\t{question}")
    return 0


def add_commands(sub: argparse._SubParsersAction, cli: CliHost) -> None:
    faq = sub.add_parser("faq", help="hỏi đáp").add_subparsers(dest="faq_command", required=True)
    faq.add_parser("match", help="đọc câu hỏi từ stdin, in JSON mỗi dòng").set_defaults(func=cmd_match, cli=cli)
    ev = faq.add_parser("eval", help="đánh giá độ chính xác trên tệp JSONL")
    ev.add_argument("file", nargs="*", help="JSONL; mặc định: bộ dev, bộ kiểm tra và bộ câu hỏi thực tế")
    ev.set_defaults(func=cmd_eval, cli=cli)
    un = faq.add_parser("unanswered", help="các câu hỏi bot chưa trả lời được")
    un.add_argument("--limit", type=int, default=100)
    un.set_defaults(func=cmd_unanswered, cli=cli)
