"""YAML reading that remembers where every value came from (file and line) and the `!todo` marks.

PyYAML's node tree carries start marks; we walk it once to build a path → line map so schema errors
(pydantic locations) can name the line a province has to fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TODO_TAG = "!todo"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that knows `!todo "what to fill in"`: a value the province still has to confirm.

    libyaml's loader when PyYAML has it (same nodes and marks, several times faster on large packs)."""


def _construct_todo(loader: yaml.SafeLoader, node: yaml.Node) -> None:
    return None


_Loader.add_constructor(TODO_TAG, _construct_todo)

Path_ = tuple[str | int, ...]


@dataclass
class Todo:
    path: Path_
    line: int
    note: str


@dataclass
class YamlDoc:
    file: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    todos: list[Todo] = field(default_factory=list)

    def line_of(self, path: Path_) -> int:
        """The line of the deepest known prefix of `path` (1-based; 1 when unknown)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(Exception):
    def __init__(self, file: Path, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


def _walk(node: yaml.Node, path: Path_, doc: YamlDoc) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            doc.lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), doc)
            doc.lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), doc)
    elif node.tag == TODO_TAG:
        doc.todos.append(Todo(path, node.start_mark.line + 1, str(node.value or "").strip()))


def read_yaml(file: Path) -> YamlDoc:
    """Parse one YAML file; raise YamlSyntaxError with the line on malformed input."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(file, 1, f"không phải UTF-8 ({exc.reason})") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(file, line, f"YAML sai cú pháp: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(file, 1, f"YAML sai cú pháp: {exc}") from None
    finally:
        loader.dispose()
    doc = YamlDoc(file=file, data=data)
    if node is not None:
        _walk(node, (), doc)
    return doc


def split_front_matter(file: Path) -> tuple[YamlDoc, str, int]:
    """Markdown with YAML front matter ('---' lines): (front matter doc, body, body's first line)."""
    text = file.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return YamlDoc(file=file, data={}), text, 1
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise YamlSyntaxError(file, 1, "thiếu dòng '---' kết thúc phần khai báo đầu tệp")
    head = parts[0][3:]
    body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    loader = _Loader(head)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(file, (mark.line + 1) if mark else 1, f"YAML sai cú pháp: {exc.problem}") from None
    finally:
        loader.dispose()
    doc = YamlDoc(file=file, data=data or {})
    if node is not None:
        _walk(node, (), doc)  # `head` starts right after '---' on line 1, so its line numbers are the file's
    body_line = head.count("\n") + 3
    return doc, body, body_line
