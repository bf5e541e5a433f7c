"""`python -m lib export`: download a fine-tuned model to run outside the studio.

    python -m lib export ftjob-abc123 --format ollama --quant q8_0 --out ./models

The engine that holds the weights builds one zip (`lib.services.export`); this command follows its progress
and saves it. Formats: adapter (the LoRA adapter), merged (a Hugging Face folder), gguf (one file
for llama.cpp), ollama (the GGUF plus a Modelfile). Exit 0 with the path written; otherwise one plain
line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROVIDERS = ("local", "url", "openai", "azure")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL_OR_JOB", help="A fine-tuned model or checkpoint id, or a job id.")
    parser.add_argument("--format", choices=("adapter", "merged", "gguf", "ollama"), default="gguf",
                        help="adapter: the LoRA adapter (small set of changed weights); merged: a Hugging Face "
                        "folder; gguf: one file for llama.cpp; ollama: the GGUF plus a Modelfile (default gguf).")
    parser.add_argument("--quant", choices=("f16", "q8_0", "f32"), default="f16",
                        help="Number format of the GGUF weights: f16 (default), q8_0 (8-bit, smaller) or f32.")
    parser.add_argument("--out", metavar="PATH", default=".",
                        help="Where to save the zip: a file name, or a folder (default: the current folder).")
    parser.add_argument("--provider", choices=PROVIDERS, default="local",
                        help="Where the model lives (default: the local engine; FTS_ENGINE_URL/FTS_ENGINE_KEY "
                        "point at another).")
    parser.add_argument("--base-url", metavar="URL", help="The engine's address (default: the local engine).")


def _progress(state) -> None:
    line = f"\r{state.stage or state.status}: {state.progress:.0%}"
    print(f"{line:<60}", end="", file=sys.stderr, flush=True)


def _main(args: argparse.Namespace) -> int:
    from lib.services import export, providers

    overrides = {"azure_endpoint" if args.provider == "azure" else "base_url": args.base_url} if args.base_url else {}
    config = providers.config_from_env(args.provider, **overrides)
    if not export.can_export(config):
        print(f"export: {export.no_weights_message(config)}", file=sys.stderr)
        return 1
    out = Path(args.out)
    if not out.parent.is_dir():
        print(f"export: the folder {out.parent} does not exist.", file=sys.stderr)
        return 1
    started = export.start(config, args.model, args.format, args.quant)
    done = export.wait(config, started.id, on_progress=_progress)
    print(file=sys.stderr)
    path = export.download(config, done, out)
    print(f"Saved {path} ({done.size}): {', '.join(done.files)}")
    return 0


def run(args: argparse.Namespace) -> int:
    from lib.services import errors

    try:
        return _main(args)
    except KeyboardInterrupt:
        print("\nexport: stopped; the engine finishes the export, and running this again downloads it.",
              file=sys.stderr)
        return 130
    except errors.StudioError as exc:
        message = str(exc)
    except (ValueError, OSError) as exc:
        message = str(exc)
    except Exception as exc:  # never a traceback
        message = f"unexpected error ({type(exc).__name__}: {exc})"
    print(f"\nexport: {' '.join(errors.scrub(message).split())}", file=sys.stderr)
    return 1
