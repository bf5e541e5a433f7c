"""`python -m lib facts "QUESTION" "ANSWER" [--json]` or `python -m lib facts --jsonl FILE`: check an
answer's claims about an element (atomic number, melting/boiling point, discovery year, mass,
group, period, state) against the element data.

With --jsonl, each line of FILE ("-" for standard input) is a JSON object with `question` and
`answer` strings; one JSON result is printed per row, in order. A row that cannot be read gives
`{"line": N, "error": "..."}` in its place and the exit status becomes 2.

Exit status: 0 checked (even when claims are contradicted), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lib.checks import facts
from lib.commands.limerick import check_jsonl, guarded


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", nargs="?", metavar="QUESTION", help='the question, e.g. "Tell me about strontium"')
    parser.add_argument("answer", nargs="?", metavar="ANSWER", help='the answer to check; "-" reads stdin')
    parser.add_argument("--jsonl", metavar="FILE",
                        help='check every row of a JSONL file (rows: {"question": ..., "answer": ...})')
    parser.add_argument("--json", action="store_true", help="print JSON instead of a readable summary")


_MARK = {"supported": "ok   ", "contradicted": "WRONG", "unverifiable": "?    "}


def _readable(report: Any) -> str:
    d = report.to_dict()
    if not d["element"]:
        return "No element found in the question or the answer, so there is nothing to check."
    out = [f"Element: {d['element']} ({report.symbol})"]
    if not d["claims"]:
        out.append("No checkable claims (atomic number, temperatures, year, mass, group, period, state).")
    for c in d["claims"]:
        unit = f" {c['unit']}" if c.get("unit") else ""
        what = c["property"].replace("_", " ")
        if c["verdict"] == "contradicted":
            detail = f"says {c['stated']}{unit}, actually {c['actual']}{unit}"
        elif c["verdict"] == "supported":
            detail = f"{c['stated']}{unit} (data: {c['actual']}{unit})"
        else:
            detail = f"{c['stated']}{unit} (the data cannot settle this)"
        out.append(f"  {_MARK.get(c['verdict'], c['verdict'])}  {what}: {detail}")
        out.append(f"         \"{c['text']}\"")
    wrong = sum(1 for c in d["claims"] if c["verdict"] == "contradicted")
    out.append(f"{wrong} contradicted, {sum(1 for c in d['claims'] if c['verdict'] == 'supported')} supported, "
               f"{sum(1 for c in d['claims'] if c['verdict'] == 'unverifiable')} unverifiable.")
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:

    def body() -> int:
        if args.jsonl:
            if args.question is not None:
                print("Give either QUESTION ANSWER or --jsonl FILE, not both.", file=sys.stderr)
                return 2
            return _run_jsonl(args.jsonl)
        if args.question is None or args.answer is None:
            print('Give a question and an answer, e.g. python -m lib facts "Tell me about gallium" "It melts at 30 °C"',
                  file=sys.stderr)
            return 2
        answer = sys.stdin.read() if args.answer == "-" else args.answer
        report = facts.check(args.question, answer)
        print(json.dumps(report.to_dict(), ensure_ascii=False) if args.json else _readable(report))
        return 0

    return guarded("fact check", body)


def _run_jsonl(path: str) -> int:
    def check_row(row: Any) -> dict | str:
        if isinstance(row, dict) and isinstance(row.get("question"), str) and isinstance(row.get("answer"), str):
            return facts.check(row["question"], row["answer"]).to_dict()
        return 'expected an object with "question" and "answer" strings'

    return check_jsonl(path, check_row)
