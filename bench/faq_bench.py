"""FAQ engine benchmark: our engine vs a naive rapidfuzz baseline, side by side.

    .venv/bin/python bench/faq_bench.py [--quick] [--content content] [--dev ../shared/faq/dev-questions.jsonl]

Prints ONE JSON object. Packs: the shipped pack, and synthetic packs of 1,000 and 10,000 entries built by
combining Vietnamese administrative vocabulary (procedure verbs × documents × situations) into distinct
titles/questions/keywords (the shipped entries are included). For each pack and engine: index build time,
match latency p50/p99 in ms over a query mix (paraphrased/no-diacritics/typo'd stored questions plus
out-of-scope chatter), peak Python memory of the index build (tracemalloc), and on the shipped pack
accuracy / recall@3 / out-of-scope rejection on the dev set. Runs on one core.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz, process  # noqa: E402
from rapidfuzz.utils import default_process  # noqa: E402

from vntext.engine import FaqDoc, FaqEngine  # noqa: E402
from features.faq.evaluate import default_eval_files, load_docs_from_dir, load_records, load_smalltalk  # noqa: E402
from features.faq.intent import Interpreter  # noqa: E402
from vntext.normalize import fold  # noqa: E402

# ----------------------------------------------------------------------------------- synthetic packs
ACTIONS = [
    "đăng ký", "cấp lại", "cấp đổi", "gia hạn", "điều chỉnh", "xác nhận", "thay đổi thông tin", "hủy",
    "chứng thực", "sao y", "trích lục", "đính chính", "cấp mới", "thu hồi", "chuyển nhượng", "bổ sung",
    "tra cứu", "khai báo", "đề nghị cấp", "đăng ký biến động", "công nhận", "miễn", "tạm ngừng", "chấm dứt",
]
OBJECTS = [
    "giấy khai sinh", "giấy chứng tử", "đăng ký kết hôn", "hộ chiếu phổ thông", "căn cước", "thường trú",
    "tạm trú", "giấy phép lái xe", "giấy phép xây dựng", "giấy chứng nhận quyền sử dụng đất", "hộ kinh doanh",
    "giấy phép kinh doanh rượu", "con dấu doanh nghiệp", "mã số thuế cá nhân", "sổ bảo hiểm xã hội",
    "thẻ bảo hiểm y tế", "trợ cấp thất nghiệp", "trợ cấp xã hội", "chế độ thai sản", "lý lịch tư pháp",
    "giấy xác nhận tình trạng hôn nhân", "giám hộ", "nhận con nuôi", "giấy phép lao động", "chứng chỉ hành nghề y",
    "chứng chỉ hành nghề dược", "giấy phép môi trường", "đăng ký xe máy", "biển số xe ô tô", "giấy phép quảng cáo",
    "giấy chứng nhận an toàn thực phẩm", "bằng tốt nghiệp", "văn bằng chứng chỉ", "hợp tác xã", "giấy phép khai thác nước",
    "chứng nhận hộ nghèo", "trợ giúp pháp lý", "hoà giải tranh chấp đất đai", "cấp số nhà", "đăng ký tàu cá",
    "giấy phép biểu diễn nghệ thuật", "thẻ người khuyết tật", "hỗ trợ nhà ở", "giấy phép vận tải", "kiểm định phương tiện",
]
SITUATIONS = [
    "lần đầu", "khi bị mất", "khi bị hỏng", "cho trẻ em", "cho người cao tuổi", "cho người nước ngoài",
    "ở tỉnh khác", "tại xã", "tại trung tâm hành chính công", "qua bưu điện", "trực tuyến toàn trình",
    "khi thay đổi nơi ở", "khi hết hạn", "cho doanh nghiệp", "cho hộ gia đình", "theo ủy quyền",
]
TEMPLATES = [
    "{a} {o} {s} như thế nào", "{a} {o} {s} cần giấy tờ gì", "{a} {o} {s} mất bao lâu",
    "lệ phí {a} {o} {s} bao nhiêu", "{a} {o} {s} ở đâu", "thủ tục {a} {o} {s}",
]
OOS = [
    "thời tiết hôm nay", "giá vàng sjc", "kết quả bóng đá", "công thức nấu phở", "kể chuyện cười",
    "xe buýt số 5", "lãi suất tiết kiệm", "mua vé máy bay", "asdfgh", "tổng thống mỹ là ai",
]


def synthetic_docs(n: int, base: Sequence[FaqDoc], seed: int = 7) -> list[FaqDoc]:
    rng = random.Random(seed)
    combos = [(a, o, s) for a in ACTIONS for o in OBJECTS for s in SITUATIONS]
    rng.shuffle(combos)
    docs = list(base)
    for i, (a, o, s) in enumerate(combos[: max(0, n - len(docs))]):
        qs = [t.format(a=a, o=o, s=s) for t in rng.sample(TEMPLATES, 4)]
        qs.append(fold(qs[0]))  # a no-diacritics variant, as content writers add
        docs.append(FaqDoc(f"syn-{i}", f"{a.capitalize()} {o} {s}".strip(), tuple(qs), (f"{a} {o}", o, s), "syn"))
    return docs


def perturb(q: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        q = fold(q)
    if rng.random() < 0.4:  # one typo: drop / swap a letter in a word
        words = q.split()
        if words:
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 3:
                j = rng.randrange(1, len(w) - 1)
                w = w[:j] + w[j + 1:] if rng.random() < 0.5 else w[: j - 1] + w[j] + w[j - 1] + w[j + 1:]
                words[i] = w
            q = " ".join(words)
    if rng.random() < 0.3:
        q = q + rng.choice([" ạ", " vậy ad", " ko", " với ạ", "?"])
    return q


def query_mix(docs: Sequence[FaqDoc], n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(rng.choice(OOS))
            continue
        d = rng.choice(docs)
        out.append(perturb(rng.choice([d.title, *d.questions]), rng))
    return out


# ----------------------------------------------------------------------------------- naive baseline
class NaiveFuzz:
    """WRatio (rapidfuzz default_process: lower case, punctuation stripped) of the raw question against
    every stored question; the best entry if above a threshold."""

    def __init__(self, docs: Sequence[FaqDoc], threshold: float = 80.0):
        self.choices: list[str] = []
        self.owner: list[str] = []
        for d in docs:
            for q in [d.title, *d.questions]:
                self.choices.append(q)
                self.owner.append(d.id)
        self.threshold = threshold

    def ranked(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        found = process.extract(text, self.choices, scorer=fuzz.WRatio, processor=default_process, limit=30)
        out: list[tuple[str, float]] = []
        for _, score, idx in found:
            eid = self.owner[idx]
            if all(eid != e for e, _ in out):
                out.append((eid, score))
            if len(out) >= k:
                break
        return out

    def match(self, text: str) -> str | None:
        best = process.extractOne(text, self.choices, scorer=fuzz.WRatio, processor=default_process)
        if best and best[1] >= self.threshold:
            return self.owner[best[2]]
        return None


def naive_eval(naive: NaiveFuzz, records: list[dict]) -> dict:
    n_in = n_out = correct = top3 = rejected = 0
    for r in records:
        exp = {x for x in r["expect"] if x}
        ranked = naive.ranked(r["q"])
        ans = ranked[0][0] if ranked and ranked[0][1] >= naive.threshold else None
        if not exp:
            n_out += 1
            rejected += ans is None
            continue
        n_in += 1
        correct += ans in exp
        top3 += bool(exp & {e for e, _ in ranked})
    return {"accuracy": round(correct / n_in, 4), "recall_at_3": round(top3 / n_in, 4),
            "rejection": round(rejected / n_out, 4) if n_out else None}


def engine_eval(target: FaqEngine | Interpreter, records: list[dict]) -> dict:
    from features.faq.evaluate import evaluate

    rep = evaluate(target, records).as_dict()
    return {k: rep[k] for k in ("n", "accuracy", "recall_at_3", "rejection", "confident_wrong",
                                "confident_wrong_rate")}


# ----------------------------------------------------------------------------------- measurement
def latency(fn, queries: Sequence[str]) -> dict:
    """Per-query wall-clock and CPU (thread) time. CPU time excludes time the process was preempted,
    so it is the robust number on a shared machine; wall time is reported beside it."""
    for q in queries[:20]:
        fn(q)
    wall, cpu = [], []
    for q in queries:
        c0 = time.thread_time()
        t0 = time.perf_counter()
        fn(q)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)

    def pct(xs: list[float], x: float) -> float:
        return round(xs[min(len(xs) - 1, int(round(x * (len(xs) - 1))))], 3)

    wall.sort()
    cpu.sort()
    return {"n": len(wall), "p50_ms": pct(wall, 0.5), "p99_ms": pct(wall, 0.99), "max_ms": round(wall[-1], 3),
            "cpu_p50_ms": pct(cpu, 0.5), "cpu_p99_ms": pct(cpu, 0.99), "mean_ms": round(statistics.fmean(wall), 3)}


def timed_build(factory, docs) -> tuple[object, float, float, float]:
    gc.collect()
    t0 = time.perf_counter()
    obj = factory(docs)
    build_s = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    tmp = factory(docs)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del tmp
    return obj, round(build_s, 3), round(peak / 2**20, 2), round(current / 2**20, 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer queries (smoke run)")
    ap.add_argument("--content", default=str(ROOT / "content"))
    ap.add_argument("--dev", default=str(ROOT.parent / "shared" / "faq" / "dev-questions.jsonl"))
    args = ap.parse_args(argv)
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass

    base = load_docs_from_dir(args.content)
    smalltalk = load_smalltalk(args.content)
    dev = load_records(args.dev) if Path(args.dev).exists() else []
    n_q = 300 if args.quick else 3000
    n_q_naive = {0: 300 if args.quick else 2000, 1000: 100 if args.quick else 500, 10000: 30 if args.quick else 200}
    packs = [("shipped", base), ("synthetic_1000", synthetic_docs(1000, base)),
             ("synthetic_10000", synthetic_docs(10000, base))]
    result: dict = {"quick": args.quick, "python": sys.version.split()[0], "packs": {}}
    for name, docs in packs:
        queries = query_mix(docs, n_q)
        if dev:
            queries = [r["q"] for r in dev] + queries
        eng, eng_build, eng_mem, eng_idx = timed_build(lambda d: FaqEngine.build(d), docs)
        naive, nv_build, nv_mem, nv_idx = timed_build(lambda d: NaiveFuzz(d), docs)
        size_key = 0 if name == "shipped" else len(docs) // 1000 * 1000
        entry = {
            "entries": len(docs),
            "stored_questions": sum(1 + len(d.questions) for d in docs),
            "engine": {"build_s": eng_build, "build_peak_mem_mib": eng_mem, "index_mem_mib": eng_idx,
                       "latency": latency(eng.match, queries),
                       # the whole decision the bot makes per message (safety, small talk, complaint, match)
                       "understand_latency": latency(Interpreter(eng, smalltalk).understand, queries)},
            "naive_rapidfuzz": {"build_s": nv_build, "build_peak_mem_mib": nv_mem, "index_mem_mib": nv_idx,
                                "latency": latency(naive.match, queries[: n_q_naive.get(size_key, 200)])},
        }
        if name == "shipped" and dev:
            # naive threshold: best of a small grid on the dev set (generous to the baseline)
            best = None
            by_threshold = {}
            for th in (60, 65, 70, 75, 80, 85, 90, 95):
                naive.threshold = th
                ev = naive_eval(naive, dev)
                by_threshold[str(th)] = ev
                key = ev["accuracy"] + (ev["rejection"] or 0)
                if best is None or key > best[0]:
                    best = (key, th, ev)
            naive.threshold = best[1]
            entry["naive_rapidfuzz"]["threshold"] = best[1]
            entry["naive_rapidfuzz"]["dev"] = best[2]
            entry["naive_rapidfuzz"]["dev_by_threshold"] = by_threshold
            interp = Interpreter(eng, smalltalk)
            entry["engine"]["dev"] = engine_eval(interp, dev)
            for path in default_eval_files()[1:]:
                if path.exists():
                    records = load_records(path)
                    entry["engine"][path.stem] = engine_eval(interp, records)
                    entry["naive_rapidfuzz"][path.stem] = naive_eval(naive, records)
        result["packs"][name] = entry
        del eng, naive
        gc.collect()
    result["max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    shipped, big = result["packs"]["shipped"]["engine"], result["packs"]["synthetic_10000"]["engine"]
    real = shipped.get("heldout-real")
    result["targets"] = {  # issue 10: confident wrong <= 2 %, right-or-top3 >= 95 %, p99 <= 2 ms at 10,000
        "heldout_real_confident_wrong_rate": real and real["confident_wrong_rate"],
        "heldout_real_right_or_top3": real and real["recall_at_3"],
        "p99_ms_10000": big["latency"]["p99_ms"], "cpu_p99_ms_10000": big["latency"]["cpu_p99_ms"],
        "met": bool(real and real["confident_wrong_rate"] <= 0.02 and real["recall_at_3"] >= 0.95
                    and big["latency"]["cpu_p99_ms"] <= 2.0),
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
