"""Password strength for officials' accounts: zxcvbn (a well-kept estimator) fed with a Vietnamese-aware
dictionary, and a reason in Vietnamese when a password is refused.

zxcvbn knows English words and leaked passwords; Vietnamese passwords are mostly unaccented syllables run
together ("matkhau", "anhyeuem", "quangngai2024"), so those words go in as `user_inputs`, together with the
account's own username, display name and agency.
"""
from __future__ import annotations

import re
import unicodedata

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_SCORE = 3  # zxcvbn 0..4; 3 = "safely unguessable: moderate protection from offline attacks"
# zxcvbn matches dictionary words in lower case; sliced to 100 characters for speed.
VIETNAMESE_WORDS = (
    "matkhau mat khau matma anhyeuem emyeuanh yeuem yeuanh yeunhau iuem tinhyeu xinchao chaoban "
    "vietnam hanoi saigon hochiminh tphcm danang haiphong cantho hue quangngai quangnam binhdinh "
    "canbo congchuc vienchuc ubnd hdnd tinhuy thanhuy huyenuy motcua mot cua dichvucong dichvu caicach "
    "cchc hanhchinh quanly quantri admin taikhoan dangnhap thanhpho tinh huyen xa phuong thitran "
    "nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong ly van thi "
    "minh anh linh huong trang thao hung dung tuan nam long hai hoa mai lan ngoc phuong thanh "
    "quang duc tam binh an khang vinh phuc tai loc tho hanhphuc binhan thanhcong chienthang "
    "conmeo concho meomeo hoahong trangtrang bautroi bienxanh quehuong toquoc dongnai baria"
).split()

REASONS = {
    "short": f"Mật khẩu cần ít nhất {MIN_LENGTH} ký tự.",
    "long": "Mật khẩu quá dài.",
    "blank": "Mật khẩu không được chỉ gồm dấu cách.",
    "repeat": "Mật khẩu lặp lại cùng một ký tự hoặc một cụm ký tự.",
    "sequence": "Mật khẩu là một dãy ký tự liên tiếp (như abcd, 1234).",
    "spatial": "Mật khẩu là các phím nằm liền nhau trên bàn phím (như qwerty).",
    "date": "Mật khẩu chứa ngày tháng hoặc năm dễ đoán.",
    "personal": "Mật khẩu chứa tên đăng nhập, họ tên hoặc tên cơ quan.",
    "vietnamese": "Mật khẩu ghép từ những từ tiếng Việt thông dụng (như matkhau, anhyeuem, tên địa danh).",
    "common": "Mật khẩu nằm trong danh sách mật khẩu hay bị dùng hoặc là từ thông dụng.",
    "weak": "Mật khẩu quá dễ đoán.",
}
ADVICE = "Hãy dùng một câu dài gồm vài từ ít liên quan, ví dụ: “ca-phe-sang-mua-ngau-nhien-7”."


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def _personal(*values: str) -> list[str]:
    out: list[str] = []
    for value in values:
        folded = _fold(value or "")
        out += [folded, folded.replace(" ", "")]
        out += [part for part in re.split(r"[^a-z0-9]+", folded) if len(part) >= 3]
    return [item for item in out if item]


def password_problem(password: str, *, username: str = "", display_name: str = "", agency_id: str = "") -> str | None:
    """None when the password is acceptable, else the reason (Vietnamese) with advice."""
    if len(password) > MAX_LENGTH:
        return REASONS["long"]
    if not password.strip():
        return REASONS["blank"] + " " + ADVICE
    if len(password) < MIN_LENGTH:
        return REASONS["short"]
    personal = _personal(username, display_name, agency_id)
    result = zxcvbn(password[:100], user_inputs=personal + VIETNAMESE_WORDS)
    if result["score"] >= MIN_SCORE:
        return None
    return _reason(result, set(personal)) + " " + ADVICE


def _reason(result: dict, personal: set[str]) -> str:
    # the longest weak part explains the refusal best
    for match in sorted(result["sequence"], key=lambda m: -len(m.get("token", ""))):
        pattern = match.get("pattern")
        if pattern == "dictionary":
            if match.get("dictionary_name") == "user_inputs":
                word = match.get("matched_word", "")
                return REASONS["personal" if word in personal else "vietnamese"]
            return REASONS["common"]
        if pattern in ("repeat", "sequence", "spatial", "date"):
            return REASONS[pattern]
    return REASONS["weak"]
