"""Accuracy targets of the FAQ (engine + understanding layer) on the shipped content pack.

Dev set: shared/faq/dev-questions.jsonl (beside the repo). Held-out sets, each written before the tuning it
measures: tests/faq/heldout.jsonl and tests/faq/heldout-real.jsonl (real-style questions: procedures, safety,
too-short, complaints, two needs, small talk, out of scope). See faq/README.md for the measured numbers.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from features.faq.evaluate import build_interpreter, evaluate, load_records
from features.faq.intent import Interpreter

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content"
SHARED = Path(__file__).resolve().parents[3] / "shared"
DEV = SHARED / "faq" / "dev-questions.jsonl"
HELDOUT = Path(__file__).resolve().parent / "heldout.jsonl"
REAL = Path(__file__).resolve().parent / "heldout-real.jsonl"
SPECIAL = {"@safety", "@smalltalk", "@complaint", "@clarify"}
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require(path: Path, what: str) -> None:
    if not path.exists() or (path.is_dir() and not any(path.glob("*.yaml"))):
        msg = f"{what} not found at {path}"
        if IN_CI:
            pytest.fail(msg + " (required when CI=true)")
        pytest.skip(msg)


@pytest.fixture(scope="module")
def engine() -> Interpreter:
    _require(CONTENT / "faq", "FAQ content pack")
    interp = build_interpreter(CONTENT)
    assert interp.engine.docs, "no FAQ entries loaded"
    return interp


def test_dev_targets(engine):
    _require(DEV, "dev questions (shared/faq/dev-questions.jsonl)")
    rep = evaluate(engine, load_records(DEV))
    print(rep.format())
    assert rep.n_in_scope > 0 and rep.n_out_of_scope > 0
    assert rep.accuracy >= 0.92, rep.format()
    assert rep.recall_at_3 >= 0.97, rep.format()
    assert rep.rejection >= 0.93, rep.format()


def test_heldout_targets(engine):
    rep = evaluate(engine, load_records(HELDOUT))
    print(rep.format())
    assert rep.n_in_scope >= 80 and rep.n_out_of_scope >= 20
    assert rep.accuracy >= 0.88, rep.format()
    assert rep.recall_at_3 >= 0.95, rep.format()
    assert rep.rejection >= 0.90, rep.format()
    assert rep.wrong_answers == 0, rep.format()


def test_real_style_heldout_targets(engine):
    """Issue 10: confident wrong replies <= 2 % of all questions; in scope, the right reply or the right
    topic among the suggestions >= 95 %."""
    rep = evaluate(engine, load_records(REAL))
    print(rep.format())
    assert rep.n_total >= 150 and rep.n_out_of_scope >= 20
    assert rep.confident_wrong_rate <= 0.02, rep.format()
    assert rep.recall_at_3 >= 0.95, rep.format()
    assert rep.rejection >= 0.95, rep.format()


def test_every_topic_id_present(engine):
    topics = SHARED / "faq" / "topics.md"
    _require(topics, "topics list (shared/faq/topics.md)")
    ids = {d.id for d in engine.engine.docs}
    import re

    wanted = set(re.findall(r"^\| ([a-z0-9-]+) \|", topics.read_text(encoding="utf-8"), re.M)) - {"id"}
    assert wanted and not (wanted - ids), sorted(wanted - ids)


@pytest.mark.parametrize("path", [HELDOUT, REAL], ids=["heldout", "heldout-real"])
def test_heldout_expects_known_ids(engine, path):
    ids = {d.id for d in engine.engine.docs} | SPECIAL
    for rec in load_records(path):
        for x in rec["expect"]:
            assert x is None or x in ids, x
