"""`cchc-bot feedback show CODE` / `cchc-bot feedback stats`: quick looks for the operator on the server;
`cchc-bot feedback digest [--send]`: today's deadline digest of every agency (features/feedback/digest.py),
printed, and e-mailed to the agencies' recipients with ``--send`` (SMTP from the environment)."""
from __future__ import annotations

import argparse
import asyncio

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
            if args.action == "digest":
                return await _digest(app, service, pack, send=args.send)
            if args.action == "stats":
                print(stats_table(await service.stats(actor), service, pack))
                return 0
            report_id = await service.find_id(args.code or "")
            if report_id is None:
                print(f"Không tìm thấy phản ánh có mã {args.code!r}.")
                return 1
            print(show_text(await service.get_report(actor, report_id), service))
            return 0
        finally:
            await cli.close_host(app)

    return asyncio.run(main())


async def _digest(app, service, pack, *, send: bool) -> int:  # noqa: ANN001
    import os

    from features.feedback.digest import SmtpConfig, build_digests, digest_names, recipients_from_env, render_text, send_digests

    env = os.environ  # the CLI's environment (.env already read by the CLI root)
    digests = await build_digests(app.services.store.sessions, pack.config.timezone, app.services.clock())
    names = digest_names(pack, service.status_label)
    labels = {k: names[k] for k in ("categories", "communes", "statuses")}
    shown = [d for d in digests if not d.empty]
    for digest in shown:
        print(render_text(digest, names["agencies"].get(digest.agency_id, digest.agency_id),
                          env.get("CCHC_PUBLIC_URL", ""), **labels))
    if not shown:
        print("Không có phản ánh nào quá hạn hoặc đến hạn ngày mai.")
    if not send:
        return 0
    smtp, recipients = SmtpConfig.from_env(env), recipients_from_env(env)
    if smtp is None or not recipients:
        print("Chưa cấu hình gửi thư (CCHC_SMTP_HOST và CCHC_DIGEST_EMAILS): không gửi được.")
        return 1
    sent = await send_digests(digests, recipients, smtp, names["agencies"], env.get("CCHC_PUBLIC_URL", ""), **labels)
    print(f"Đã gửi {sent} thư nhắc hạn.")
    return 0


def _local(value, service) -> str:
    return value.astimezone(service.calendar.tz).strftime("%d/%m/%Y %H:%M") if value else ""


def show_text(d, service) -> str:
    """One report for the operator, in Vietnamese, local times, agency names (no codes)."""
    from features.feedback.labels import EVENT_LABELS, channel_label
    from features.feedback.routing import rule_label

    agencies = dict(service.agencies())
    if d.anonymous:
        sender = "Ẩn danh"
    else:
        sender = " · ".join(x for x in (d.contact_name or "(không nêu tên)", d.phone) if x)
    lines = [
        f"{d.code}  [{service.status_label(d.status)}]  {d.agency_name}",
        f"Lĩnh vực: {d.category_title} | Xã/phường: {d.commune_name or 'Không rõ'} | Hạn trả lời: "
        f"{d.due_date:%d/%m/%Y}{' (QUÁ HẠN)' if d.overdue else ''}",
        f"Gửi lúc: {_local(d.created_at, service)} qua {channel_label(d.channel)}",
        f"Lý do chuyển: {d.routing_reason or '—'} ({rule_label(d.routing_rule)})",
        f"Người gửi: {sender}",
        f"Nội dung:\n{d.description}",
        "Diễn biến:",
    ]
    for e in d.events:
        what = EVENT_LABELS.get(e.kind, e.kind)
        who = e.actor_name if e.actor_type == "official" else ("Người dân" if e.actor_type == "citizen" else "Hệ thống")
        extra = []
        if e.to_status:
            extra.append(service.status_label(e.to_status))
        if e.from_agency and e.to_agency:
            extra.append(f"{agencies.get(e.from_agency, e.from_agency)} → {agencies.get(e.to_agency, e.to_agency)}")
        elif e.to_agency and e.kind in ("routed", "submitted"):
            extra.append(agencies.get(e.to_agency, e.to_agency))
        line = f"- {_local(e.created_at, service)} {what} · {who}"
        if extra:
            line += f" ({'; '.join(extra)})"
        if e.text:
            line += f": {e.text}"
        lines.append(line)
    return "\n".join(lines)


def stats_table(st, service, pack) -> str:
    """`feedback stats` as a readable Vietnamese table (names, not ids)."""
    agencies = dict(service.agencies())
    categories = {c.id: c.title for c in pack.agencies.categories}

    def table(title: str, counts: dict[str, int], names) -> list[str]:
        rows = [(names(k), v) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
        width = max([len(n) for n, _ in rows] + [len(title)])
        out = [f"{title:<{width}}  Số lượng", "-" * (width + 10)]
        out += [f"{n:<{width}}  {v:>8}" for n, v in rows] or ["(chưa có)"]
        return out + [""]

    rate = f"{st.on_time_rate * 100:.1f}%" if st.on_time_rate is not None else "—"
    average = f"{st.average_rating:.2f}/5".replace(".", ",") if st.average_rating is not None else "—"
    lines = [
        f"Tổng số phản ánh: {st.total}",
        f"Đang mở quá hạn: {st.overdue_open}",
        f"Đã giải quyết xong: {st.answered} (đúng hạn: {st.answered_on_time}, tỉ lệ đúng hạn: {rate.replace('.', ',')})",
        f"Được đánh giá: {st.rated} (điểm trung bình: {average})",
        "",
    ]
    lines += table("Trạng thái", st.by_status, service.status_label)
    lines += table("Đơn vị xử lý", st.by_agency, lambda a: agencies.get(a, a))
    lines += table("Lĩnh vực", st.by_category, lambda c: categories.get(c, c))
    return "\n".join(lines).rstrip()


def add_commands(sub: argparse._SubParsersAction, cli: CliHost) -> None:
    parser = sub.add_parser("feedback", help="Xem phản ánh theo mã, thống kê")
    parser.add_argument("action", choices=["show", "stats", "digest"],
                        help="show MÃ: một phản ánh; stats: thống kê; digest: thư nhắc hạn hôm nay")
    parser.add_argument("code", nargs="?", default="")
    parser.add_argument("--send", action="store_true", help="digest: gửi thư cho các đơn vị (cần cấu hình SMTP)")
    parser.set_defaults(func=_show, cli=cli)
