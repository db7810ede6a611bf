"""Evaluation helpers for the FAQ engine (and a small CLI).

    .venv/bin/python -m features.faq.evaluate eval  [--content content] [FILE.jsonl ...]
    .venv/bin/python -m features.faq.evaluate match [--content content] < questions.txt

Evaluation files hold one JSON object a line: {"q": question, "expect": [ids]}; ``[null]`` means the
question is out of scope and must not get a direct answer.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, TextIO

import yaml

from vntext.engine import FaqDoc, FaqEngine

__all__ = ["EvalReport", "load_docs_from_dir", "load_records", "run_match", "evaluate", "run_eval"]


class _PackLoader(yaml.SafeLoader):
    """SafeLoader that reads the pack's ``!todo`` placeholders as None."""


def _todo(loader: yaml.SafeLoader, node: yaml.Node) -> None:
    return None


_PackLoader.add_constructor("!todo", _todo)


def _strs(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [str(value)] if str(value).strip() else []


def load_docs_from_dir(content_dir: str | Path) -> list[FaqDoc]:
    """FaqDocs from ``<content_dir>/faq/*.yaml`` (or ``content_dir/*.yaml`` if it is the faq dir)."""
    base = Path(content_dir)
    faq_dir = base / "faq" if (base / "faq").is_dir() else base
    docs: list[FaqDoc] = []
    for path in sorted(faq_dir.glob("*.yaml")) + sorted(faq_dir.glob("*.yml")):
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_PackLoader) or {}
        group = data.get("group") or {}
        gid = str(group.get("id") or path.stem) if isinstance(group, dict) else path.stem
        for entry in data.get("entries") or []:
            if not isinstance(entry, dict) or not entry.get("id"):
                continue
            docs.append(
                FaqDoc(
                    id=str(entry["id"]),
                    title=str(entry.get("title") or ""),
                    questions=tuple(_strs(entry.get("questions"))),
                    keywords=tuple(_strs(entry.get("keywords"))),
                    group=gid,
                )
            )
    return docs


def load_records(path: str | Path) -> list[dict]:
    records = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                records.append(json.loads(line))
    return records


def run_match(engine: FaqEngine, lines: Iterable[str], out: TextIO) -> None:
    """One JSON object per input line: {"q", "answer_id", "score", "suggestions"}."""
    for line in lines:
        q = line.rstrip("\r\n")
        d = engine.match(q)
        out.write(
            json.dumps(
                {"q": q, "answer_id": d.answer_id, "score": d.score, "suggestions": list(d.suggestions)},
                ensure_ascii=False,
            )
            + "\n"
        )


@dataclass
class EvalReport:
    n_in_scope: int = 0
    n_out_of_scope: int = 0
    correct: int = 0  # in-scope answered directly with an expected id
    wrong_answers: int = 0  # direct answer with a wrong id (in scope) or any answer out of scope
    in_top3: int = 0  # expected id among answer or suggestions
    suggested: int = 0  # in-scope questions answered by offering choices
    rejected: int = 0  # out-of-scope questions without a direct answer
    rejected_plainly: int = 0  # ... and without suggestions either
    misses: list[dict] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n_in_scope if self.n_in_scope else 0.0

    @property
    def recall_at_3(self) -> float:
        return self.in_top3 / self.n_in_scope if self.n_in_scope else 0.0

    @property
    def rejection(self) -> float:
        return self.rejected / self.n_out_of_scope if self.n_out_of_scope else 1.0

    def as_dict(self) -> dict:
        return {
            "n_in_scope": self.n_in_scope,
            "n_out_of_scope": self.n_out_of_scope,
            "accuracy": round(self.accuracy, 4),
            "recall_at_3": round(self.recall_at_3, 4),
            "rejection": round(self.rejection, 4),
            "correct": self.correct,
            "suggested": self.suggested,
            "wrong_answers": self.wrong_answers,
            "rejected": self.rejected,
            "rejected_plainly": self.rejected_plainly,
            "misses": list(self.misses),
        }

    def format(self) -> str:
        lines = [
            f"in scope: {self.n_in_scope}  accuracy {self.accuracy:.3f}  recall@3 {self.recall_at_3:.3f}"
            f"  (suggested {self.suggested}, wrong answers {self.wrong_answers})",
            f"out of scope: {self.n_out_of_scope}  rejection {self.rejection:.3f}"
            f"  (plain 'none' {self.rejected_plainly})",
        ]
        if self.misses:
            lines.append("misses:")
            for m in self.misses:
                got = m["answer_id"] or ("suggest " + ",".join(m["suggestions"]) if m["suggestions"] else "none")
                lines.append(f"  [{m['kind']}] {m['q']!r}: expected {m['expect']} got {got} ({m['score']:.3f})")
        return "\n".join(lines)


def evaluate(engine: FaqEngine, records: Iterable[dict]) -> EvalReport:
    rep = EvalReport()
    for rec in records:
        q = str(rec.get("q", ""))
        expect = list(rec.get("expect") or [None])
        d = engine.match(q)
        miss = {"q": q, "expect": expect, "answer_id": d.answer_id, "suggestions": list(d.suggestions),
                "score": d.score}
        if all(x is None for x in expect):
            rep.n_out_of_scope += 1
            if d.answer_id is None:
                rep.rejected += 1
                if not d.suggestions:
                    rep.rejected_plainly += 1
            else:
                rep.wrong_answers += 1
                rep.misses.append({**miss, "kind": "accepted"})
            continue
        ids = {x for x in expect if x is not None}
        rep.n_in_scope += 1
        if d.answer_id in ids:
            rep.correct += 1
            rep.in_top3 += 1
            continue
        if d.answer_id is not None:
            rep.wrong_answers += 1
            kind = "wrong"
        elif d.suggestions:
            rep.suggested += 1
            kind = "suggest"
        else:
            kind = "none"
        if d.answer_id in ids or ids.intersection(d.suggestions):
            rep.in_top3 += 1
            kind += "+top3"
        rep.misses.append({**miss, "kind": kind})
    return rep


def run_eval(engine: FaqEngine, path: str | Path, out: TextIO) -> EvalReport:
    rep = evaluate(engine, load_records(path))
    out.write(f"== {path}\n{rep.format()}\n")
    return rep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m features.faq.evaluate")
    ap.add_argument("cmd", choices=["eval", "match"])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--content", default=str(Path(__file__).resolve().parents[2] / "content"))
    ap.add_argument("--json", action="store_true", help="print the eval report as JSON")
    args = ap.parse_args(argv)
    engine = FaqEngine.build(load_docs_from_dir(args.content))
    if args.cmd == "match":
        run_match(engine, sys.stdin, sys.stdout)
        return 0
    files = args.files or [
        str(Path(__file__).resolve().parents[3] / "shared" / "faq" / "dev-questions.jsonl"),
        str(Path(__file__).resolve().parents[2] / "tests" / "faq" / "heldout.jsonl"),
    ]
    for f in files:
        rep = run_eval(engine, f, sys.stdout)
        if args.json:
            print(json.dumps(rep.as_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
