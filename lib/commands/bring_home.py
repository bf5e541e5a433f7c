"""`python -m lib bring-home`: list a hosted account's fine-tunes by shutdown date, or bring one home.

    python -m lib bring-home                         # OpenAI (OPENAI_API_KEY): jobs, nearest shutdown first
    python -m lib bring-home ftjob-abc --model tiny-random-llama --wait
    python -m lib bring-home ftjob-abc --from-file training.jsonl   # its file was deleted: use the copy on disk

The same functions the Train page's "Bring a fine-tune home" panel calls (`lib.services.bring_home`). The local
engine is reached as `--provider local` is in `python -m lib train` (FTS_ENGINE_URL / FTS_ENGINE_KEY).
One plain line on stderr and a non-zero exit on failure; never a traceback, never a key.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lib.services import bring_home, errors, job_monitor, pricing, providers

SOURCES = ("openai", "azure", "url")
_sleep = time.sleep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", nargs="?", metavar="JOB", help="The hosted job to bring home (omit to list them).")
    parser.add_argument("--from", dest="source", choices=SOURCES, default="openai",
                        help="Where the fine-tune lives (keys from OPENAI_API_KEY, AZURE_OPENAI_*, OPENAI_BASE_URL).")
    parser.add_argument("--base-url", metavar="URL", help="The hosted server's address (for --from url).")
    parser.add_argument("--model", default=pricing.LOCAL_DEFAULT_MODEL, help="The local engine's model to train.")
    parser.add_argument("--from-file", metavar="FILE", help="Use this training file instead of downloading it.")
    parser.add_argument("--wait", action="store_true", help="Follow the local job until it ends.")


def run(args: argparse.Namespace) -> int:
    try:
        source = providers.make_client(providers.config_from_env(args.source, base_url=args.base_url))
        if not args.job:
            for hosted in bring_home.list_hosted(source):
                print(f"{hosted.job_id}\t{hosted.status}\t{hosted.label}\t{hosted.notice or 'no shutdown announced'}")
            return 0
        training = Path(args.from_file).read_bytes() if args.from_file else None
        local = providers.make_client(providers.config_from_env("local"))
        result = bring_home.bring_home(source, args.job, local, local_model=args.model, training=training)
        print(f"Dataset: {result.dataset_name} (version {result.version})")
        print("Recipe on the local engine:")
        print(result.recipe.explain())
        print(f"Local job: {result.local_job_id}")
        if not args.wait:
            return 0
        monitor = job_monitor.JobMonitor(local, result.local_job_id, provider="local")
        state = monitor.poll()
        while not state.terminal:
            _sleep(2)
            state = monitor.poll()
        print(f"Status: {state.status}")
        if state.fine_tuned_model:
            print(f"Fine-tuned model: {state.fine_tuned_model}")
        return 0 if state.status == "succeeded" else 1
    except errors.StudioError as exc:
        print(f"bring-home: {exc.message}", file=sys.stderr)
    except OSError as exc:
        print(f"bring-home: could not read {args.from_file}: {exc.strerror or exc}.", file=sys.stderr)
    except ValueError as exc:  # a file that is not a dataset (lib.dataprep.dataset.ParseError names the line)
        print(f"bring-home: {exc}", file=sys.stderr)
    return 1
