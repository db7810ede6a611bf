"""`cchc-bot`: run the bot, chat in the terminal, migrate, check content, evaluate the FAQ.

Each feature of `bot.features.FEATURES` adds its own subcommands (`Feature.cli`); every command reports
mistakes as one clear line.
"""
from __future__ import annotations

import argparse
import errno
import functools
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, load_settings
from bot.failures import EXIT_SETTING, EXIT_UNAVAILABLE, known_failure  # noqa: F401 - the exit codes are part of the CLI
from core.feature import CliHost


def _setup_logging(serving: bool) -> None:
    """Services (``run``, ``worker``) log at INFO by default; one-off commands and ``chat`` at WARNING, so
    their output is what the operator asked for, not start-up lines. CCHC_LOG_LEVEL overrides both."""
    from core.logsafe import configure

    default = "INFO" if serving else "WARNING"
    configure(os.environ.get("CCHC_LOG_LEVEL", default), os.environ.get("CCHC_LOG_FORMAT", "text"))  # libraries held at WARNING even at DEBUG


_log_lines = False  # set by main(): `run`/`worker` with CCHC_LOG_FORMAT=json


def say(text: str, *, error: bool = False) -> None:
    """A line for the operator on stderr; for `run` and `worker` with CCHC_LOG_FORMAT=json a log record
    instead, so every line a service writes is JSON (a log collector parses them all)."""
    if _log_lines:
        logging.getLogger("cchc-bot").log(logging.ERROR if error else logging.INFO, text)
    else:
        print(text, file=sys.stderr)


def _load_env_file(path: str = ".env") -> None:
    """Settings from ``.env`` in the working folder (see .env.example), under what the environment already
    sets: the environment wins, as with systemd's EnvironmentFile and docker's env_file."""
    from dotenv import load_dotenv

    if os.path.isfile(path):
        load_dotenv(path, override=False)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        say(f"Cấu hình sai: {exc}", error=True)
        raise SystemExit(EXIT_SETTING) from None


def pack_or_exit(content_dir: Path, *, mention_unconfirmed: bool = True):  # noqa: ANN201
    """The content pack, or one report of its errors and exit 2 (EXIT_SETTING). ``mention_unconfirmed``: warn about values
    still to confirm (a service's start; one-off commands leave that to `content check`)."""
    from bot.features import load_pack
    from core.content import PackError

    try:
        pack = load_pack(content_dir)
    except PackError as exc:
        say(f"Gói nội dung {content_dir} không hợp lệ:\n{exc.report.render()}", error=True)
        raise SystemExit(EXIT_SETTING) from None  # the pack is edited, not waited for: no restart loop
    if pack.report.warnings and mention_unconfirmed:
        logging.getLogger("content").warning(
            "%d giá trị trong gói nội dung chưa được xác nhận (xem: cchc-bot content check)", len(pack.report.warnings))
    return pack


async def open_host(settings: Settings, pack: Any, *, senders: bool = False, migrate: bool = True) -> Any:
    """A bot process for a command: no channel receives; with ``senders`` the configured channels can
    send (Telegram in send-only mode: no polling, no webhook, no setMyCommands)."""
    from bot.app import add_senders, build_bot

    built = await build_bot(settings, pack=pack, migrate=migrate)
    if senders:
        await add_senders(built)
    return built


async def close_host(built: Any) -> None:
    from bot.app import close_bot

    await close_bot(built)


def cli_host() -> CliHost:
    from bot.database import upgrade

    return CliHost(settings=settings_or_exit, pack=functools.partial(pack_or_exit, mention_unconfirmed=False),
                   open_host=open_host, close_host=close_host,
                   upgrade=upgrade)


# --- production: signals (issue 15) -------------------------------------------------------------
def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM (and SIGINT): `serve` then shuts down gracefully and the process exits 0."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread / platform without signals
            pass
    return stop
# --- end production ---------------------------------------------------------------------------------


# --- commands ------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from bot.loop import run as run_loop
    from bot.app import add_telegram, add_web_chat, build_bot, serve, stdin_is_terminal

    settings = settings_or_exit()
    pack = pack_or_exit(settings.content_dir)

    async def main() -> None:
        bot = await build_bot(settings, pack=pack)
        try:
            add_web_chat(bot)
        except ConfigError as exc:
            say(f"Cấu hình sai: {exc}", error=True)
            raise SystemExit(EXIT_SETTING) from None
        console = False
        serving: list[str] = []  # said once the web server listens and every channel started
        platforms = add_platform_channels_or_exit(bot, serving)  # Zalo OA, Zalo Bot, Messenger when configured
        if settings.telegram_enabled:
            add_telegram(bot)
            mode = "webhook" if settings.telegram_webhook_url else "long polling"
            serving.insert(0, f"Telegram: đang phục vụ ({mode}).")
        elif platforms:
            pass
        elif args.chat_when_no_token and stdin_is_terminal():
            serving.append("Chưa đặt TELEGRAM_BOT_TOKEN: mở trò chuyện thử trong terminal (gõ /quit để thoát).")
            console = True
        else:
            serving.append("Chưa đặt TELEGRAM_BOT_TOKEN và không có terminal: chỉ chạy máy chủ web "
                           f"http://{settings.web_host}:{settings.web_port} (trang chủ và trò chuyện trên web, bảng "
                           "điều khiển, /healthz).")
        await serve(bot, console=console, stop=_stop_on_signals(), ready=lambda: [say(x) for x in serving])

    try:
        run_loop(main())
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the web server's address is taken (another bot, another program)
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        say(f"Không mở được máy chủ web tại {settings.web_host}:{settings.web_port} (cổng đang được dùng "
            "hoặc không được phép): đặt CCHC_WEB_PORT khác rồi chạy lại.", error=True)
        return EXIT_SETTING
    return 0


# --- platform channels (issues 12, 14) -------------------------------------------------------------------
def add_platform_channels_or_exit(bot: Any, serving: list[str]) -> list[str]:
    """Add every platform channel whose settings are present (any channel with its settings runs) and add
    its "serving" line to ``serving`` (said once it started); a wrong value stops the start with one line
    naming it."""
    from bot.app import add_platform_channels

    try:
        channels = add_platform_channels(bot)
    except ConfigError as exc:
        say(f"Cấu hình sai: {exc}", error=True)
        raise SystemExit(EXIT_SETTING) from None
    names = {"zalo_oa": "Zalo OA", "zalo_bot": "Zalo Bot", "messenger": "Messenger"}
    for channel in channels:
        serving.append(f"{names.get(channel.channel, channel.channel)}: đang phục vụ.")
    return [channel.channel for channel in channels]


def add_channel_commands(sub: argparse._SubParsersAction, cli: CliHost) -> None:
    """Channel commands: `cchc-bot zalo set-token|token-status`."""
    from channels.zalo_oa.cli import add_commands as add_zalo_commands

    add_zalo_commands(sub, cli)
# --- end platform channels ------------------------------------------------------------------------------


async def _deliver_owed(bot: Any, every: float = 2.0) -> None:
    """Send the messages owed to people (an official's answer, a status change) while a command runs."""
    from bot.app import use_inbox

    inbox = use_inbox(bot)
    while True:
        await inbox.heartbeat()
        await bot.services.outbox.run_once()
        await asyncio.sleep(every)


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.app import add_console, build_bot

    settings = settings_or_exit()
    pack = pack_or_exit(settings.content_dir, mention_unconfirmed=False)

    async def main() -> None:
        bot = await build_bot(settings, pack=pack)
        outbox = asyncio.create_task(_deliver_owed(bot))  # officials' answers reach this terminal too
        try:
            chat = add_console(bot)
            await chat.run()
        finally:
            outbox.cancel()
            await asyncio.gather(outbox, return_exceptions=True)
            await bot.close()

    asyncio.run(main())
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """A sending process (bot/worker.py): the outbox, the bulletin, the single jobs; SIGTERM stops it."""
    from bot.loop import run as run_loop
    from bot.worker import build_worker, describe, platform_channels, run_worker

    settings = settings_or_exit()
    pack = pack_or_exit(settings.content_dir)

    async def main() -> None:
        try:
            bot = await build_worker(settings, pack=pack)
        except ConfigError as exc:
            say(f"Cấu hình sai: {exc}", error=True)
            raise SystemExit(EXIT_SETTING) from None
        lines = [] if platform_channels(bot) else [
            "Chưa cấu hình kênh nào (TELEGRAM_BOT_TOKEN, ZALO_OA_*, ZALO_BOT_TOKEN, MESSENGER_*): worker chỉ gửi "
            "tin trò chuyện trên web."]
        lines.append(describe(bot))
        await run_worker(bot, _stop_on_signals(), ready=lambda: [say(line) for line in lines])

    try:
        run_loop(main())
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # CCHC_WORKER_PORT is taken
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        say(f"Không mở được cổng {settings.web_host}:{settings.worker_port} cho /healthz và /metrics (cổng "
            "đang được dùng hoặc không được phép): đặt CCHC_WORKER_PORT khác, hoặc bỏ trống để không mở cổng.",
            error=True)
        return EXIT_SETTING
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.database import DatabaseAhead, current_revisions, upgrade

    settings = settings_or_exit()

    async def main() -> tuple[list[str], list[str]]:
        engine = settings.make_engine()
        try:
            before = await current_revisions(engine)
            await upgrade(engine)
            return before, await current_revisions(engine)
        finally:
            await engine.dispose()

    try:
        before, after = asyncio.run(main())
    except DatabaseAhead as exc:
        # exit 0: nothing to apply (compose's migrate service must not keep an older release from starting)
        print(f"Cơ sở dữ liệu đang ở migration {', '.join(exc.current)}, mới hơn mã này ({', '.join(exc.heads)}): "
              "không thay đổi gì. Hãy cập nhật mã lên bản đã nâng cấp cơ sở dữ liệu (không hạ cấp được; muốn quay "
              "lại bản cũ thì khôi phục bản sao lưu đã tạo trước khi nâng cấp).", file=sys.stderr)
        return 0
    if before == after:
        print(f"Cơ sở dữ liệu đã ở migration mới nhất ({', '.join(after)}): không có gì để áp dụng.", file=sys.stderr)
    else:
        print(f"Cơ sở dữ liệu đã được cập nhật: migration {', '.join(before) or '(trống)'} → {', '.join(after)}.",
              file=sys.stderr)
    return 0


def cmd_content_check(args: argparse.Namespace) -> int:
    from bot.features import check

    directory = Path(args.dir or os.environ.get("CCHC_CONTENT_DIR") or "content")
    if not directory.is_dir():
        print(f"{directory}: không phải thư mục", file=sys.stderr)
        return 2
    report = check(directory)
    print(report.render())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cchc-bot", description="Trợ lý cải cách hành chính (CCHC)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="chạy bot (Telegram nếu có token, nếu không thì trò chuyện trong terminal)")
    run.add_argument("--no-chat", dest="chat_when_no_token", action="store_false",
                     help="không mở trò chuyện trong terminal khi thiếu token")
    run.set_defaults(func=cmd_run)
    sub.add_parser("chat", help="trò chuyện với bot trong terminal").set_defaults(func=cmd_chat)
    worker_help = ("tiến trình gửi: tin nợ người dân (trả lời của cán bộ, thông báo trạng thái, gửi lại), bản tin, "
                   "việc định kỳ; không nhận tin (chạy nhiều tiến trình được)")
    sub.add_parser("worker", help=worker_help, description=worker_help[0].upper() + worker_help[1:] + ". "
                   "Đặt CCHC_WORKER_PORT để mở /healthz, /readyz và /metrics; dừng bằng SIGTERM."
                   ).set_defaults(func=cmd_worker)
    db = sub.add_parser("db", help="cơ sở dữ liệu").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="áp dụng migration").set_defaults(func=cmd_db_upgrade)
    content = sub.add_parser("content", help="gói nội dung").add_subparsers(dest="content_command", required=True)
    check = content.add_parser("check", help="kiểm tra gói nội dung")
    check.add_argument("dir", nargs="?")
    check.set_defaults(func=cmd_content_check)
    from bot.content_cli import add_commands as add_content_commands

    add_content_commands(content)
    from bot.features import FEATURES
    from dashboard.cli import add_commands as add_admin_commands
    from features.faq.cli import add_content_commands as add_faq_content_commands

    cli = cli_host()
    add_faq_content_commands(content, cli)  # content export-learned
    add_admin_commands(sub, cli)
    add_channel_commands(sub, cli)
    for feature in FEATURES:
        if feature.cli is not None:
            feature.cli(sub, cli)
    return parser


def main(argv: list[str] | None = None) -> int:
    _load_env_file()
    args = build_parser().parse_args(argv)
    serving = args.func in (cmd_run, cmd_worker)
    _setup_logging(serving=serving)
    global _log_lines
    _log_lines = serving and os.environ.get("CCHC_LOG_FORMAT", "text") == "json"
    _metrics_directory(serving)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        known = known_failure(exc)
        if known is None:
            raise
        message, code = known
        say(message, error=True)
        return code


def _metrics_directory(serving: bool) -> None:
    """PROMETHEUS_MULTIPROC_DIR is for the processes that serve /metrics (one directory per service: the
    systemd units' /run/%N, each container's /app/metrics). A one-off command (`db upgrade` in compose's
    migrate service, `admin list` run in a container) serves none, so it writes nothing there; a serving process removes the
    files of processes no longer running, which prometheus-client would otherwise add to every scrape
    (its docs: "the directory must be wiped between process runs")."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not directory:
        return
    if not serving:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
        return
    from core.metrics_files import remove_stale_files

    remove_stale_files(Path(directory))


if __name__ == "__main__":
    raise SystemExit(main())
