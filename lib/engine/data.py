"""Training files → checked examples → token ids with labels, as the trainers need them.

Loss is computed on assistant turns only, and an assistant turn with `"weight": 0` is not trained
on (OpenAI's rule). The model's own chat template renders the conversation; each trained turn's
span is found by rendering the conversation up to that turn, so the labels follow any template
whose rendering of a prefix is a prefix of the whole (ChatML, Llama 3, ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.dataprep.validation import upload_errors, validate

IGNORE_INDEX = -100
VALIDATION_CHUNK = 1000  # lines checked together when a file is validated


@dataclass
class FileProblem(Exception):
    """A training or validation file that cannot be used; the job fails with this (OpenAI's error shape)."""

    message: str
    code: str = "invalid_training_file"
    param: str = "training_file"
    line: int | None = None
    more: int = 0  # further problems in the same file

    def __str__(self) -> str:
        return self.message

    def to_error(self) -> dict:
        return {"code": self.code, "message": self.message, "param": self.param}

    def with_total(self, problems: int) -> FileProblem:
        """This problem, its message saying how many more the file has."""
        more = problems - 1
        message = re.sub(r" \(\d+ more problems? in the file\.\)$", "", self.message)
        if more > 0:
            message += f" ({more} more problem{'s' if more > 1 else ''} in the file.)"
        return FileProblem(message, self.code, self.param, self.line, more)


def iter_jsonl(path: Path, param: str = "training_file") -> Iterator[tuple[int, Any]]:
    """(1-based line number, value) for each non-blank line, read one line at a time: a large file is
    never held in memory whole."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise FileProblem(f"Line {number} of the {_label(param)} is not UTF-8 text ({exc.reason}).",
                                  "invalid_file_format", param, number) from exc
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise FileProblem(
                    f"Line {number} of the {_label(param)} is not valid JSON: {exc.msg} (column {exc.colno}).",
                    "invalid_file_format", param, number,
                ) from exc


def read_jsonl(path: Path, param: str = "training_file") -> tuple[list[Any], list[int]]:
    """Parse a JSONL file: the values and, parallel to them, their 1-based line numbers."""
    values, lines = [], []
    for number, value in iter_jsonl(path, param):
        values.append(value)
        lines.append(number)
    if not values:
        raise FileProblem(f"The {_label(param)} has no examples.", "invalid_file_format", param)
    return values, lines


def validate_file(path: Path, method: str, param: str = "training_file", chunk: int = VALIDATION_CHUNK) -> int:
    """Check a whole file as `validate_examples` does, `chunk` lines at a time (memory stays flat however
    large the file); raise FileProblem naming the first bad line. Returns how many examples it has."""
    first: FileProblem | None = None
    problems = 0
    count = 0
    values: list[Any] = []
    lines: list[int] = []

    def check(final: bool) -> None:
        nonlocal first, problems
        # every rule but the file's size is per line; a file under one chunk is checked whole
        whole = final and count == len(values)
        try:
            validate_examples(values, lines, method, param, whole_file=whole)
        except FileProblem as problem:
            first = first or problem
            problems += 1 + problem.more
        values.clear()
        lines.clear()

    for number, value in iter_jsonl(path, param):
        values.append(value)
        lines.append(number)
        count += 1
        if len(values) >= chunk:
            check(final=False)
    check(final=True)
    if count == 0:
        raise FileProblem(f"The {_label(param)} has no examples.", "invalid_file_format", param)
    if first is not None:
        raise first.with_total(problems)
    return count


def _label(param: str) -> str:
    return param.replace("_", " ")


def validate_examples(examples: list[Any], lines: list[int], method: str, param: str = "training_file",
                      *, whole_file: bool = True) -> None:
    """Raise FileProblem naming the first bad line, by OpenAI's rules (lib.dataprep.validation, as the pages check).
    `whole_file=False` for a part of a file: its size is not judged."""
    fmt = "dpo" if method == "dpo" else "chat"
    report = validate(examples, format=fmt, line_numbers=lines)
    errors = [issue for issue in upload_errors(report, param)  # the pages' "ready to train" rule, by construction
              if whole_file or issue.code != "too_few_examples"]
    if errors:
        issue = errors[0]
        message = re.sub(r"^Row (\d+)", r"Line \1", issue.message)
        if issue.line is not None and not message.startswith("Line"):
            message = f"Line {issue.line}: {message}"
        problem = FileProblem(message, "invalid_" + param, param, issue.line)
        raise problem.with_total(len(errors))


def text_of(content: Any) -> str:
    """Message content as plain text (string, or a list of text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def clean_messages(messages: list[dict]) -> list[dict]:
    """Only what chat templates read: role and text content (weight is kept apart by the caller)."""
    return [{"role": m.get("role", "user"), "content": text_of(m.get("content"))} for m in messages]


def _render(tokenizer, messages: list[dict], generation_prompt: bool = False) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def tokenize_chat(example: dict, tokenizer, max_length: int | None = None) -> dict | None:
    """{"input_ids", "labels", "tokens"} for one chat example; None when no trained token survives."""
    raw = example["messages"]
    messages = clean_messages(raw)
    full = _render(tokenizer, messages)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for index, message in enumerate(raw):
        if message.get("role") != "assistant" or message.get("weight", 1) == 0:
            continue
        before = _render(tokenizer, messages[:index], generation_prompt=True)
        through = _render(tokenizer, messages[: index + 1])
        if full.startswith(through) and through.startswith(before) and len(before) >= cursor:
            start, end = len(before), len(through)
        else:  # a template that is not prefix-stable: find the content itself
            content = messages[index]["content"]
            start = full.find(content, cursor)
            if start < 0:
                continue
            end = start + len(content)
            eos = tokenizer.eos_token or ""
            if eos and full.startswith(eos, end):
                end += len(eos)
        while end > start and full[end - 1] in " \n\r\t":  # the newline after the end-of-turn token is the template's
            end -= 1
        spans.append((start, end))
        cursor = end
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = list(encoded["input_ids"])
    labels = []
    span_index = 0
    for token_id, (token_start, token_end) in zip(input_ids, encoded["offset_mapping"], strict=True):
        while span_index < len(spans) and token_start >= spans[span_index][1]:
            span_index += 1
        inside = span_index < len(spans) and spans[span_index][0] <= token_start < spans[span_index][1]
        if not inside and span_index < len(spans) and token_end > spans[span_index][0] > token_start:
            inside = True  # a token straddling the start of the reply (e.g. a merged leading space)
        labels.append(token_id if inside else IGNORE_INDEX)
    tokens = len(input_ids)
    if max_length and len(input_ids) > max_length:
        input_ids, labels = input_ids[:max_length], labels[:max_length]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return {"input_ids": input_ids, "labels": labels, "tokens": tokens}


def to_preference(example: dict) -> dict:
    """OpenAI's DPO line → TRL's conversational preference example (prompt, chosen, rejected)."""
    prompt = clean_messages(example["input"]["messages"])
    chosen = clean_messages(example["preferred_output"][-1:])
    rejected = clean_messages(example["non_preferred_output"][-1:])
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def count_tokens_dpo(example: dict, tokenizer) -> int:
    pref = to_preference(example)
    prompt = _render(tokenizer, pref["prompt"], generation_prompt=True)
    total = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    for key in ("chosen", "rejected"):
        total += len(tokenizer(pref[key][0]["content"], add_special_tokens=False)["input_ids"]) + 1
    return total
