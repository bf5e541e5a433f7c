"""`python -m lib train`: check a dataset, upload it, launch a fine-tuning job and (with --wait) follow it.

    python -m lib train sample_data/training-data.jsonl --provider local --model tiny-random-llama --wait

The same public functions the Train page calls (`providers.make_client`, `jobs.launch`,
`job_monitor.JobMonitor`). Keys come from the usual environment variables: OPENAI_API_KEY (openai, url),
AZURE_OPENAI_API_KEY / AZURE_OPENAI_ENDPOINT / OPENAI_API_VERSION (azure), FTS_ENGINE_URL /
FTS_ENGINE_KEY (local). Exit 0 when the job was launched (or, with --wait, succeeded); otherwise
one plain line on stderr and a non-zero exit. Never a traceback, never a key.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from lib.checks import facts_card
from lib.commands.common import CommandError, load_dataset
from lib.dataprep import check as dataset_check
from lib.dataprep import dataset

PROVIDERS = ("local", "openai", "azure", "url", "together")
_sleep = time.sleep  # between polls (tests replace it)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="The dataset: JSONL (chat, legacy prompt/completion or DPO), CSV or XLSX.")
    parser.add_argument(
        "--provider", choices=PROVIDERS, default=None,
        help="Where to train (default: openai when OPENAI_API_KEY is set, azure when AZURE_OPENAI_* is set, else local).",
    )
    parser.add_argument(
        "--base-url", metavar="URL",
        help="Server address for --provider url (required) or local (default: the engine at http://127.0.0.1:8765, "
        "started when none answers; or FTS_ENGINE_URL); the endpoint for --provider azure.",
    )
    parser.add_argument("--model", required=True, help="The base model to fine-tune, e.g. gpt-4.1-mini-2025-04-14.")
    parser.add_argument("--epochs", type=int, metavar="N", help="Epochs, 1 to 50 (default: OpenAI's rule; on the local "
                        "engine the studio's measured recipe, README 'The default recipe').")
    parser.add_argument("--batch-size", type=int, metavar="N", help="Batch size, 1 to 256 (default: auto).")
    parser.add_argument("--learning-rate-multiplier", type=float, metavar="X", help="Above 0 (default: auto; 3 on the local engine).")
    parser.add_argument("--suffix", metavar="S", help="Up to 64 characters added to the fine-tuned model's name.")
    parser.add_argument("--seed", type=int, help="Seed for a reproducible job.")
    parser.add_argument("--validation", metavar="FILE", help="Validation examples (else the dataset's validation split).")
    parser.add_argument("--wait", action="store_true", help="Follow the job, printing progress, until it ends.")
    parser.add_argument("--facts-card", action=argparse.BooleanOptionalAction, default=None,
                        help="Give each row its element's facts in the system message, and the model's questions later "
                        "(default: on when the questions name elements, as on the Train page).")



def _check(data: Any, name: str, model: str) -> None:
    """Refuse to upload a dataset with errors, naming the first one (the pages' "ready to train" rule)."""
    errors = dataset_check.check(data, file_lines=True).blockers
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise CommandError(
            f"{name} is not ready to upload: {first.message}{more} Fix it and run again "
            f"(`python -m lib check {name}` lists every problem)."
        )


def _jsonl(examples: list[Any]) -> str:
    return dataset.to_jsonl(examples)


def _config(args: argparse.Namespace) -> Any:
    from lib.services import providers

    kind = args.provider or providers.default_config().kind
    overrides: dict[str, Any] = {}
    if args.base_url:
        overrides["azure_endpoint" if kind == "azure" else "base_url"] = args.base_url
    return providers.config_from_env(kind, **overrides)


def _say(text: str) -> None:
    print(text, flush=True)


def _launch_progress(fraction: float, text: str) -> None:
    """One line per stage of the launch; the byte counts of an upload are for progress bars."""
    if " of " not in text:
        _say(text)


def _follow(client: Any, job: Any, kind: str) -> int:
    from lib.services import job_monitor

    monitor = job_monitor.JobMonitor(client, job.id, provider=kind)
    status = None
    warned = None
    while True:
        state = monitor.poll()
        if state.status != status:
            status = state.status
            _say(f"Status: {status.replace('_', ' ')}")
        for event in state.new_events:
            _say(event["message"])
        if state.warning and state.warning != warned and not state.done:
            _say(f"(still trying: {state.warning})")
        warned = state.warning
        if state.done:
            break
        _sleep(state.next_poll_in or 1.0)
    if state.status == "succeeded":
        _say(f"Fine-tuned model: {state.fine_tuned_model}")
        if state.trained_tokens is not None:
            cost = "" if state.cost is None else f", cost ${state.cost:,.2f}"
            _say(f"Trained tokens: {state.trained_tokens:,}{cost}")
        return 0
    if state.status == "failed":
        raise CommandError((state.error or {}).get("message") or "The fine-tuning job failed.")
    raise CommandError(f"The job {state.job_id} ended {state.status.replace('_', ' ')}.")


def _main(args: argparse.Namespace) -> int:
    from lib.services import jobs, providers, recipe

    data = load_dataset(args.file)
    name = Path(args.file).name
    _check(data, name, args.model)
    training = data.train_examples()
    held_out = data.validation_examples()
    if args.validation:
        extra = load_dataset(args.validation)
        _check(extra, Path(args.validation).name, args.model)
        held_out = list(extra.examples)
    if not training:
        raise CommandError(f"{name} has no training examples.")
    card = facts_card.applies(training) if args.facts_card is None else args.facts_card
    if card:
        training, held_out = facts_card.add_to_rows(training), facts_card.add_to_rows(held_out)
    config = _config(args)
    client = providers.make_client(config)
    handle = providers.local_engine_handle() if config.kind == "local" and not config.base_url else None
    started_here = bool(getattr(handle, "started", False))
    wait = args.wait or started_here
    if started_here and not args.wait:
        _say("The local engine was started for this command, so it waits for the job (it stops when this ends).")
    try:
        dpo = getattr(data, "format", "chat") == "dpo"
        measured = recipe.applies(config.kind, "dpo" if dpo else "supervised")  # "automatic": the measured recipe
        n_epochs, rate = ((args.epochs if args.epochs is not None else "auto"),
                          (args.learning_rate_multiplier if args.learning_rate_multiplier is not None else "auto"))
        if measured:
            n_epochs, rate = recipe.resolve(n_epochs, rate, len(training))
        if measured and (args.epochs is None or args.learning_rate_multiplier is None):
            _say(recipe.describe(len(training)))
        _say(f"Training on {config.describe()} with {len(training)} examples"
             + (f" and {len(held_out)} validation examples" if held_out else "")
             + (", each with its element's facts card" if card else "") + ".")
        stem = Path(name).stem
        job = jobs.launch(
            client,
            _jsonl(training),
            model=args.model,
            validation_jsonl_bytes=_jsonl(held_out) if held_out else None,
            filename=f"{stem}.jsonl",
            progress=_launch_progress,
            method="dpo" if dpo else "supervised",
            n_epochs=n_epochs,
            batch_size=args.batch_size if args.batch_size is not None else "auto",
            learning_rate_multiplier=rate,
            suffix=args.suffix,
            seed=args.seed,
            metadata={facts_card.METADATA_KEY: "on"} if card else None,
        )
        if not wait:
            _say(f"Job {job.id} is {job.status.replace('_', ' ')}. Follow it on the Train page, or run again with --wait.")
            return 0
        return _follow(client, job, config.kind)
    finally:
        if started_here and handle is not None:
            handle.stop()


def run(args: argparse.Namespace) -> int:
    from lib.services import errors

    try:
        return _main(args)
    except KeyboardInterrupt:
        print("train: stopped following; a job already launched goes on (see the Train page).", file=sys.stderr)
        return 130
    except (CommandError, errors.StudioError) as exc:
        message = str(exc)
    except ValueError as exc:  # settings the provider config refused
        message = str(exc)
    except OSError as exc:
        message = f"could not read a file: {exc.strerror or exc}"
    except Exception as exc:  # never a traceback
        message = f"unexpected error ({type(exc).__name__}: {exc})"
    print(f"train: {' '.join(errors.scrub(message).split())}", file=sys.stderr)
    return 1
