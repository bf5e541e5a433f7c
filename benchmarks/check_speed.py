"""Token counting at scale: our path against the Cookbook's plain loop, measured in the same run.

    python benchmarks/check_speed.py                  # 100,000 examples (~100 MB), the full check
    python benchmarks/check_speed.py --examples 20000 # quicker

It writes a chat JSONL of seed-style examples (the limerick bot's system prompt, questions about
elements, limericks and explanations of varied length, some multi-turn) into a temporary folder, then
times:

  (a) the Cookbook (openai-cookbook examples/Chat_finetuning_data_prep.ipynb): `json.loads` per line,
      then `num_tokens_from_messages` for every example, with the same encoding as (b);
  (b) ours: `lib.dataset.parse` (plain `json.loads` per line while that module does not exist),
      `lib.pricing.estimate` and, when `lib.validation` exists, `lib.validation.validate`;

prints both times and the ratio, and asserts that the per-example token counts are identical.
Target: ours ≤ 0.5 × the Cookbook loop on 2 cores. Exits 1 when counts differ or the target is missed.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _words(text: str) -> list[str]:
    return text.split()


SYSTEM_PROMPTS = [
    "Elle is a factual chatbot that answers questions about elements in the periodic table with a limerick",
    "Elle is a factual chatbot that answers questions about elements in the periodic table with a limerick. "
    "Keep every answer to five lines, rhyme AABBA, and never invent a number.",
    "You are Elle, a cheerful chemistry tutor. Answer each question about an element with a limerick, "
    "then one short sentence of plain facts.",
]
ELEMENTS = _words(
    "Hydrogen Helium Lithium Beryllium Boron Carbon Nitrogen Oxygen Fluorine Neon Sodium Magnesium "
    "Aluminum Silicon Phosphorus Sulfur Chlorine Argon Potassium Calcium Scandium Titanium Vanadium "
    "Chromium Manganese Iron Cobalt Nickel Copper Zinc Gallium Germanium Arsenic Selenium Bromine "
    "Krypton Rubidium Strontium Yttrium Zirconium Niobium Molybdenum Technetium Ruthenium Rhodium "
    "Palladium Silver Cadmium Indium Tin Antimony Tellurium Iodine Xenon Cesium Barium Lanthanum "
    "Cerium Gold Mercury Lead Bismuth Polonium Radon Radium Uranium Plutonium Tungsten Platinum"
)
QUESTIONS = [
    "Tell me about {e}",
    "What is {e} used for?",
    "Why is {e} important in {w}?",
    "Can you describe {e} and its {w}?",
    "Write something fun about {e}, please, my class is studying {w}.",
    "How was {e} discovered, and what does it have to do with {w}?",
]
WORDS = _words(
    "light bright metal shiny gas liquid solid atom electron proton neutron shell orbit bond salt acid "
    "water stars sun rock ore mine lamp glow spark fire flame cold heat melt boil freeze steel wire "
    "battery phone screen glass bones teeth blood leaf tree ocean air balloon rocket engine coin ring "
    "crown jewel paint color green blue red yellow silver golden heavy dense soft hard rare common "
    "table column row period group noble reactive stable decay nucleus isotope laboratory chemist "
    "discovered named ancient modern useful toxic safe friendly curious wonderful strange little big"
)
RHYMES = [
    ("bright", "light", "sight", "night", "delight"),
    ("shine", "line", "fine", "mine", "divine"),
    ("sea", "free", "key", "degree", "glee"),
    ("gold", "bold", "cold", "old", "told"),
    ("air", "rare", "there", "care", "flair"),
    ("stone", "known", "own", "tone", "zone"),
]


def _phrase(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _limerick(rng: random.Random, element: str) -> str:
    a, b = rng.sample(RHYMES, 2)
    lines = [
        f"{element}, oh {element}, so {rng.choice(a)}",
        f"{_phrase(rng, rng.randint(3, 6)).capitalize()} {rng.choice(a)}",
        f"{_phrase(rng, rng.randint(2, 4)).capitalize()} {rng.choice(b)}",
        f"{_phrase(rng, rng.randint(2, 4)).capitalize()} {rng.choice(b)}",
        f"{_phrase(rng, rng.randint(3, 6)).capitalize()} {rng.choice(a)}",
    ]
    return " - ".join(lines)


def _answer(rng: random.Random, element: str) -> str:
    text = _limerick(rng, element)
    extra = int(rng.expovariate(1 / 60))  # varied length: most short, a long tail
    if extra:
        text += f"\n\n{element} facts: " + _phrase(rng, extra) + f". Atomic number {rng.randint(1, 118)}."
    return text


def make_example(rng: random.Random) -> dict:
    element = rng.choice(ELEMENTS)
    messages = [
        {"role": "system", "content": SYSTEM_PROMPTS[0] if rng.random() < 0.8 else rng.choice(SYSTEM_PROMPTS)},
        {"role": "user", "content": rng.choice(QUESTIONS).format(e=element, w=rng.choice(WORDS))},
        {"role": "assistant", "content": _answer(rng, element)},
    ]
    if rng.random() < 0.3:  # multi-turn
        other = rng.choice(ELEMENTS)
        messages += [
            {"role": "user", "content": rng.choice(QUESTIONS).format(e=other, w=rng.choice(WORDS))},
            {"role": "assistant", "content": _answer(rng, other)},
        ]
    if rng.random() < 0.1:  # named participants
        messages[1]["name"] = rng.choice(["alice", "bob", "teacher_3b"])
    return {"messages": messages}


def write_dataset(path: Path, n: int, seed: int = 0) -> int:
    """Write `n` examples as JSONL; returns the file size in bytes."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for _ in range(n):
            f.write(json.dumps(make_example(rng), ensure_ascii=False) + "\n")
    return path.stat().st_size


# ---- (a) the Cookbook, as written in Chat_finetuning_data_prep.ipynb (encoding made the same as ours) ----


def cookbook(data_path: Path, encoding, timings: dict | None = None) -> list[int]:
    start = time.perf_counter()
    with open(data_path, encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f]
    parsed = time.perf_counter()

    def num_tokens_from_messages(messages, tokens_per_message=3, tokens_per_name=1):
        num_tokens = 0
        for message in messages:
            num_tokens += tokens_per_message
            for key, value in message.items():
                num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += tokens_per_name
        num_tokens += 3
        return num_tokens

    convo_lens = []
    for ex in dataset:
        messages = ex["messages"]
        convo_lens.append(num_tokens_from_messages(messages))
    if timings is not None:
        timings["parse"] = parsed - start
        timings["count"] = time.perf_counter() - parsed
    return convo_lens


# ---- (b) ours ----


def ours(data_path: Path, model: str, *, validate: bool, parser: str) -> tuple[list[int], dict]:
    """Parse, estimate (and validate): what the Estimate page does. Returns counts and timings."""
    from lib import pricing

    data = data_path.read_bytes()
    timings: dict = {}
    start = time.perf_counter()
    if parser == "dataset":
        from lib import dataset

        examples = dataset.parse(data, data_path.name).train_examples()
        timings["parser"] = "lib.dataset.parse"
    else:
        examples = [json.loads(line) for line in data.splitlines() if line.strip()]
        timings["parser"] = "json.loads per line"
    timings["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    estimate = pricing.estimate(examples, model)
    timings["estimate"] = time.perf_counter() - start
    if validate and importlib.util.find_spec("lib.validation") is not None:
        from lib import validation

        start = time.perf_counter()
        validation.validate(examples, format="chat", token_counts=estimate.tokens,
                            token_limit=estimate.token_limit, model=model)
        timings["validate"] = time.perf_counter() - start
    timings["result"] = estimate
    return estimate.tokens, timings


def memory_report(path: Path, model: str, parser: str, tokens) -> str:
    """Peak Python memory of parsing, then the extra peak of estimating on top of the parsed data."""
    from lib import pricing

    tokens.clear_cache()
    gc.collect()
    tracemalloc.start()
    data = path.read_bytes()
    if parser == "dataset":
        from lib import dataset

        examples = dataset.parse(data, path.name).train_examples()
    else:
        examples = [json.loads(line) for line in data.splitlines() if line.strip()]
    del data
    parsed, parse_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    pricing.estimate(examples, model)
    kept, estimate_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = path.stat().st_size
    return (f"memory: file {size / 1e6:.0f} MB; parsed examples {parsed / 1e6:.0f} MB (peak {parse_peak / 1e6:.0f} MB); "
            f"estimate adds peak {(estimate_peak - parsed) / 1e6:.0f} MB, keeps {(kept - parsed) / 1e6:.0f} MB "
            "(the count cache: one int per distinct string)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="examples to generate (default 100,000)")
    parser.add_argument("--model", default="gpt-4.1-mini", help="model whose encoding and price are used")
    parser.add_argument("--target", type=float, default=0.5, help="largest acceptable ours/Cookbook ratio")
    parser.add_argument("--repeat", type=int, default=1, help="run both N times, alternating; keep the best")
    parser.add_argument("--skip-validation", action="store_true", help="time parse + estimate only")
    parser.add_argument("--parser", choices=["dataset", "json"], default=None,
                        help="how (b) reads the file: lib.dataset.parse (default when it exists) or json.loads")
    parser.add_argument("--memory", action="store_true", help="also measure peak Python memory of (b)")
    args = parser.parse_args(argv)

    from lib import pricing, tokens

    if args.parser is None:
        args.parser = "dataset" if importlib.util.find_spec("lib.dataset") is not None else "json"
    encoding_name = tokens.encoding_name_for_model(args.model)
    encoding = tokens.get_encoding(encoding_name)  # loaded outside the timings, for both
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    with tempfile.TemporaryDirectory(prefix="fts-bench-") as tmp:
        path = Path(tmp) / "train.jsonl"
        start = time.perf_counter()
        size = write_dataset(path, args.examples)
        print(f"dataset: {args.examples:,} examples, {size / 1e6:.1f} MB, written in "
              f"{time.perf_counter() - start:.1f}s; encoding {encoding_name}; {cores} cores; "
              f"load average {load:.2f}")
        path.read_bytes()  # both runs start with the file in the page cache

        t_cookbook = t_count = t_full = float("inf")
        timings: dict = {}
        book: dict = {}
        for _ in range(max(1, args.repeat)):
            gc.collect()
            start = time.perf_counter()
            split: dict = {}
            reference = cookbook(path, encoding, split)
            elapsed = time.perf_counter() - start
            if elapsed < t_cookbook:
                t_cookbook, book = elapsed, split
            del reference
            tokens.clear_cache()  # cold: nothing counted before
            gc.collect()
            start = time.perf_counter()
            counts, run = ours(path, args.model, validate=not args.skip_validation, parser=args.parser)
            elapsed = time.perf_counter() - start
            if elapsed < t_full:
                t_full, timings = elapsed, run
                t_count = run["parse"] + run["estimate"]
        reference = cookbook(path, encoding)

        print(f"(a) Cookbook loop (json.loads {book['parse']:.2f}s + num_tokens_from_messages "
              f"{book['count']:.2f}s): {t_cookbook:.2f}s")
        parts = ", ".join(f"{k} {timings[k]:.2f}s" for k in ("parse", "estimate", "validate") if k in timings)
        print(f"(b) ours ({timings['parser']}; {parts}): {t_full:.2f}s")
        est = timings["result"]
        print(f"    {est.examples:,} examples, {sum(est.tokens):,} tokens, {est.epochs} epoch(s), "
              f"{est.trained_tokens:,} trained tokens, ${est.cost_usd:,.2f} on {est.model} "
              f"(prices {pricing.PRICE_DATE})")

        if args.memory:
            print("    " + memory_report(path, args.model, args.parser, tokens))

    ratio = t_full / t_cookbook
    print(f"ratio counting only, estimate / num_tokens_from_messages loop: {timings['estimate'] / book['count']:.2f}")
    print(f"ratio parse + estimate / Cookbook: {t_count / t_cookbook:.2f}")
    print(f"ratio ours (b) / Cookbook: {ratio:.2f} (target <= {args.target})")
    same = counts == reference
    print(f"per-example counts identical: {same}")
    if not same:
        bad = next((i for i, (a, b) in enumerate(zip(counts, reference, strict=False)) if a != b), len(counts))
        print(f"first difference at example {bad + 1}", file=sys.stderr)
        return 1
    return 0 if ratio <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
