"""The bot's file store (core.files): content-hash names, atomic writes, deduplication, limits, type from bytes."""
from __future__ import annotations

import hashlib
import os

import pytest

from core.files import FileRejected, LocalFileStore, accept, detect, downloader_for, store_from_env

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x11" * 200 + b"\xff\xd9"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
TYPES = ("image/jpeg", "image/png", "application/pdf")


async def test_files_are_named_by_their_sha256_in_sharded_folders(tmp_path) -> None:
    store = LocalFileStore(tmp_path / "files")
    key = await store.put(JPEG)
    assert key == hashlib.sha256(JPEG).hexdigest()
    path = tmp_path / "files" / key[:2] / key[2:4] / key
    assert path.read_bytes() == JPEG
    assert await store.exists(key) and await store.size(key) == len(JPEG)
    assert b"".join([c async for c in store.open(key)]) == JPEG
    assert not await store.exists("0" * 64) and not await store.exists("../../etc/passwd")
    with pytest.raises(ValueError):
        store.path("../" + key[3:])  # a key from a URL or a row can never leave the root
    with pytest.raises(FileNotFoundError):
        await store.size("f" * 64)


async def test_equal_bytes_are_stored_once(tmp_path) -> None:
    store = LocalFileStore(tmp_path)
    first, second = await store.put(PDF), await store.put(PDF)
    assert first == second
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.name for p in files] == [first]


async def test_a_write_is_atomic_temp_file_then_rename(tmp_path, monkeypatch) -> None:
    store = LocalFileStore(tmp_path)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def crash_on_rename(src, dst):
        renames.append((os.path.basename(src), os.path.basename(dst)))
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash_on_rename)
    with pytest.raises(OSError):
        await store.put(JPEG)
    key = hashlib.sha256(JPEG).hexdigest()
    assert renames and renames[0][0].startswith(".tmp-") and renames[0][1] == key
    assert not await store.exists(key)  # nothing under the final name...
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # ...and no temporary file left behind
    monkeypatch.setattr(os, "replace", real_replace)
    assert await store.put(JPEG) == key and await store.exists(key)


async def test_limits_and_type_come_from_the_bytes_never_the_name(tmp_path) -> None:
    store = LocalFileStore(tmp_path)
    stored = await accept(store, JPEG, max_bytes=1024, allowed_types=TYPES)
    assert (stored.mime_type, stored.extension, stored.size) == ("image/jpeg", "jpg", len(JPEG))
    # a PDF is a PDF whatever the citizen called it ("anh.jpg"): typed from its bytes
    assert (await accept(store, PDF, max_bytes=1024, allowed_types=TYPES)).mime_type == "application/pdf"
    with pytest.raises(FileRejected) as too_big:
        await accept(store, JPEG, max_bytes=100, allowed_types=TYPES)
    assert too_big.value.reason == "too_large"
    with pytest.raises(FileRejected) as pdf_refused:
        await accept(store, PDF, max_bytes=1024, allowed_types=("image/jpeg",))
    assert pdf_refused.value.reason == "type"
    for unknown in (b"<html><script>alert(1)</script></html>", "xin chào".encode(), b"<svg onload=x>"):
        with pytest.raises(FileRejected) as refused:
            await accept(store, unknown, max_bytes=1024, allowed_types=TYPES)
        assert refused.value.reason == "type"
    with pytest.raises(FileRejected) as empty:
        await accept(store, b"", max_bytes=1024, allowed_types=TYPES)
    assert empty.value.reason == "empty"
    assert {p.name for p in tmp_path.rglob("*") if p.is_file()} == {hashlib.sha256(JPEG).hexdigest(),
                                                                      hashlib.sha256(PDF).hexdigest()}
    assert detect(PDF) == ("application/pdf", "pdf") and detect(b"") is None


def test_the_store_folder_comes_from_the_environment(tmp_path) -> None:
    assert str(store_from_env({}).root) == "data/files"
    assert store_from_env({"CCHC_FILES_DIR": str(tmp_path / "x")}).root == tmp_path / "x"
    (tmp_path / "plain").write_text("")
    with pytest.raises(ValueError):
        store_from_env({"CCHC_FILES_DIR": str(tmp_path / "plain")})


def test_the_downloader_is_found_by_channel_never_by_importing_an_adapter() -> None:
    class Services:
        def __init__(self, extra):
            self.extra = extra

    class WithDownload:
        async def download(self, attachment):
            return b""

    async def registered(attachment):
        return b""

    sender = WithDownload()
    assert downloader_for(Services({"downloaders": {"zalo_oa": registered}}), "zalo_oa") is registered
    assert downloader_for(Services({"senders": {"telegram": sender}}), "telegram") == sender.download
    assert downloader_for(Services({"senders": {"console": object()}}), "console") is None
    assert downloader_for(Services({}), "web") is None
