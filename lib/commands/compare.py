"""`python -m lib compare`: run a prompt set through several models, print the scores, write a report.

    python -m lib compare --models gpt-4o-mini-2024-07-18 ft:gpt-4o-mini-2024-07-18:org::abc \\
        --prompts sample_data/held_out_prompts.jsonl --provider openai --report report.html

The same public functions the Playground page calls (`comparison.run_batch`, `blind_votes.summary`,
`report.build_report`). Never a traceback: one plain line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lib.commands.common import PROVIDERS, CommandError, run_guarded, with_v1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", required=True, metavar="MODEL",
                        help="Two (or three) model ids to compare, e.g. the base model and its fine-tuned version.")
    parser.add_argument("--prompts", required=True, metavar="FILE",
                        help="Prompt set: JSONL with a \"prompt\" field, chat JSONL (last user message), or one prompt a line.")
    parser.add_argument("--provider", choices=PROVIDERS, default="local",
                        help="Where the models run (default: local, the studio's engine).")
    parser.add_argument("--base-url", help="Server address for --provider url or local (local default: the engine at "
                        "http://127.0.0.1:8765, started when none answers); the endpoint for --provider azure.")
    parser.add_argument("--api-key", help="API key (else OPENAI_API_KEY, AZURE_OPENAI_API_KEY or FTS_ENGINE_KEY).")
    parser.add_argument("--deployments", nargs="+", metavar="MODEL=DEPLOYMENT",
                        help="Azure only: the deployment that serves each model (default: the model id is the "
                        "deployment name).")
    parser.add_argument("--labels", nargs="+", metavar="LABEL", help="Names to show instead of the model ids.")
    parser.add_argument("--system", help="System prompt for every model (default: the dataset's limerick prompt).")
    parser.add_argument("--few-shot", metavar="DATASET",
                        help="Add a contender: the first model with examples from this dataset in its prompt.")
    parser.add_argument("--few-shot-count", type=int, default=3, metavar="N", help="Examples for --few-shot (3).")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--concurrency", type=int, default=4, help="Calls at a time (4).")
    parser.add_argument("--report", metavar="OUT.html", help="Write the stakeholder report (one self-contained HTML file).")
    parser.add_argument("--title", default=None, help="The report's title.")
    parser.add_argument("--json", action="store_true", help="Print the summary and every reply as JSON.")


# --------------------------------------------------------------------------- clients


def _make_client(args: argparse.Namespace) -> tuple[Any, Any]:
    """(provider config, openai client) through lib.services.providers, the same factory the sidebar uses.

    Explicit options win over the environment (OPENAI_API_KEY, AZURE_OPENAI_*, FTS_ENGINE_URL/KEY).
    The local provider without --base-url starts the engine when none answers.
    """
    from lib.services.providers import config_from_env, make_client

    overrides: dict[str, Any] = {"api_key": args.api_key}
    if args.base_url:
        if args.provider == "azure":
            overrides["azure_endpoint"] = args.base_url
        else:
            overrides["base_url"] = with_v1(args.base_url) if args.provider in ("local", "url") else args.base_url
    if args.provider == "azure":
        deployments = {m: m for m in args.models}
        for item in args.deployments or []:
            model, sep, name = item.partition("=")
            if not sep or not model or not name:
                raise CommandError(f"--deployments takes MODEL=DEPLOYMENT, not {item!r}.")
            deployments[model] = name
        overrides["deployments"] = deployments
    config = config_from_env(args.provider, **overrides)
    return config, make_client(config)


# --------------------------------------------------------------------------- contenders


def _few_shot_examples(path: str, k: int) -> list[Any]:
    from lib.dataprep.readers import load_file
    from lib.evaluation.comparison import pick_few_shot

    examples = list(load_file(path).examples)
    picked = pick_few_shot(examples, k)
    if not picked:
        raise CommandError(f"{path} has no example with a user question and an assistant answer for --few-shot.")
    return picked


def _contenders(args: argparse.Namespace, config: Any, client: Any) -> list[Any]:
    from lib.evaluation.comparison import Contender

    models = list(args.models)
    labels = list(args.labels or [])
    if labels and len(labels) != len(models):
        raise CommandError(f"Give as many --labels as --models ({len(models)}).")
    if not labels:
        labels = [m if models.count(m) == 1 else f"{m} ({i + 1})" for i, m in enumerate(models)]
    contenders = [Contender(label=label, model=model, client=client, provider=config)
                  for label, model in zip(labels, models, strict=True)]
    if args.few_shot:
        examples = _few_shot_examples(args.few_shot, args.few_shot_count)
        contenders.append(Contender(label=f"{labels[0]} + {len(examples)} examples", model=models[0], client=client,
                                    provider=config, few_shot=examples, fine_tuned=False))
    if len(contenders) > 3:
        raise CommandError("Compare at most three models at once (with --few-shot, at most two --models).")
    return contenders


# --------------------------------------------------------------------------- output


def _table(summary: dict) -> str:
    heads = ["Model", "Answered", "Limericks", "Form score", "Facts wrong", "Latency", "Per 1,000 replies"]
    rows = []
    for c in summary["contenders"]:
        rows.append([
            c["label"],
            f"{c['answered']}/{c['replies']}",
            f"{c['limericks']}/{c['form_checked']}" if c.get("form_checked") else "–",
            f"{c['mean_form_score']:.0f}/100" if c.get("mean_form_score") is not None else "–",
            str(c["contradicted"]) if c.get("contradicted") is not None else "–",
            f"{c['mean_latency']:.2f} s" if c.get("mean_latency") is not None else "–",
            (f"${c['cost_per_1000']:,.2f}" if c["cost_per_1000"] >= 0.01 or c["cost_per_1000"] == 0
             else f"${c['cost_per_1000']:.2g}") if c.get("cost_per_1000") is not None else "unknown",
        ])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(heads), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{done}/{total} replies", end="" if done < total else "\n", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    return run_guarded("compare", _run, args)


def _run(args: argparse.Namespace) -> int:
    from lib.evaluation import blind_votes, prompt_sets, report
    from lib.evaluation import comparison as playground

    if not 1 <= len(args.models) <= 3:
        raise CommandError("Give one to three --models.")
    if not Path(args.prompts).is_file():
        raise CommandError(f"No such prompt file: {args.prompts}")
    prompts = prompt_sets.load_prompts(Path(args.prompts))
    config, client = _make_client(args)
    contenders = _contenders(args, config, client)
    batch = playground.run_batch(
        contenders, prompts, concurrency=args.concurrency, system_prompt=args.system,
        temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed, progress=_progress,
    )
    summary = blind_votes.summary(batch)
    failed = [c for c in summary["contenders"] if c["answered"] == 0]
    if len(failed) == len(summary["contenders"]):  # nothing to show: just say why
        raise CommandError(_why(batch, failed[0]))
    verdict = report.conclusion(summary)
    written = None
    if args.report:
        title = args.title or " vs ".join(c.label for c in contenders)
        html_text = report.build_report(batch=batch, summary=summary, title=title)
        out = Path(args.report)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html_text, encoding="utf-8")
        written = str(out)
    if args.json:
        print(json.dumps({"summary": summary, "conclusion": verdict, "report": written, "replies": batch.rows()},
                         indent=2, default=str))
    else:
        print(_table(summary))
        if verdict:
            print()
            print(verdict)
        if written:
            print(f"Report written to {written}")
    if failed:
        print(f"compare: {_why(batch, failed[0])}", file=sys.stderr)
        return 1
    return 0


def _why(batch: Any, contender: dict) -> str:
    first = next(r for r in batch.column(contender["index"]) if r.error)
    return f"{contender['label']} answered none of the prompts: {first.error}"
