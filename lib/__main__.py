"""`python -m lib <command>`: the command line over the same lib/ code the pages use.

Each command lives in `lib/commands/<name>.py` and is imported only when asked for,
so `python -m lib limerick` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, str] = {
    "check": "Validate a dataset file as OpenAI does; with --model, count tokens and price it.",
    "limerick": "Check the form of a limerick (lines, AABBA rhyme, syllables).",
    "facts": "Check an answer's claims about an element against element data.",
    "engine": "Start the local OpenAI-compatible fine-tuning engine.",
    "train": "Upload a dataset, launch a fine-tuning job and optionally wait for it.",
    "compare": "Run prompts through several models and write a report.",
    "generate": "Draft new rows from a dataset's seeds with a chat model; only rows that pass every check count.",
    "bring-home": "List hosted fine-tunes by shutdown date, or retrain one on the local engine.",
    "sweep": "Train one dataset with several settings, score each model on held-out prompts, rank them.",
    "score": "Score a model (or a job's model and checkpoints) on held-out prompts: limerick form and facts.",
    "export": "Download a fine-tuned model: LoRA adapter, merged Hugging Face folder, GGUF or Ollama.",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m lib", description="Fine-Tune Studio command line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    modules = {}
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:
            modules[name] = importlib.import_module(f"lib.commands.{name.replace('-', '_')}")
            modules[name].add_arguments(command_parser)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(modules[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
