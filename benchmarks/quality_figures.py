"""Quality and speed figures of the limerick and fact checkers (lib.checks.limerick, lib.checks.facts, lib.checks.quality).

    python benchmarks/quality_figures.py
    python benchmarks/quality_figures.py --lear ../shared/data/limericks/lear_dev.jsonl \\
        --negatives ../shared/data/limericks/negatives_dev.jsonl --rows 10000

Prints:
  - limerick recall on real Lear limericks (target >= 90 %);
  - rejection of near misses (target >= 80 %), of our own negatives, acceptance of our own positives;
  - facts: contradicted claims in the sample dataset (target 0), and a sweep of true and false
    statements about all 118 elements (target: no true statement contradicted);
  - speed: N distinct rows through lib.checks.quality in this process, and through
    `python -m lib limerick --jsonl` / `python -m lib facts --jsonl` in a fresh process.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.checks import elements, facts, limerick, quality  # noqa: E402
from tests.element_statements import true_and_false_statements  # noqa: E402

DATA = ROOT / "tests" / "data"


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _qa(example: dict) -> tuple[str, str]:
    q, a = quality.question_answer(example)
    return q or "", a or ""




def _synthetic_rows(n: int, line_pool: list[str], seed: int = 7) -> list[dict]:
    """n distinct chat rows: random five-line answers from real lines, an element name and number in front."""
    rng = random.Random(seed)
    names = [e.name for e in elements.all_elements()]
    rows = []
    for i in range(n):
        name = rng.choice(names)
        lines = rng.sample(line_pool, 5)
        lines[0] = f"{name}, number {rng.randint(1, 118)}, {lines[0][0].lower()}{lines[0][1:]}"
        if i % 3 == 0:
            lines[2] = f"It melts at {rng.randint(-200, 3500)} degrees"
        rows.append({"messages": [{"role": "system", "content": "Elle"},
                                  {"role": "user", "content": f"Tell me about {name} ({i})"},
                                  {"role": "assistant", "content": " - ".join(lines)}]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lear", type=Path, default=DATA / "lear_dev.jsonl")
    parser.add_argument("--negatives", type=Path, default=DATA / "negatives_dev.jsonl")
    parser.add_argument("--own-negatives", type=Path, default=DATA / "own_negatives.jsonl")
    parser.add_argument("--own-positives", type=Path, default=DATA / "own_positives.jsonl")
    parser.add_argument("--sample", type=Path, default=ROOT / "sample_data" / "elements_limericks.jsonl")
    parser.add_argument("--rows", type=int, default=10_000, help="rows for the speed test (default 10,000)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list the misses")
    args = parser.parse_args(argv)
    ok = True

    def target(name: str, value: float, goal: float, higher: bool = True) -> None:
        nonlocal ok
        met = value >= goal if higher else value <= goal
        ok = ok and met
        print(f"    target {'>=' if higher else '<='} {goal:g}: {'met' if met else 'MISSED'}")

    t0 = time.perf_counter()
    limerick.check("warm up - the dictionary")
    print(f"Pronunciation dictionary loaded in {time.perf_counter() - t0:.2f} s")

    print("\nLimerick form")
    lear = _jsonl(args.lear)
    misses = [r for r in lear if not limerick.check(r["text"]).is_limerick]
    recall = 1 - len(misses) / len(lear)
    print(f"  Lear limericks called limericks: {len(lear) - len(misses)}/{len(lear)} = {recall:.1%}")
    target("recall", recall * 100, 90)
    for r in misses if args.verbose else []:
        print("      miss:", limerick.check(r["text"]).problems, "|", r["text"][:80])
    negatives = _jsonl(args.negatives)
    accepted = [r for r in negatives if limerick.check(r["text"]).is_limerick]
    rejection = 1 - len(accepted) / len(negatives)
    print(f"  near misses rejected: {len(negatives) - len(accepted)}/{len(negatives)} = {rejection:.1%}")
    target("rejection", rejection * 100, 80)
    for r in accepted if args.verbose else []:
        print("      accepted:", r.get("label"), "|", r["text"][:80])
    if args.own_negatives.exists():
        own = _jsonl(args.own_negatives)
        wrong = [r for r in own if limerick.check(r["text"]).is_limerick]
        print(f"  own negatives rejected (prose, 4/6 lines, broken AABBA/metre): {len(own) - len(wrong)}/{len(own)}")
    if args.own_positives.exists():
        pos = _jsonl(args.own_positives)
        good = sum(limerick.check(r["text"]).is_limerick for r in pos)
        print(f"  own element limericks accepted: {good}/{len(pos)}")

    print("\nFacts")
    if args.sample.exists():
        sample = _jsonl(args.sample)
        claims = [c for ex in sample for c in facts.check(*_qa(ex)).claims]
        wrong = [c for c in claims if c.verdict == "contradicted"]
        print(f"  sample data ({len(sample)} rows): {len(claims)} claims read, "
              f"{sum(c.verdict == 'supported' for c in claims)} supported, {len(wrong)} contradicted")
        target("false contradicted", len(wrong), 0, higher=False)
        for c in wrong:
            print("      contradicted:", c.to_dict())
    else:
        print(f"  sample data not found at {args.sample}")
    truths = lies = false_contra = caught = 0
    for e in elements.all_elements():
        true_texts, false_texts = true_and_false_statements(e)
        for text in true_texts:
            truths += 1
            false_contra += any(c.verdict == "contradicted" for c in facts.check(f"Tell me about {e.name}", text).claims)
        for text in false_texts:
            lies += 1
            caught += any(c.verdict == "contradicted" for c in facts.check(f"Tell me about {e.name}", text).claims)
    print(f"  true statements about all 118 elements contradicted: {false_contra}/{truths}")
    target("false contradicted", false_contra, 0, higher=False)
    print(f"  false statements caught: {caught}/{lies} = {caught / lies:.1%}")

    print(f"\nSpeed ({args.rows:,} distinct rows)")
    pool = [line for r in lear for line in limerick.split_lines(r["text"])]
    rows = _synthetic_rows(args.rows, pool)
    t = time.perf_counter()
    scored = quality.score_examples(rows)
    summary = quality.summary(scored)
    elapsed = time.perf_counter() - t
    print(f"  lib.checks.quality.score_examples + summary: {elapsed:.2f} s "
          f"({elapsed / args.rows * 1000:.2f} ms/row; {summary.contradicted} contradicted claims found)")
    t = time.perf_counter()
    quality.score_examples(rows)
    print(f"  the same rows again (cached): {time.perf_counter() - t:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        lim_path, facts_path = Path(tmp) / "limericks.jsonl", Path(tmp) / "facts.jsonl"
        pairs = [_qa(r) for r in rows]
        lim_path.write_text("".join(json.dumps({"text": a}) + "\n" for _, a in pairs), encoding="utf-8")
        facts_path.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in pairs),
                              encoding="utf-8")
        for command, path in (("limerick", lim_path), ("facts", facts_path)):
            t = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "lib", command, "--jsonl", str(path)], cwd=ROOT,
                                    capture_output=True, text=True)
            elapsed = time.perf_counter() - t
            n_out = len(result.stdout.splitlines())
            print(f"  python -m lib {command} --jsonl: {elapsed:.2f} s for {n_out:,} rows (exit {result.returncode})")
            ok = ok and result.returncode == 0 and n_out == args.rows
    print("\nAll targets met." if ok else "\nSome targets were MISSED.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
