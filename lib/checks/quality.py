"""Dataset-level quality for the Dataset page: limerick form and facts per row, then a summary.

Each example is read as (last user message, last assistant message); chat, DPO-style
(`input.messages` + `preferred_output`) and legacy prompt/completion rows all work, and anything
else (a list, a number, a row without an answer) becomes a row with a plain problem instead of an
error. Checks are cached by content in lib.checks.limerick and lib.checks.facts, so re-scoring after an edit only
pays for the rows that changed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lib.checks import elements, facts, limerick


@dataclass(frozen=True)
class RowQuality:
    line: int  # 1-based, the line of the JSONL file (= row number in the table)
    question: str
    answer: str
    element: str | None  # element name, e.g. "Strontium"
    symbol: str | None
    score: int  # limerick form score 0-100
    is_limerick: bool
    contradicted: int  # claims that disagree with the element data
    supported: int
    problems: tuple[str, ...] = ()  # plain sentences: form problems, then wrong facts
    claims: tuple[dict, ...] = field(default=(), repr=False)

    @property
    def form_score(self) -> int:
        return self.score

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "element": self.element, "symbol": self.symbol, "score": self.score,
                "is_limerick": self.is_limerick, "contradicted": self.contradicted, "supported": self.supported,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class Summary:
    rows: int
    limericks: int
    limerick_share: float  # 0..1 over rows that have an answer
    contradicted: int  # contradicted claims over the whole dataset
    rows_with_contradictions: list[int]  # lines
    coverage: dict[str, int]  # symbol -> number of rows about it, all 118 symbols
    repeated_questions: list[dict[str, Any]]  # {"question", "count", "lines"}
    long_answers: list[int]  # lines whose answer is far longer than the rest
    short_answers: list[int]  # lines whose answer is far shorter than the rest
    empty_answers: list[int]
    notes: list[str]  # plain sentences for the page

    @property
    def covered(self) -> int:
        return sum(1 for n in self.coverage.values() if n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "limericks": self.limericks, "limerick_share": self.limerick_share,
            "contradicted": self.contradicted, "rows_with_contradictions": self.rows_with_contradictions,
            "covered": self.covered, "coverage": self.coverage, "repeated_questions": self.repeated_questions,
            "long_answers": self.long_answers, "short_answers": self.short_answers,
            "empty_answers": self.empty_answers, "notes": self.notes,
        }


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return ""


def _last(messages: Any, role: str) -> str | None:
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == role:
            return _text(message.get("content"))
    return None


def question_answer(example: Any) -> tuple[str | None, str | None]:
    """(last user message, last assistant message) of one example, None where missing."""
    if not isinstance(example, dict):
        return None, None
    if "messages" in example:
        return _last(example.get("messages"), "user"), _last(example.get("messages"), "assistant")
    if "input" in example and isinstance(example["input"], dict):  # preference (DPO) rows
        question = _last(example["input"].get("messages"), "user")
        preferred = example.get("preferred_output")
        return question, _last(preferred, "assistant") if isinstance(preferred, list) else None
    if "prompt" in example or "completion" in example:
        q, a = example.get("prompt"), example.get("completion")
        return (q if isinstance(q, str) else None), (a if isinstance(a, str) else None)
    return None, None


def score_example(example: Any, line: int = 1) -> RowQuality:
    question, answer = question_answer(example)
    problems: list[str] = []
    if not isinstance(example, dict):
        problems.append("not a JSON object, so there is no question or answer to check")
    elif answer is None or not answer.strip():
        problems.append("no assistant answer to check")
    if answer and answer.strip():
        report = limerick.check(answer)
        score, ok = report.score, report.is_limerick
        problems.extend(report.problems)
    else:
        score, ok = 0, False
    fact_report = facts.check(question or "", answer or "")
    claims = tuple(c.to_dict() for c in fact_report.claims)
    wrong = fact_report.contradicted
    for claim in wrong:
        unit = f" {claim.unit}" if claim.unit else ""
        problems.append(f"{claim.property.replace('_', ' ')}: the answer says {claim.stated}{unit}, "
                        f"{fact_report.element} has {claim.actual}{unit}")
    return RowQuality(
        line=line, question=question or "", answer=answer or "", element=fact_report.element,
        symbol=fact_report.symbol, score=score, is_limerick=ok, contradicted=len(wrong),
        supported=len(fact_report.supported), problems=tuple(problems), claims=claims,
    )


def score_examples(examples: Any, progress: Callable[[int, int], None] | None = None) -> list[RowQuality]:
    """One RowQuality per example, in order (line = 1-based position).

    `progress(done, total)` is called about a hundred times: 10,000 new rows take seconds to check,
    while rows already checked (same text) come from the checkers' caches.
    """
    if not isinstance(examples, list | tuple):
        return []
    total = len(examples)
    every = max(1, total // 100)
    rows = []
    for i, example in enumerate(examples, start=1):
        rows.append(score_example(example, i))
        if progress is not None and (i % every == 0 or i == total):
            progress(i, total)
    return rows


@lru_cache(maxsize=200_000)  # a summary after an edit re-reads every row: remembered per text
def _normalise_question(question: str) -> str:
    return " ".join(question.lower().split()).strip(" ?!.")


@lru_cache(maxsize=200_000)
def _word_count(answer: str) -> int:
    return len(answer.split())


def _length_outliers(rows: list[RowQuality]) -> tuple[list[int], list[int]]:
    """Answers far longer or shorter than the rest (in words): beyond 1.5 IQR from the quartiles.

    The IQR is floored at a quarter of the median so a dataset of near-identical lengths is not
    nagged about an answer two words longer than the others.
    """
    lengths = [(r.line, n) for r in rows if (n := _word_count(r.answer))]
    if len(lengths) < 5:
        return [], []
    values = sorted(n for _, n in lengths)
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    spread = max(q3 - q1, 0.25 * median, 1.0)
    high, low = q3 + 1.5 * spread, q1 - 1.5 * spread
    return [line for line, n in lengths if n > high], [line for line, n in lengths if n < low]


def summary(rows: list[RowQuality]) -> Summary:
    """Dataset figures for the page: limerick share, wrong facts, coverage, repeats, outliers."""
    rows = [r for r in rows if isinstance(r, RowQuality)]
    answered = [r for r in rows if r.answer.strip()]
    limericks = sum(1 for r in answered if r.is_limerick)
    share = limericks / len(answered) if answered else 0.0
    coverage = {e.symbol: 0 for e in elements.all_elements()}
    for r in rows:
        if r.symbol:
            coverage[r.symbol] = coverage.get(r.symbol, 0) + 1
    groups: dict[str, list[int]] = {}
    shown: dict[str, str] = {}
    for r in rows:
        key = _normalise_question(r.question)
        if key:
            groups.setdefault(key, []).append(r.line)
            shown.setdefault(key, r.question.strip())
    repeated = [{"question": shown[k], "count": len(v), "lines": v} for k, v in groups.items() if len(v) > 1]
    repeated.sort(key=lambda d: (-d["count"], d["lines"][0]))
    long_lines, short_lines = _length_outliers(rows)
    empty = [r.line for r in rows if not r.answer.strip()]
    contradicted = sum(r.contradicted for r in rows)
    bad_rows = [r.line for r in rows if r.contradicted]
    notes = []
    if bad_rows:
        notes.append(f"{contradicted} fact{'s' if contradicted != 1 else ''} contradict the element data "
                     f"(row{'s' if len(bad_rows) != 1 else ''} {_list(bad_rows)}); the model will learn them as true.")
    not_limericks = [r.line for r in answered if not r.is_limerick]
    if not_limericks:
        notes.append(f"{len(not_limericks)} answer{'s are' if len(not_limericks) != 1 else ' is'} not a well-formed "
                     f"limerick (row{'s' if len(not_limericks) != 1 else ''} {_list(not_limericks)}).")
    if empty:
        notes.append(f"Row{'s' if len(empty) != 1 else ''} {_list(empty)} ha{'ve' if len(empty) != 1 else 's'} "
                     "no answer to learn from.")
    for d in repeated[:5]:
        notes.append(f"\"{d['question']}\" is asked {d['count']} times (rows {_list(d['lines'])}); "
                     "repeats weigh more in training.")
    if long_lines:
        notes.append(f"Row{'s' if len(long_lines) != 1 else ''} {_list(long_lines)}: answer much longer than the rest.")
    if short_lines:
        notes.append(f"Row{'s' if len(short_lines) != 1 else ''} {_list(short_lines)}: answer much shorter than the rest.")
    return Summary(
        rows=len(rows), limericks=limericks, limerick_share=share, contradicted=contradicted,
        rows_with_contradictions=bad_rows, coverage=coverage, repeated_questions=repeated,
        long_answers=long_lines, short_answers=short_lines, empty_answers=empty, notes=notes,
    )


def _list(lines: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(n) for n in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def element_counts(examples: Any) -> Counter:
    """Symbol -> rows about it, straight from examples (for callers that need no other figure)."""
    return Counter(r.symbol for r in score_examples(examples) if r.symbol)
