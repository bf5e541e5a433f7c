"""`python -m lib sweep`: train one dataset with several settings, score each model, rank them.

    python -m lib sweep sample_data/elements_limericks.jsonl --model HuggingFaceTB/SmolLM2-135M-Instruct \\
        --epochs 3,6 --lr 1,2 --adapters 8,full --wait

Prints what the grid will take first (time on the local engine, dollars elsewhere). Runs are ordinary
jobs; with --wait each is scored on held-out prompts as it succeeds and the table is ranked by score.
Never a traceback: one plain line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lib.checks import facts_card
from lib.commands.common import (
    CommandError,
    add_provider_arguments,
    load_dataset,
    provider_config,
    run_guarded,
)


def _values(text: str | None) -> list[str]:
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="DATASET", help="The dataset (JSONL, CSV or XLSX).")
    parser.add_argument("--model", required=True, help="The base model to fine-tune.")
    parser.add_argument("--epochs", default="auto",
                        help="Comma-separated epochs to try, e.g. 3,6 (default auto: on the local engine the "
                             "studio's measured recipe, as for train).")
    parser.add_argument("--lr", default="auto",
                        help="Comma-separated learning-rate multipliers, e.g. 1,2 (auto: on the local engine the recipe's ×3).")
    parser.add_argument("--adapters", default="",
                        help="Local engine: comma-separated adapter ranks and/or 'full' (train every weight), e.g. 8,16,full.")
    parser.add_argument("--prompts", metavar="FILE", help="Held-out prompts (default: elements the dataset does not cover).")
    add_provider_arguments(parser)
    parser.add_argument("--wait", action="store_true", help="Follow the runs, score each, print the ranked table.")
    parser.add_argument("--facts-card", action=argparse.BooleanOptionalAction, default=None,
                        help="Give each row and question its element's facts (default: on when the questions name "
                        "elements, as on the Train page).")
    parser.add_argument("--json", action="store_true", help="Print the sweep as JSON.")


def run(args: argparse.Namespace) -> int:
    return run_guarded("sweep", _run, args)


def _run(args: argparse.Namespace) -> int:
    from lib.evaluation import prompt_sets, sweep
    from lib.services.providers import make_client

    adapters = _values(args.adapters) or [None]
    if any(a is not None for a in adapters) and args.provider != "local":
        raise CommandError("--adapters applies to the local engine only.")
    settings = sweep.grid(_values(args.epochs) or ["auto"], _values(args.lr) or ["auto"], adapters)
    data = load_dataset(args.file)
    prompts = None
    if args.prompts:
        if not Path(args.prompts).is_file():
            raise CommandError(f"No such prompt file: {args.prompts}")
        prompts = prompt_sets.load_prompts(Path(args.prompts))
    config = provider_config(args)
    settings = sweep.with_recipe(settings, config.kind, len(data.train_examples()))  # auto: as `train` reads it
    client = make_client(config)
    planned = sweep.plan(config, data, args.model, settings, client=client)
    total = (f"about {planned.total_seconds / 60:.0f} min on the engine" if planned.total_seconds is not None
             else f"${planned.total_dollars:,.2f}" if planned.total_dollars else "unknown")
    print(f"{len(settings)} runs, {total} in all.", file=sys.stderr)
    card = facts_card.applies(data.train_examples()) if args.facts_card is None else args.facts_card
    result = sweep.start(client, data, args.model, settings, provider=config.kind, prompts=prompts,
                         with_facts_card=card)
    store = sweep.SweepStore()
    store.save(result)
    if args.wait:
        sweep.wait(result, config, on_change=store.save)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"Sweep {result.id}:")
        for rank, run_ in enumerate(result.ranked(), 1):
            score = run_.score.headline() if run_.score else run_.error or run_.status
            print(f"{rank:>2}. {run_.setting.label():<45} {score}")
        if result.base:
            print(f"    {'base model':<45} {result.base.headline()}")
    failed = [r for r in result.runs if r.status == "failed"]
    if failed and len(failed) == len(result.runs):
        raise CommandError(f"every run failed: {failed[0].error or 'see the Train page'}")
    return 0
