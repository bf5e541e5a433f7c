"""`python -m lib score`: ask a model held-out prompts and count clean limericks, right and wrong facts.

    python -m lib score ftjob-abc123 --provider local          # a job: its model, checkpoints and base model
    python -m lib score tiny-random-llama --prompts sample_data/held_out_prompts.jsonl --json

A job id scores the job's fine-tuned model, each checkpoint and the base model, and keeps the scores
with the job (the Train page and the report show them). A model id scores that model alone.
Never a traceback: one plain line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lib.checks import facts_card
from lib.commands.common import (
    CommandError,
    add_provider_arguments,
    load_dataset,
    progress_line,
    provider_config,
    run_guarded,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="A model id, or a fine-tuning job id (ftjob-…).")
    parser.add_argument("--prompts", metavar="FILE",
                        help="Held-out prompts: JSONL with \"prompt\", chat JSONL, or one prompt a line "
                        "(default: questions about elements the sample dataset does not cover).")
    parser.add_argument("--dataset", metavar="FILE",
                        help="Without --prompts: ask about the elements this dataset does not cover "
                        "(or its validation split).")
    parser.add_argument("--count", type=int, default=20, metavar="N", help="How many default prompts (20).")
    parser.add_argument("--base", action="store_true", help="With a model id: score the base model beside it.")
    add_provider_arguments(parser)
    parser.add_argument("--json", action="store_true", help="Print the scores and every verdict as JSON.")
    parser.add_argument("--facts-card", action=argparse.BooleanOptionalAction, default=None,
                        help="Ask with each element's facts card (default: as the model's job was trained).")


def _prompts(args: argparse.Namespace) -> list[str]:
    from lib.evaluation import prompt_sets, scoring

    if args.count < 1:
        raise CommandError("--count must be at least 1.")
    if args.prompts:
        if not Path(args.prompts).is_file():
            raise CommandError(f"No such prompt file: {args.prompts}")
        return prompt_sets.load_prompts(Path(args.prompts))[: args.count]
    source = Path(args.dataset) if args.dataset else Path(__file__).resolve().parents[2] / "sample_data" / "elements_limericks.jsonl"
    data = load_dataset(source, what="dataset")
    return scoring.held_out_prompts(data, args.count)


def run(args: argparse.Namespace) -> int:
    return run_guarded("score", _run, args)


def _run(args: argparse.Namespace) -> int:
    from lib.evaluation import comparison as playground
    from lib.evaluation import scoring
    from lib.services import jobs
    from lib.services.providers import make_client

    prompts = _prompts(args)
    config = provider_config(args)
    client = make_client(config)
    if args.model.startswith("ftjob-"):
        job = jobs.retrieve(client, args.model)
        if job.status != "succeeded":
            raise CommandError(f"Job {args.model} is {job.status}: only a job that succeeded has a model to score.")
        if args.facts_card is not None:
            job = job.model_copy(update={"metadata": {**(job.metadata or {}),
                                                      facts_card.METADATA_KEY: "on" if args.facts_card else "off"}})
        result = scoring.score_job(config, job, prompts, progress=progress_line)
        scoring.ScoreStore().save(result)
        models = [result.final, *result.checkpoints, *([result.base] if result.base else [])]
        advice = result.advice()
    else:
        card = jobs.trained_with_facts_card(client, args.model) if args.facts_card is None else args.facts_card
        contenders = [playground.Contender(label=args.model, model=args.model, client=client, provider=config,
                                           facts_card=card)]
        if args.base:
            raise CommandError("--base needs a job id (the job knows its base model); give two model ids to "
                               "`python -m lib compare` instead.")
        models = scoring.score_models(contenders, prompts, progress=progress_line)
        advice = None
    if all(m.errors == m.n for m in models):
        first = next(r.error for r in models[0].replies if r.error)
        raise CommandError(f"{models[0].label} answered none of the prompts: {first}")
    if args.json:
        print(json.dumps({"prompts": prompts, "scores": [{**m.to_dict(), "headline": m.headline(),
                                                           "points": round(m.points, 4)} for m in models],
                          "advice": advice}, indent=2, ensure_ascii=False))
    else:
        width = max(len(m.label) for m in models)
        for m in models:
            print(f"{m.label.ljust(width)}  {m.headline()}")
        if advice:
            print()
            print(advice)
    return 0
