"""`python -m lib limerick "TEXT" [--json]` or `python -m lib limerick --jsonl FILE`: check limerick form.

TEXT may be "-" to read standard input. With --jsonl, each line of FILE ("-" for standard input) is
a JSON object with a `text` field (a bare JSON string also works); one JSON result is printed per
row, in order, all in one process (thousands of rows take seconds). A row that cannot be read
gives `{"line": N, "error": "..."}` in its place and the exit status becomes 2.

Exit status: 0 checked (whether or not it is a limerick), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from lib.checks import limerick


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", metavar="TEXT",
                        help='the answer to check (lines separated by newlines or " - "); "-" reads stdin')
    parser.add_argument("--jsonl", metavar="FILE", help='check every row of a JSONL file (rows: {"text": ...})')
    parser.add_argument("--json", action="store_true", help="print JSON instead of a readable summary")


def read_jsonl(path: str) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed value, error) for each non-blank line of a JSONL file or stdin ("-")."""
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed below
    try:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw), None
            except json.JSONDecodeError as exc:
                yield number, None, f"not valid JSON ({exc.msg})"
    finally:
        if stream is not sys.stdin:
            stream.close()


def open_problem(path: str) -> str | None:
    """Why a JSONL path cannot be read, as a sentence, or None."""
    if path == "-":
        return None
    try:
        with open(path, encoding="utf-8-sig") as f:
            f.read(1)
    except FileNotFoundError:
        return f"{path}: no such file"
    except IsADirectoryError:
        return f"{path}: is a folder, not a file"
    except UnicodeDecodeError:
        return f"{path}: not UTF-8 text"
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc})"
    return None


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so the interpreter's final flush stays quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _readable(report: Any) -> str:
    d = report.to_dict()
    verdict = "yes" if d["is_limerick"] else "no"
    out = [f"Limerick: {verdict} (form score {d['score']}/100)", f"Rhyme scheme: {d['rhyme_scheme'] or '-'}"]
    scheme = d["rhyme_scheme"]
    width = max((len(line) for line in d["lines"]), default=0)
    for i, line in enumerate(d["lines"]):
        letter = scheme[i] if i < len(scheme) else " "
        syllables = d["syllables"][i] if i < len(d["syllables"]) else 0
        out.append(f"  {i + 1}. {line:<{width}}  {letter}  {syllables:>2} syllables")
    out.append("Problems:" if d["problems"] else "Problems: none")
    out.extend(f"  - {p}" for p in d["problems"])
    if d.get("warnings"):
        out.append("Warnings:")
        out.extend(f"  - {w}" for w in d["warnings"])
    return "\n".join(out)


def guarded(what: str, body: Callable[[], int]) -> int:
    """Run a command's body the way every checker command ends: never a traceback, quiet on a closed pipe."""
    try:
        return body()
    except BrokenPipeError:  # `... --jsonl big.jsonl | head`: stop quietly
        _silence_stdout()
        return 0
    except (OSError, UnicodeDecodeError) as exc:
        print(f"Cannot read the input: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback
        print(f"The {what} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    if args.jsonl and args.text is not None:
        print("Give either TEXT or --jsonl FILE, not both.", file=sys.stderr)
        return 2

    def body() -> int:
        if args.jsonl:
            return _run_jsonl(args.jsonl)
        if args.text is None:
            print('Give the text to check, e.g. python -m lib limerick "line one - line two - ..."',
                  file=sys.stderr)
            return 2
        text = sys.stdin.read() if args.text == "-" else args.text
        report = limerick.check(text)
        print(json.dumps(report.to_dict(), ensure_ascii=False) if args.json else _readable(report))
        return 0

    return guarded("limerick check", body)


def check_jsonl(path: str, check_row: Callable[[Any], dict | str]) -> int:
    """Check each row of a JSONL file and print one JSON result per line, in order.

    `check_row` gets the parsed row and returns the result, or a string saying what is wrong with the
    row. Bad rows get {"line", "error"} in place and the first five are named on stderr; exit 2 if any."""
    problem = open_problem(path)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    bad = 0
    out: list[str] = []
    for number, row, error in read_jsonl(path):
        result = check_row(row) if error is None else error
        if isinstance(result, str):
            bad += 1
            if bad <= 5:
                print(f"line {number}: {result}", file=sys.stderr)
            out.append(json.dumps({"line": number, "error": result}))
        else:
            out.append(json.dumps(result, ensure_ascii=False))
        if len(out) >= 1000:
            sys.stdout.write("\n".join(out) + "\n")
            out.clear()
    if out:
        sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()
    if bad:
        print(f"{bad} row{'s' if bad != 1 else ''} could not be checked.", file=sys.stderr)
        return 2
    return 0


def _run_jsonl(path: str) -> int:
    def check_row(row: Any) -> dict | str:
        if isinstance(row, str):
            return limerick.check(row).to_dict()
        if isinstance(row, dict) and isinstance(row.get("text"), str):
            return limerick.check(row["text"]).to_dict()
        return 'expected an object with a "text" string'

    return check_jsonl(path, check_row)
