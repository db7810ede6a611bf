"""What an upload is, decided from its first bytes (never from the name or the browser's content type)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileKind:
    type: str  # one of channels.web.content.FileType
    kind: str  # core.types.Attachment.kind: "photo" or "document"
    mime_type: str
    extension: str


def sniff(data: bytes) -> FileKind | None:
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind("jpeg", "photo", "image/jpeg", "jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind("png", "photo", "image/png", "png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind("webp", "photo", "image/webp", "webp")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FileKind("gif", "photo", "image/gif", "gif")
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
        return FileKind("heic", "photo", "image/heic", "heic")
    if head.startswith(b"%PDF-"):
        return FileKind("pdf", "document", "application/pdf", "pdf")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return FileKind("doc", "document", "application/msword", "doc")
    if head.startswith(b"PK\x03\x04"):
        # Office Open XML: a zip whose entries name the document type (look in the first entries only)
        window = data[:65536]
        if b"word/" in window:
            return FileKind("docx", "document",
                            "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
        if b"xl/" in window:
            return FileKind("xlsx", "document",
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
    return None
