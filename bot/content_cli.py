"""`cchc-bot content new` and `cchc-bot content update-communes`: the content pack's own commands."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def cmd_content_new(args: argparse.Namespace) -> int:
    from bot.features import check as check_pack
    from core.content.generate import GenerateError, generate_pack

    target = Path(args.dir)
    try:
        province = generate_pack(args.province, target, sample=Path(args.sample) if args.sample else None)
    except GenerateError as exc:
        print(f"Không tạo được gói nội dung: {exc}", file=sys.stderr)
        return 2
    report = check_pack(target)
    print(f"Đã tạo gói nội dung cho {province.full} tại {target}: "
          f"{len(report.errors)} lỗi, {len(report.warnings)} giá trị cần tỉnh điền hoặc xác nhận "
          f"(xem: cchc-bot content check {target}).")
    if not report.ok:
        print(report.render(), file=sys.stderr)
        return 1
    database = f"sqlite+aiosqlite:///data/{target.resolve().name}.db"
    print(f"Chạy thử: CCHC_CONTENT_DIR={target} CCHC_DATABASE_URL={database} make run")
    return 0


def cmd_update_communes(args: argparse.Namespace) -> int:
    from bot.features import check as check_pack
    from bot.features import load_pack
    from core.content import PackError
    from core.content import provinces as official

    directory = Path(args.dir or os.environ.get("CCHC_CONTENT_DIR") or "content")
    try:
        pack = load_pack(directory)
    except PackError as exc:
        print(f"Gói nội dung {directory} không hợp lệ, sửa lỗi trước:\n{exc.report.render()}", file=sys.stderr)
        return 1
    province = official.pack_province(pack.agencies, pack.config)
    if province is None:
        print(f"Không xác định được tỉnh của gói {directory} trong danh mục 34 tỉnh, thành phố "
              "(pack.yaml: province hoặc agencies.yaml: communes_source.province_code).", file=sys.stderr)
        return 1
    diff = official.diff_communes(pack.agencies, province)
    print(official.render_diff(diff, list(pack.agencies.communes), official.references(pack.agencies)))
    if not diff.changes:
        return 0
    if not args.apply:
        print(f"Chạy lại với --apply để ghi các thay đổi vào {directory / 'agencies.yaml'}.")
        return 0
    official.apply_changes(directory / "agencies.yaml", pack.agencies, diff)
    after = check_pack(directory)
    print(f"Đã cập nhật {directory / 'agencies.yaml'}: {len(after.errors)} lỗi, {len(after.warnings)} cảnh báo.")
    if not after.ok:
        print(after.render(), file=sys.stderr)
        return 1
    return 0


def add_commands(content: argparse._SubParsersAction) -> None:
    """Adds the subcommands to `cchc-bot content`."""
    new = content.add_parser("new", help="tạo gói nội dung cho một tỉnh, thành phố từ danh mục hành chính chính thức")
    new.add_argument("--province", required=True, help='tên tỉnh, thành phố như người dân gõ: "quang ngai", "TP HCM", "Huế"')
    new.add_argument("--sample", help="gói mẫu để chép hỏi đáp, mẫu tin nhắn (mặc định: content/ của mã nguồn)")
    new.add_argument("dir", help="thư mục mới cho gói nội dung")
    new.set_defaults(func=cmd_content_new)
    update = content.add_parser("update-communes",
                                help="so danh sách xã, phường của gói với danh mục đang cài (thêm, đổi tên, bỏ)")
    update.add_argument("dir", nargs="?", help="gói nội dung (mặc định: CCHC_CONTENT_DIR hoặc content)")
    update.add_argument("--apply", action="store_true", help="ghi các thay đổi (giữ aliases và quy tắc chuyển)")
    update.set_defaults(func=cmd_update_communes)
