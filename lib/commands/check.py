"""`python -m lib check FILE [--model MODEL] [--epochs N] [--json]`: the Dataset page's report on the command line.

Exit status: 0 the file is ready to upload, 1 it has errors (warnings alone do not count), 2 it
cannot be read (missing, not UTF-8, a line that is not JSON). With --model, the tokens, epochs and
cost from `lib.services.pricing.estimate` are added, and examples over the model's token limit are flagged.

    python -m lib check sample_data/elements_limericks.jsonl --model gpt-4o-mini-2024-07-18 --json
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import Any

import orjson

from lib.dataprep import check as dataset_check
from lib.dataprep.dataset import ParseError
from lib.dataprep.readers import load_file
from lib.dataprep.validation import COOKBOOK_CODES, Report
from lib.services import pricing

_KEEP = ("format", "examples", "valid", "problems", "error_counts")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a dataset: .jsonl, .json, .csv, .xlsx or a text file")
    parser.add_argument("--model", help="price the dataset for this model (e.g. gpt-4o-mini-2024-07-18)")
    parser.add_argument("--epochs", default="auto",
                        help="number of epochs for the estimate (default: auto, OpenAI's rule)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _estimate(examples: list[Any], model: str, epochs: str, lines: list[int],
              checked: dataset_check.DatasetCheck) -> tuple[Any, str | None]:
    """lib.services.pricing's estimate from the check's token counts, or (None, why not) when the model
    or the epochs cannot be priced."""
    wanted: int | str = int(epochs) if str(epochs).isdigit() else epochs
    counts = (checked.tokens, checked.answer_tokens) if checked.encoding == pricing.encoding_for(model) else None
    try:
        return pricing.estimate(examples, model, wanted, lines=lines, counts=counts), None
    except (ValueError, KeyError, LookupError) as exc:
        return None, f"Cannot price the dataset for {model}: {exc}"


def _human(path: str, report: Report, estimate: dict[str, Any] | None, note: str | None, auto: bool) -> str:
    out = [f"{path}: {report.summary()}"]
    for issue in report.issues:
        where = f"line {issue.line}" if issue.line is not None else "dataset"
        out.append(f"  {where:<9} {issue.severity:<7} {issue.code:<34} {issue.field}")
        out.append(f"            {issue.message}")
    out.append("")
    if report.error_counts:
        out.append("Found errors:")
        out.extend(f"{code}: {count}" for code, count in report.error_counts.items())
    else:
        out.append("No errors found")
    out.append(f"Num examples missing system message: {report.warning_counts.get('missing_system_message', 0)}")
    out.append(f"Num examples missing user message: {report.warning_counts.get('missing_user_message', 0)}")
    if estimate:
        out.append("")
        cost = estimate.get("cost_usd")
        cost_text = f"${cost:,.4f}" if isinstance(cost, int | float) else "unknown"
        tokens = estimate.get("tokens")
        total = sum(tokens) if isinstance(tokens, list) else tokens
        answer_tokens = estimate.get("assistant_tokens")
        answers = sum(answer_tokens) if isinstance(answer_tokens, list) else answer_tokens
        out.append(f"Model {estimate.get('model', '')} ({estimate.get('encoding')}): "
                   f"~{total:,} tokens in the dataset, ~{answers:,} of them in answers.")
        out.append(f"Dataset has ~{estimate.get('billed_tokens', 0):,} tokens that will be charged for during training")
        lead = "By default, you'll" if auto else "You'll"
        out.append(f"{lead} train for {estimate.get('epochs')} epochs on this dataset")
        out.append(f"{lead} be charged for ~{estimate.get('trained_tokens', 0):,} tokens")
        out.append(f"Estimated training cost: {cost_text} (prices of {estimate.get('price_date')}).")
        for extra in estimate.get("notes") or []:
            out.append(f"Note: {extra}")
    if note:
        out.append(f"Note: {note}")
    return "\n".join(out)


def _not_checked(args: argparse.Namespace, message: str, broken: list[tuple[int, str]] | None = None, *,
                 about_file: bool = True) -> int:
    """Exit 2 ("not checked") with one plain line on stderr; with --json, a JSON object on stdout too,
    naming every broken line, so a script reading stdout always gets JSON."""
    print(f"{args.file}: {message}" if about_file else message, file=sys.stderr)
    if getattr(args, "json", False):
        result = {"file": str(args.file), "readable": False, "valid": False, "error": message,
                  "broken_lines": [{"line": line, "message": text} for line, text in broken or []]}
        print(json.dumps(result, ensure_ascii=False, indent=2))
    return 2


def run(args: argparse.Namespace) -> int:
    # The rows of a file make no reference cycles, and the cycle collector's passes over the million
    # objects a 100,000-row file becomes took 0.8 s of a 7 s check: it rests until the answer is out.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    except Exception as exc:  # never a traceback: one plain line, and a status that says "not checked"
        return _not_checked(args, f"the check could not finish ({type(exc).__name__}: {exc}).")
    finally:
        if collecting:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    try:
        dataset = load_file(args.file)
    except ParseError as exc:
        return _not_checked(args, str(exc), exc.broken)
    lines = dataset.line_numbers()
    estimate = None
    note = None
    epochs = str(args.epochs)
    if args.model and epochs != "auto" and not (epochs.isdigit() and int(epochs) >= 1):
        return _not_checked(args, f"--epochs must be a whole number of at least 1, or auto (got {epochs}).",
                            about_file=False)
    # The check counts the tokens (with the rows, on two cores for a large file) and flags rows over the
    # model's limit; the estimate is priced from the same counts.
    checked = dataset_check.check(dataset, model=args.model or None, file_lines=True)
    if args.model:
        estimate, note = _estimate(dataset.examples, args.model, epochs, lines, checked)
    report = checked.with_privacy()
    estimate_dict = estimate.to_dict() if estimate is not None and hasattr(estimate, "to_dict") else None
    if args.json:
        result: dict[str, Any] = {k: v for k, v in report.to_dict().items() if k in _KEEP}
        result["error_counts"] = {code: report.error_counts[code] for code in report.error_counts}
        result["warning_counts"] = report.warning_counts
        if estimate_dict:
            result.update({k: v for k, v in estimate_dict.items() if k not in _KEEP})
        if note:
            result["note"] = note
        # orjson: the answer for 100,000 rows lists 200,000 token counts (0.15 s with the json module's
        # indenting encoder, 0.01 s here); the same layout, numbers written the shortest exact way
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    else:
        print(_human(args.file, report, estimate_dict, note, str(args.epochs) == "auto"))
    return 0 if checked.ready else 1


__all__ = ["add_arguments", "run", "COOKBOOK_CODES"]
