"""`python -m lib generate`: draft new rows from a dataset's seeds with a chat model, each checked before it counts.

    python -m lib generate sample_data/elements_limericks.jsonl --count 5 --provider local \\
        --model HuggingFaceTB/SmolLM2-135M-Instruct --out more.jsonl

The same `lib.dataprep.generate` functions the Dataset page's Generate panel calls. Prints each draft with its
verdict (or, with --json, every draft and its checks), and writes the rows that pass every check to
--out as plain OpenAI JSONL (all drafts with --keep-failing). Keys come from the usual environment
variables (OPENAI_API_KEY, AZURE_OPENAI_API_KEY / AZURE_OPENAI_ENDPOINT, FTS_ENGINE_URL / FTS_ENGINE_KEY).
Exit 0 when the run finished; otherwise one plain line on stderr and a non-zero exit, with the drafts
that arrived before the fault still written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lib.commands.common import PROVIDERS, CommandError, load_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DATASET", help="The seed dataset: JSONL, CSV or XLSX.")
    parser.add_argument("--count", type=int, required=True, metavar="N", help="How many rows to draft.")
    about = parser.add_mutually_exclusive_group()
    about.add_argument("--about", metavar="Li,Be,…",
                       help="Elements or topics, comma-separated (default: elements no row covers yet).")
    about.add_argument("--about-file", metavar="F", help="Elements, topics or questions, one a line.")
    parser.add_argument("--order", choices=("number", "random"), default="number",
                        help="Uncovered elements in atomic-number order (default) or at random.")
    parser.add_argument("--seed", type=int, help="Seed for --order random.")
    parser.add_argument("--provider", choices=PROVIDERS, default=None,
                        help="Who writes (default: openai when OPENAI_API_KEY is set, azure when AZURE_OPENAI_* is "
                        "set, else local).")
    parser.add_argument("--base-url", metavar="URL", help="Server address for --provider url or local; the endpoint "
                        "for --provider azure.")
    parser.add_argument("--model", help="The writer (default: gpt-4.1-mini on OpenAI, SmolLM2 on the local engine; "
                        "on Azure, the deployment name).")
    parser.add_argument("--instruction", help="What the writer is told (default: a five-line AABBA limerick with "
                        "true facts).")
    parser.add_argument("--rows-per-call", type=int, metavar="N",
                        help="Rows asked for in one call (default: 1 on the local engine, 5 elsewhere).")
    parser.add_argument("--max-tokens", type=int, default=120, metavar="N", help="Most tokens per row (120).")
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--out", metavar="FILE", help="Write the passing rows here as JSONL.")
    parser.add_argument("--keep-failing", action="store_true", help="Write every draft to --out, failing ones too.")
    parser.add_argument("--json", action="store_true", help="Print the estimate, every draft and its checks as JSON.")


def _questions(args: argparse.Namespace, examples: list[Any]) -> list[str]:
    from lib.dataprep import generate

    topics = None
    if args.about:
        topics = generate.parse_topics(args.about)
    elif args.about_file:
        path = Path(args.about_file)
        if not path.is_file():
            raise CommandError(f"No such file: {args.about_file}")
        topics = generate.parse_topics(path.read_text(encoding="utf-8"))
        if not topics:
            raise CommandError(f"{path.name} names no topic: write one element or question a line.")
    try:
        return generate.plan(examples, args.count, about=topics, order=args.order, seed=args.seed)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _run(args: argparse.Namespace) -> int:
    from lib.dataprep import dataset, generate
    from lib.services import errors, providers

    path = Path(args.dataset)
    data = load_dataset(path)
    if data.format != "chat":
        raise CommandError(f"{path.name} holds preference pairs: generating rows works on chat datasets only.")
    kind = args.provider or providers.default_config().kind
    overrides: dict[str, Any] = {}
    if args.base_url:
        overrides["azure_endpoint" if kind == "azure" else "base_url"] = args.base_url
    config = providers.config_from_env(kind, **overrides)
    model, note = generate.default_writer(kind)
    model = args.model or model
    if not model:
        raise CommandError(f"Name the writer with --model: {note}")
    try:
        settings = generate.Settings(
            model=model, provider=kind, instruction=args.instruction or generate.DEFAULT_INSTRUCTION,
            rows_per_call=args.rows_per_call or generate.default_rows_per_call(kind),
            temperature=args.temperature, max_tokens=args.max_tokens,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    questions = _questions(args, data.examples)
    if not questions:
        raise CommandError("Nothing to write about: every element is covered. Name topics with --about.")
    from lib.dataprep.workspace import Workspace

    workspace = Workspace()
    guess = generate.estimate(settings, questions, data.examples, data.system_prompt, workspace=workspace)
    if not args.json:
        print(f"Estimate: {guess.summary()}", flush=True)
        if note:
            print(note, flush=True)
    try:
        client = providers.make_client(config)
    except Exception as exc:
        raise CommandError(errors.translate(exc).message) from exc
    run = generate.Run(client, settings, questions, data, workspace=workspace)
    drafts = []
    for draft in run:
        drafts.append(draft)
        if not args.json:
            mark = "PASS" if draft.passed else "FAIL"
            print(f"{mark}  {draft.question}: {draft.verdict()}", flush=True)
            print(f"      {draft.answer or '(no answer)'}", flush=True)
    if args.out:
        kept = drafts if args.keep_failing else [d for d in drafts if d.passed]
        Path(args.out).write_text(dataset.to_jsonl([d.example for d in kept]), encoding="utf-8")
    passed = sum(d.passed for d in drafts)
    took = {"calls": run.calls, "prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens,
            "seconds": round(run.seconds, 1)}
    if args.json:
        print(json.dumps({"estimate": guess.to_dict(), "took": took, "passed": passed,
                          "drafts": [d.to_dict() for d in drafts],
                          "error": run.error.message if run.error else None}, ensure_ascii=False, indent=1))
    else:
        where = f"; wrote {len(kept)} to {args.out}" if args.out else ""
        print(f"{passed} of {len(drafts)} drafts pass every check{where}. Took {run.calls} call"
              f"{'s' * (run.calls != 1)}, {run.completion_tokens:,} tokens out, {run.seconds:.0f} s.", flush=True)
    if run.error is not None:
        raise CommandError(run.error.message)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except CommandError as exc:
        print(" ".join(str(exc).split()), file=sys.stderr)
        return 1
