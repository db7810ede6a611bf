"""A report's attachments for officials: download (``/reports/{id}/files/{file}``) and, for images, an
inline view (``.../view``) the report page shows as thumbnails.

Access is the report page's rule (``permissions.can_view`` through ``attachments.for_official``): an
official of another agency gets 403, audited as ``denied`` and logged with their id and the report id;
anonymous requests get 403 too (a file link is not a page to log in from), logged with the report id.
Responses carry the type found in the bytes at intake, ``X-Content-Type-Options: nosniff``, a CSP that
lets only the image itself load (``sandbox``: nothing in a served file can run), and a
``Content-Disposition`` whose name is safe in every browser (:func:`content_disposition`).
"""
from __future__ import annotations

import logging
import re
import unicodedata
from urllib.parse import quote

from aiohttp import web

from core.files import extension_for, is_key
from core.web import SERVICES
from dashboard.auth import current_official
from dashboard.security import HEADERS
from features.feedback.attachments import INLINE_TYPES, clean_name, for_official
from features.feedback.dashboard.common import actor, domain_errors, feedback_service, int_param

log = logging.getLogger(__name__)

FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._()+ -]+")


def download_name(file_name: str, mime_type: str, attachment_id: int) -> str:
    """The name an official's browser saves: the citizen's (cleaned) name, with the extension of the type
    found in the bytes appended when the name claims another ("to_khai.jpg" holding a PDF → "to_khai.jpg.pdf")."""
    ext = extension_for(mime_type)
    name = clean_name(file_name) or f"tep-dinh-kem-{attachment_id}"
    suffix = name.rpartition(".")[2].lower() if "." in name else ""
    same = {ext, "jpeg", "jpg"} if ext in ("jpg", "jpeg") else {ext}
    return name if suffix in same else f"{name}.{ext}"


def content_disposition(name: str, *, inline: bool = False) -> str:
    """RFC 6266 with an RFC 5987 ``filename*`` (UTF-8, percent-encoded) and a plain-ASCII ``filename`` for
    old clients: no quotes, backslashes, control characters or path separators can reach the header."""
    name = clean_name(name) or "tep-dinh-kem"
    folded = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = "".join(ch for ch in folded if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()
    ascii_name = _ASCII_UNSAFE.sub("_", ascii_name).strip(" ._") or "tep-dinh-kem"
    if "." in name and "." not in ascii_name:
        ascii_name += "." + name.rpartition(".")[2].encode("ascii", "ignore").decode()
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def download(request: web.Request) -> web.StreamResponse:
    return await _serve(request, inline=False)


async def view(request: web.Request) -> web.StreamResponse:
    return await _serve(request, inline=True)


async def _serve(request: web.Request, *, inline: bool) -> web.StreamResponse:
    report_id = int_param(request.match_info["report_id"])
    attachment_id = int_param(request.match_info["attachment_id"])
    if report_id is None or attachment_id is None:
        raise web.HTTPNotFound()
    if current_official(request) is None:
        log.warning("feedback: anonymous request refused for an attachment of report %s", report_id)
        raise web.HTTPForbidden(text="Vui lòng đăng nhập để xem tệp đính kèm.")
    service = feedback_service(request)
    try:
        found = await for_official(service, actor(request), report_id, attachment_id,
                                   audit_action=None if inline else "download")
    except Exception as exc:
        mapped = domain_errors(exc)
        if mapped is None:
            raise
        raise mapped from None
    if inline and found.mime_type not in INLINE_TYPES:
        raise web.HTTPNotFound()
    store = request.config_dict[SERVICES].extra.get("files")
    if store is None or not is_key(found.sha256) or not await store.exists(found.sha256):
        log.error("feedback: attachment %s of report %s is missing from the file store", found.id, report_id)
        raise web.HTTPNotFound(text="Tệp không còn trên máy chủ; vui lòng báo quản trị hệ thống.")
    response = web.StreamResponse(headers={
        "Content-Type": found.mime_type or "application/octet-stream",
        "Content-Disposition": content_disposition(download_name(found.file_name, found.mime_type, found.id),
                                                   inline=inline),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, no-store",
    })
    for name, value in HEADERS.items():  # streamed: the headers middleware would come too late
        response.headers.setdefault(name, value)
    response.content_length = await store.size(found.sha256)
    await response.prepare(request)
    async for chunk in store.open(found.sha256):
        await response.write(chunk)
    await response.write_eof()
    return response
