"""Token counting at scale: our path against the Cookbook's plain loop, measured in the same run.

    python benchmarks/check_speed.py                  # 100,000 examples (~100 MB), the full check
    python benchmarks/check_speed.py --examples 20000 # quicker

It writes a chat JSONL of seed-style examples (the limerick bot's system prompt, questions about
elements, limericks and explanations of varied length, some multi-turn) into a temporary folder, then
times:

  (a) the Cookbook (openai-cookbook examples/Chat_finetuning_data_prep.ipynb): `json.loads` per line,
      then `num_tokens_from_messages` for every example, with the same encoding as (b);
  (b) ours: `lib.dataprep.readers.parse` (plain `json.loads` per line while that module does not exist),
      `lib.services.pricing.estimate` and, when `lib.dataprep.validation` exists, `lib.dataprep.validation.validate`;

  (c) `python -m lib check FILE --model MODEL --json` as a user runs it: both splits, privacy and
      near-duplicates included;

prints the times and the ratios, and asserts that the per-example token counts are identical. Then the
Dataset page under Streamlit's AppTest with 10,000 rows: the time of one table edit (the whole rerun),
and of the shared check alone (`lib.dataprep.check`). Targets on 2 cores: (b) ≤ 0.5 × and (c) ≤ 1.0 × the
Cookbook loop, an edit ≤ 0.5 s. Exits 1 when counts differ or a target is missed. Beside each wall-clock
figure of (c) and of the edit it prints this process's CPU seconds and the load average: on a shared
machine other work stretches the wall clock, not the CPU seconds.
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
    from lib.services import pricing

    data = data_path.read_bytes()
    timings: dict = {}
    start = time.perf_counter()
    if parser == "dataset":
        from lib.dataprep import readers

        examples = readers.parse(data, data_path.name).train_examples()
        timings["parser"] = "lib.dataprep.readers.parse"
    else:
        examples = [json.loads(line) for line in data.splitlines() if line.strip()]
        timings["parser"] = "json.loads per line"
    timings["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    estimate = pricing.estimate(examples, model)
    timings["estimate"] = time.perf_counter() - start
    if validate and importlib.util.find_spec("lib.dataprep.validation") is not None:
        from lib.dataprep import validation

        start = time.perf_counter()
        validation.validate(examples, format="chat", token_counts=estimate.tokens,
                            token_limit=estimate.token_limit, model=model)
        timings["validate"] = time.perf_counter() - start
    timings["result"] = estimate
    return estimate.tokens, timings


def cli_check(data_path: Path, model: str) -> tuple[list[int], float, dict]:
    """`python -m lib check FILE --model MODEL --json`, in this process: (per-example tokens, seconds, result).

    The whole command as a user runs it: read the file, count tokens, validate both splits, privacy,
    near-duplicates, print the JSON (captured here, then read back for the counts)."""
    import contextlib
    import io

    from lib.commands import check

    out = io.StringIO()
    args = argparse.Namespace(file=str(data_path), model=model, epochs="auto", json=True)
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        status = check.run(args)
    elapsed = time.perf_counter() - start
    result = json.loads(out.getvalue())
    result["exit_status"] = status
    return result["tokens"], elapsed, result


def memory_report(path: Path, model: str, parser: str, tokens) -> str:
    """Peak Python memory of parsing, then the extra peak of estimating on top of the parsed data."""
    from lib.services import pricing

    tokens.clear_cache()
    gc.collect()
    tracemalloc.start()
    data = path.read_bytes()
    if parser == "dataset":
        from lib.dataprep import readers

        examples = readers.parse(data, path.name).train_examples()
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


def page_edit(n: int, edits: int = 3) -> tuple[float, float, list[float], list[float]]:
    """The Dataset page under Streamlit's AppTest with `n` rows: (first open, best edit, every edit, every
    edit's CPU seconds of this process), in seconds. On a shared machine the CPU seconds say what the
    edit costs when the wall-clock figure is stretched by other work.

    An edit is what the table editor sends when one answer is changed; the timed run is the whole page
    run that follows (save, check, table, quality tab), exactly what a user waits for."""
    import os as _os

    from streamlit.testing.v1 import AppTest

    from lib.dataprep import dataset as ds
    from lib.dataprep.workspace import Workspace

    previous = _os.environ.get("FTS_HOME")
    with tempfile.TemporaryDirectory(prefix="fts-bench-home-") as home:
        _os.environ["FTS_HOME"] = home
        rng = random.Random(1)
        examples = [make_example(rng) for _ in range(n)]
        split = ["validation" if i % 10 == 9 else "train" for i in range(n)]
        Workspace().save(ds.Dataset(name="bench", examples=examples, split=split))
        Workspace().set_current("bench")
        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=900)
        at.run()
        start = time.perf_counter()
        at.switch_page("views/dataset.py").run()
        first = time.perf_counter() - start
        assert not at.exception, [e.value for e in at.exception]
        times, cpu = [], []
        for k in range(edits):
            key = next(key for key in at.session_state._state._state.filtered_state
                       if key.startswith("dataset_table_"))
            row = (k * 3_331) % n
            at.session_state[key] = {"edited_rows": {row: {"assistant": f"An edited answer number {k}, row {row}."}},
                                     "added_rows": [], "deleted_rows": []}
            start, start_cpu = time.perf_counter(), time.process_time()
            at.run()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            assert not at.exception, [e.value for e in at.exception]
        saved = Workspace().load("bench").examples
        assert saved[(edits - 1) * 3_331 % n]["messages"][-1]["content"].startswith("An edited answer"), "edit lost"
    if previous is None:
        _os.environ.pop("FTS_HOME", None)
    else:
        _os.environ["FTS_HOME"] = previous
    return first, min(times), times, cpu


def check_edit(n: int) -> tuple[float, float]:
    """The shared check alone (`DatasetChecker.check`, limerick and facts included) on `n` rows: first
    check, then the best of three one-row edits, in seconds."""
    import copy
    import dataclasses

    from lib.dataprep import check as dataset_check
    from lib.dataprep import dataset as ds

    rng = random.Random(1)
    data = ds.Dataset(name="bench", examples=[make_example(rng) for _ in range(n)],
                      split=["validation" if i % 10 == 9 else "train" for i in range(n)])
    checker = dataset_check.DatasetChecker()
    start = time.perf_counter()
    checker.check(data)
    first = time.perf_counter() - start
    best = float("inf")
    for k in range(3):
        examples = list(data.examples)
        examples[k * 3_331 % n] = copy.deepcopy(examples[k * 3_331 % n])
        examples[k * 3_331 % n]["messages"][-1]["content"] = f"An edited answer number {k}."
        data = dataclasses.replace(data, examples=examples)
        start = time.perf_counter()
        checker.check(data)
        best = min(best, time.perf_counter() - start)
    return first, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="examples to generate (default 100,000)")
    parser.add_argument("--model", default="gpt-4.1-mini", help="model whose encoding and price are used")
    parser.add_argument("--target", type=float, default=0.5, help="largest acceptable ours/Cookbook ratio")
    parser.add_argument("--repeat", type=int, default=1, help="run both N times, alternating; keep the best")
    parser.add_argument("--skip-validation", action="store_true", help="time parse + estimate only")
    parser.add_argument("--parser", choices=["dataset", "json"], default=None,
                        help="how (b) reads the file: lib.dataprep.readers.parse (default when it exists) or json.loads")
    parser.add_argument("--memory", action="store_true", help="also measure peak Python memory of (b)")
    parser.add_argument("--cli-target", type=float, default=1.0,
                        help="largest acceptable `python -m lib check` / Cookbook ratio (default 1.0)")
    parser.add_argument("--edit-rows", type=int, default=10_000,
                        help="rows of the Dataset page edit measured under AppTest (default 10,000; 0 skips it)")
    parser.add_argument("--edit-target", type=float, default=0.5, help="largest acceptable edit time, seconds")
    args = parser.parse_args(argv)

    from lib.dataprep import tokens
    from lib.services import pricing

    if args.parser is None:
        args.parser = "dataset" if importlib.util.find_spec("lib.dataprep.readers") is not None else "json"
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

        t_cookbook = t_count = t_full = cpu_cookbook = float("inf")
        timings: dict = {}
        book: dict = {}
        for _ in range(max(1, args.repeat)):
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            split: dict = {}
            reference = cookbook(path, encoding, split)
            elapsed = time.perf_counter() - start
            cpu_cookbook = min(cpu_cookbook, time.process_time() - start_cpu)
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

        tokens.clear_cache()
        gc.collect()
        start_cpu = time.process_time()
        cli_counts, t_cli, result = cli_check(path, args.model)
        cpu_cli = time.process_time() - start_cpu
        problems: dict[str, int] = {}
        for problem in result["problems"]:
            problems[problem["code"]] = problems.get(problem["code"], 0) + 1
        print(f"(c) python -m lib check FILE --model {args.model} --json (parse, tokens, both splits, privacy, "
              f"near-duplicates, output): {t_cli:.2f}s; exit status {result['exit_status']}; problems {problems}")

    ratio = t_full / t_cookbook
    print(f"ratio counting only, estimate / num_tokens_from_messages loop: {timings['estimate'] / book['count']:.2f}")
    print(f"ratio parse + estimate / Cookbook: {t_count / t_cookbook:.2f}")
    print(f"ratio ours (b) / Cookbook: {ratio:.2f} (target <= {args.target})")
    cli_ratio = t_cli / t_cookbook
    print(f"ratio python -m lib check (c) / Cookbook: {cli_ratio:.2f} (target <= {args.cli_target}); in CPU seconds "
          f"of this process {cpu_cli:.2f}s / {cpu_cookbook:.2f}s = {cpu_cli / cpu_cookbook:.2f} (what the ratio is "
          "when other work on the machine slows one of the two more)")
    same = counts == reference and cli_counts == reference
    print(f"per-example counts identical: {same}")
    edit_ok = True
    if args.edit_rows:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        first, best, times, cpu = page_edit(args.edit_rows)
        print(f"Dataset page under AppTest, {args.edit_rows:,} rows: first open {first:.2f}s; an edit "
              f"{best:.2f}s (runs: {', '.join(f'{t:.2f}' for t in times)}; CPU "
              f"{', '.join(f'{t:.2f}' for t in cpu)}; target <= {args.edit_target}s; load average {load:.2f} "
              f"before, {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.2f} after)")
        if importlib.util.find_spec("lib.dataprep.check") is not None:  # absent before issue 15 (a "before" run)
            checker_first, checker_edit = check_edit(args.edit_rows)
            print(f"    of which the shared check (lib.dataprep.check, what every page calls): first "
                  f"{checker_first:.2f}s, an edit {checker_edit:.3f}s")
        edit_ok = best <= args.edit_target
    if not same:
        bad = next((i for i, (a, b) in enumerate(zip(counts, reference, strict=False)) if a != b), len(counts))
        print(f"first difference at example {bad + 1}", file=sys.stderr)
        return 1
    return 0 if ratio <= args.target and cli_ratio <= args.cli_target and edit_ok else 1


if __name__ == "__main__":
    sys.exit(main())
