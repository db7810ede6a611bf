"""Validation findings that name file, line and field, collected over a whole run."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    field: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        label = "lỗi" if self.severity == "error" else "cảnh báo"
        fld = f" {self.field}:" if self.field else ""
        return f"{where}: {label}:{fld} {self.message}"


@dataclass
class Report:
    root: Path
    findings: list[Finding] = field(default_factory=list)

    def error(self, file: Path | str, line: int, fld: str, message: str) -> None:
        self.findings.append(Finding(self._rel(file), line, fld, message, "error"))

    def warning(self, file: Path | str, line: int, fld: str, message: str) -> None:
        self.findings.append(Finding(self._rel(file), line, fld, message, "warning"))

    def _rel(self, file: Path | str) -> str:
        path = Path(file)
        try:
            return str(path.relative_to(self.root.parent)) if path.is_absolute() else str(path)
        except ValueError:
            return str(path)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        lines = [str(f) for f in sorted(self.findings, key=lambda f: (f.severity != "error", f.file, f.line))]
        lines.append(f"{len(self.errors)} lỗi, {len(self.warnings)} cảnh báo")
        return "\n".join(lines)
