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

from features.faq.intent import Interpreter
from features.faq.procedures import load_procedure_docs
from vntext.engine import FaqDoc, FaqEngine

__all__ = ["EvalReport", "load_docs_from_dir", "load_smalltalk", "build_interpreter", "load_records", "run_match",
           "evaluate", "run_eval", "default_eval_files"]


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
    if faq_dir != base:
        docs.extend(load_procedure_docs(base))
    return docs


def load_smalltalk(content_dir: str | Path) -> dict[str, list[str]]:
    """The pack's greeting / thanks / goodbye phrases (``smalltalk.yaml``)."""
    path = Path(content_dir) / "smalltalk.yaml"
    if not path.is_file():
        return {}
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_PackLoader) or {}
    return {k: _strs(data.get(k)) for k in ("greeting", "thanks", "goodbye")}


def build_interpreter(content_dir: str | Path) -> Interpreter:
    """The FAQ entries, the procedures catalogue and the small talk of a pack, as the bot builds them."""
    return Interpreter(FaqEngine.build(load_docs_from_dir(content_dir)), load_smalltalk(content_dir))


def load_records(path: str | Path) -> list[dict]:
    records = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                records.append(json.loads(line))
    return records


def run_match(target: FaqEngine | Interpreter, lines: Iterable[str], out: TextIO) -> None:
    """One JSON object per input line: {"q", "kind", "answer_id", "score", "suggestions", "report"}."""
    interp = _interpreter(target)
    for line in lines:
        q = line.rstrip("\r\n")
        u = interp.understand(q)
        out.write(json.dumps({"q": q, "kind": u.kind, "answer_id": u.answer_id, "score": u.score,
                              "suggestions": list(u.suggestions), "report": u.report}, ensure_ascii=False) + "\n")


@dataclass
class EvalReport:
    n_in_scope: int = 0
    n_out_of_scope: int = 0
    correct: int = 0  # in-scope: the reply asserts an expected label (entry id, "@safety", ...)
    wrong_answers: int = 0  # confident replies (answer, safety, small talk, complaint) with a wrong label
    in_top3: int = 0  # in-scope: expected label asserted, or an expected id among the suggestions
    suggested: int = 0  # in-scope questions answered by offering choices
    rejected: int = 0  # out-of-scope questions without a confident reply
    rejected_plainly: int = 0  # ... and without suggestions either
    misses: list[dict] = field(default_factory=list)

    @property
    def n_total(self) -> int:
        return self.n_in_scope + self.n_out_of_scope

    @property
    def accuracy(self) -> float:
        return self.correct / self.n_in_scope if self.n_in_scope else 0.0

    @property
    def recall_at_3(self) -> float:
        return self.in_top3 / self.n_in_scope if self.n_in_scope else 0.0

    @property
    def rejection(self) -> float:
        return self.rejected / self.n_out_of_scope if self.n_out_of_scope else 1.0

    @property
    def confident_wrong_rate(self) -> float:
        return self.wrong_answers / self.n_total if self.n_total else 0.0

    def as_dict(self) -> dict:
        return {
            "n": self.n_total,
            "n_in_scope": self.n_in_scope,
            "n_out_of_scope": self.n_out_of_scope,
            "accuracy": round(self.accuracy, 4),
            "recall_at_3": round(self.recall_at_3, 4),
            "rejection": round(self.rejection, 4),
            "confident_wrong": self.wrong_answers,
            "confident_wrong_rate": round(self.confident_wrong_rate, 4),
            "correct": self.correct,
            "suggested": self.suggested,
            "rejected": self.rejected,
            "rejected_plainly": self.rejected_plainly,
            "misses": list(self.misses),
        }

    def format(self) -> str:
        lines = [
            f"in scope: {self.n_in_scope}  accuracy {self.accuracy:.3f}  right-or-top3 {self.recall_at_3:.3f}"
            f"  (suggested {self.suggested})",
            f"out of scope: {self.n_out_of_scope}  rejection {self.rejection:.3f}"
            f"  (plain 'none' {self.rejected_plainly})",
            f"confident wrong: {self.wrong_answers}/{self.n_total} = {self.confident_wrong_rate:.3f}",
        ]
        if self.misses:
            lines.append("misses:")
            for m in self.misses:
                got = m["label"] or ("suggest " + ",".join(m["suggestions"]) if m["suggestions"] else "none")
                if m["label"] and m["suggestions"]:
                    got += " + " + ",".join(m["suggestions"])
                if m.get("report"):
                    got += " +report"
                lines.append(f"  [{m['kind']}] {m['q']!r}: expected {m['expect']} got {got} ({m['score']:.3f})")
        return "\n".join(lines)


def _interpreter(target: FaqEngine | Interpreter) -> Interpreter:
    return target if isinstance(target, Interpreter) else Interpreter(target)


def evaluate(target: FaqEngine | Interpreter, records: Iterable[dict]) -> EvalReport:
    """Score what the bot would reply. A record: {"q", "expect": [labels]} where a label is an entry id,
    "@safety", "@smalltalk", "@complaint", "@clarify" or null (out of scope: no confident reply), and
    optionally "report": true (the reply must also offer to file a report)."""
    interp = _interpreter(target)
    rep = EvalReport()
    for rec in records:
        q = str(rec.get("q", ""))
        expect = list(rec.get("expect") or [None])
        wants_report = bool(rec.get("report"))
        u = interp.understand(q)
        label = u.label
        allowed = set(expect) | ({"@complaint"} if wants_report else set())
        confident = label is not None and label != "@clarify"
        miss = {"q": q, "expect": expect, "label": label, "answer_id": u.answer_id, "suggestions": list(u.suggestions),
                "report": u.report, "score": u.score}
        wrong = confident and label not in allowed
        if wrong:
            rep.wrong_answers += 1
        if all(x is None for x in expect):
            rep.n_out_of_scope += 1
            if not confident:
                rep.rejected += 1
                if not u.suggestions and u.kind == "none":
                    rep.rejected_plainly += 1
            else:
                rep.misses.append({**miss, "kind": "accepted"})
            continue
        rep.n_in_scope += 1
        report_ok = u.report or not wants_report
        if label in expect and report_ok:
            rep.correct += 1
            rep.in_top3 += 1
            continue
        if None in expect and not confident and report_ok:
            rep.correct += 1
            rep.in_top3 += 1
            continue
        kind = "wrong" if wrong else (u.kind if u.kind != "answer" else "no-report")
        if u.kind == "suggest":
            rep.suggested += 1
        if report_ok and (label in expect or set(expect).intersection(u.suggestions)):
            rep.in_top3 += 1
            kind += "+top3"
        rep.misses.append({**miss, "kind": kind})
    return rep


def run_eval(target: FaqEngine | Interpreter, path: str | Path, out: TextIO) -> EvalReport:
    rep = evaluate(target, load_records(path))
    out.write(f"== {path}\n{rep.format()}\n")
    return rep


def default_eval_files() -> list[Path]:
    """The evaluation sets: the shared dev set (beside the repository), the first held-out set and the
    held-out set of real-style questions (tests/faq/)."""
    root = Path(__file__).resolve().parents[2]
    return [root.parent / "shared" / "faq" / "dev-questions.jsonl", root / "tests" / "faq" / "heldout.jsonl",
            root / "tests" / "faq" / "heldout-real.jsonl"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m features.faq.evaluate")
    ap.add_argument("cmd", choices=["eval", "match"])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--content", default=str(Path(__file__).resolve().parents[2] / "content"))
    ap.add_argument("--json", action="store_true", help="print the eval report as JSON")
    args = ap.parse_args(argv)
    interp = build_interpreter(args.content)
    if args.cmd == "match":
        run_match(interp, sys.stdin, sys.stdout)
        return 0
    for f in args.files or [str(p) for p in default_eval_files() if p.exists()]:
        rep = run_eval(interp, f, sys.stdout)
        if args.json:
            print(json.dumps(rep.as_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
