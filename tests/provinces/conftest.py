"""Packs generated from the official list, shared by the whole session: each province's pack is generated
(about 30 ms) and loaded once, when a test first asks for it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.features import load_pack
from core.content import ContentPack
from core.content import provinces as official
from core.content.generate import generate_pack


class GeneratedPacks(dict):
    """Province code -> the directory `content new` wrote for it (with the real date: calendar years current)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, code: int) -> Path:
        province = official.province_by_code(code)
        assert province is not None, code
        target = self.root / province.codename
        assert generate_pack(province.official_name, target) == province
        self[code] = target
        return target


class LoadedPacks(dict):
    """Province code -> the loaded generated pack, each loaded (and so checked) once per session."""

    def __init__(self, paths: GeneratedPacks) -> None:
        super().__init__()
        self.paths = paths

    def __missing__(self, code: int) -> ContentPack:
        pack = self[code] = load_pack(self.paths[code])
        return pack


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPacks:
    return GeneratedPacks(tmp_path_factory.mktemp("packs"))


@pytest.fixture(scope="session")
def loaded(generated: GeneratedPacks) -> LoadedPacks:
    return LoadedPacks(generated)
