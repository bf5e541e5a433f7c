"""A dataset is the list of JSON values that will be uploaded, one per line, plus its train/validation split.

What a dataset is and how it is written: the `Dataset` model, the messages of an example and its
cells in the table view, export (`to_jsonl` is byte for byte what gets uploaded, `to_csv` a
spreadsheet copy) and the split. Examples stay plain JSON values on purpose: a line that is wrong
(not an object, a misspelt key) is kept as it is so validation can point at it, instead of being
"fixed" silently on import. Reading files and pasted text in every format: lib.dataprep.readers.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_SYSTEM_PROMPT = (
    "Elle is a factual chatbot that answers questions about elements in the periodic table with a limerick"
)
Format = Literal["chat", "legacy", "dpo"]
SPLITS = ("train", "validation")
TABLE_COLUMNS = ("system", "user", "assistant")


class ParseError(ValueError):
    """The input cannot be read at all. `str(e)` is one plain sentence naming the line when there is one."""

    def __init__(self, line: int | None, message: str, *, broken: list[tuple[int, str]] | None = None,
                 readable: Dataset | None = None):
        super().__init__(message)
        self.line = line
        self.message = message
        # Every broken line as (line, sentence), so a user fixes them all at once, not one per try.
        self.broken: list[tuple[int, str]] = list(broken) if broken else ([(line, message)] if line else [])
        # The rows that could be read when only some lines are broken (None when nothing could be):
        # the Dataset page imports them and lists the broken lines; the file itself is left as it is.
        self.readable = readable


@dataclass
class Dataset:
    name: str = "untitled"
    examples: list[Any] = field(default_factory=list)
    format: Format = "chat"
    split: list[str] = field(default_factory=list)
    system_prompt: str = DEFAULT_SYSTEM_PROMPT

    def splits(self) -> list[str]:
        """The split, one entry per example (rows without one, e.g. just appended, count as train)."""
        split = [s if s in SPLITS else "train" for s in self.split[: len(self.examples)]]
        return split + ["train"] * (len(self.examples) - len(split))

    def train_examples(self) -> list[Any]:
        return [ex for ex, s in zip(self.examples, self.splits(), strict=True) if s == "train"]

    def validation_examples(self) -> list[Any]:
        return [ex for ex, s in zip(self.examples, self.splits(), strict=True) if s == "validation"]

    def line_numbers(self) -> list[int]:
        """The file's own line number of each example when it was just read from a file (blank lines
        skipped, CSV header counted); otherwise the row number. Not a field: any edit makes a new Dataset
        (`dataclasses.replace`), which falls back to row numbers, as the table shows them."""
        lines = getattr(self, "_lines", None)
        if isinstance(lines, list) and len(lines) == len(self.examples):
            return list(lines)
        return list(range(1, len(self.examples) + 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "examples": self.examples,
            "format": self.format,
            "split": self.splits(),
            "system_prompt": self.system_prompt,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dataset:
        examples = list(data.get("examples") or [])
        fmt = data.get("format") if data.get("format") in ("chat", "legacy", "dpo") else "chat"
        return cls(
            name=str(data.get("name") or "untitled"),
            examples=examples,
            format=fmt,
            split=list(data.get("split") or ["train"] * len(examples)),
            system_prompt=str(data.get("system_prompt", DEFAULT_SYSTEM_PROMPT)),
        )


# ------------------------------------------------------------------------------------------- export


def to_jsonl(examples: Iterable[Any]) -> str:
    """Exactly what is uploaded: one compact JSON value per line, UTF-8 text kept, trailing newline."""
    lines = [json.dumps(ex, ensure_ascii=False, separators=(",", ":")) for ex in examples]
    return "".join(line + "\n" for line in lines)


def to_csv(examples: Sequence[Any], split: Sequence[str] | None = None) -> str:
    """A spreadsheet-friendly copy: system, user, assistant columns (plus split when given). A row that
    does not fit three cells (multi-turn, tools, DPO) carries the whole example in a "json" column, so
    importing the CSV again gives back the same examples. Encode as "utf-8-sig" for Excel."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    complex_rows = any(not is_single_turn(ex) for ex in examples)
    header = list(TABLE_COLUMNS) + (["split"] if split is not None else []) + (["json"] if complex_rows else [])
    writer.writerow(header)
    for i, ex in enumerate(examples):
        if is_single_turn(ex):
            row = list(_row_cells(ex).values())
            blob = ""
        else:
            row = ["", "", ""]
            blob = json.dumps(ex, ensure_ascii=False, separators=(",", ":"))
        if split is not None:
            row.append(split[i] if i < len(split) else "train")
        if complex_rows:
            row.append(blob)
        writer.writerow(row)
    return out.getvalue()


# ------------------------------------------------------------------------------- examples, messages


def make_example(user: str, assistant: str, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT) -> dict[str, Any]:
    """One single-turn chat example; no system message when `system_prompt` is empty."""
    messages: list[dict[str, Any]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user})
    messages.append({"role": "assistant", "content": assistant})
    return {"messages": messages}


def conversation(example: Any) -> list[dict[str, Any]]:
    """The conversation itself, to read (not copied): `messages` of a chat example, `input.messages`
    of a DPO pair; only the messages that are objects."""
    if not isinstance(example, dict):
        return []
    messages = example.get("messages")
    if messages is None and isinstance(example.get("input"), dict):
        messages = example["input"].get("messages")
    if not isinstance(messages, list):
        return []
    return [m for m in messages if isinstance(m, dict)]


def messages_of(example: Any) -> list[dict[str, Any]]:
    """A copy of the conversation to edit (see `conversation`)."""
    return [copy.deepcopy(m) for m in conversation(example)]


_OPTIONAL_KEYS = ("name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal")


def set_messages(example: Any, messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A new example with its conversation replaced (other keys such as `tools` kept). Cleans what an
    editor produces: optional keys left empty are dropped; `weight` is kept only on assistant messages,
    as the integer 0 or 1."""
    cleaned: list[dict[str, Any]] = []
    for message in messages:
        new = {k: copy.deepcopy(v) for k, v in message.items() if not (k in _OPTIONAL_KEYS and v in (None, ""))}
        if "weight" in new:
            weight = new.pop("weight")
            if new.get("role") == "assistant":
                readable = isinstance(weight, str) and weight.strip() in ("0", "1")
                if readable or (isinstance(weight, bool | float) and weight in (0, 1)):
                    weight = int(weight)
                new["weight"] = weight
        cleaned.append(new)
    if not isinstance(example, dict):
        return {"messages": cleaned}
    new_example = copy.deepcopy(example)
    if "messages" not in new_example and isinstance(new_example.get("input"), dict):
        new_example["input"]["messages"] = cleaned
    else:
        new_example["messages"] = cleaned
    return new_example


def is_single_turn(example: Any) -> bool:
    """True when the example fits the table's three cells exactly: only `messages`, at most one system,
    one user and one assistant message in that order, each with just a role and text content."""
    if not isinstance(example, dict) or set(example) != {"messages"}:
        return False
    messages = example["messages"]
    if not isinstance(messages, list) or not messages:
        return False
    order = {"system": 0, "user": 1, "assistant": 2}
    last = -1
    for message in messages:
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            return False
        rank = order.get(message["role"]) if isinstance(message["role"], str) else None
        if rank is None or rank <= last or not isinstance(message["content"], str):
            return False
        last = rank
    return True


def _row_cells(example: Any) -> dict[str, str]:
    if is_single_turn(example):
        by_role = {m["role"]: m["content"] for m in example["messages"]}
        return {c: by_role.get(c, "") for c in TABLE_COLUMNS}
    return _summary_cells(example)


def _summary_cells(example: Any) -> dict[str, str]:
    """Read-only cells for a row the table cannot edit."""
    if not isinstance(example, dict):
        text = json.dumps(example, ensure_ascii=False)
        return {"system": "", "user": f"[Not a chat example: {text[:60]}] Fix or delete this row.", "assistant": ""}
    messages = messages_of(example)
    system = next((m.get("content") for m in messages if m.get("role") == "system"), "")
    users = [m for m in messages if m.get("role") == "user"]
    answers = [m for m in messages if m.get("role") == "assistant"]
    if "preferred_output" in example or "non_preferred_output" in example:
        label = "Preference pair (DPO)"
        preferred = example.get("preferred_output")
        answer = preferred[0].get("content") if isinstance(preferred, list) and preferred and isinstance(preferred[0], dict) else ""
    else:
        label = f"Conversation, {len(messages)} messages"
        answer = answers[-1].get("content") if answers else ""
    first_user = users[0].get("content") if users else ""
    return {
        "system": system if isinstance(system, str) else "",
        "user": f"[{label}: edit it in the conversation editor] {first_user if isinstance(first_user, str) else ''}".rstrip(),
        "assistant": answer if isinstance(answer, str) else "",
    }


def _clean(value: Any) -> str:
    if value is None:
        return ""
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return value if isinstance(value, str) else str(value)


def apply_system_prompt(examples: Any, prompt: str) -> Any:
    """Give every example the same system prompt (replacing the first system message or adding one in
    front); an empty prompt removes system messages. Takes a list (returns a new list) or a Dataset
    (returns a new Dataset with `system_prompt` updated too). Lines that are not objects are left alone."""
    if isinstance(examples, Dataset):
        import dataclasses

        return dataclasses.replace(
            examples, examples=apply_system_prompt(examples.examples, prompt), system_prompt=prompt, split=examples.splits()
        )
    out = []
    for example in examples:
        messages = _conversation(example)
        if messages is None:
            out.append(example)
            continue
        new = copy.deepcopy(example)
        messages = _conversation(new)
        systems = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "system"]
        if not prompt:
            messages[:] = [m for i, m in enumerate(messages) if i not in systems]
        elif systems:
            messages[systems[0]]["content"] = prompt
        else:
            messages.insert(0, {"role": "system", "content": prompt})
        out.append(new)
    return out


def _conversation(example: Any) -> list[Any] | None:
    """The example's own message list (not a copy), or None when it has none."""
    if not isinstance(example, dict):
        return None
    messages = example.get("messages")
    if messages is None and isinstance(example.get("input"), dict):
        messages = example["input"].get("messages")
    return messages if isinstance(messages, list) else None


def duplicate_row(examples: Any, index: int) -> Any:
    """Insert a copy of row `index` right after it (a list, or a Dataset whose split follows)."""
    if isinstance(examples, Dataset):
        import dataclasses

        split = examples.splits()
        return dataclasses.replace(
            examples,
            examples=duplicate_row(examples.examples, index),
            split=split[: index + 1] + [split[index]] + split[index + 1 :],
        )
    return list(examples[: index + 1]) + [copy.deepcopy(examples[index])] + list(examples[index + 1 :])


# -------------------------------------------------------------------------------------------- split


def split_random(n: int, validation_fraction: float, seed: int = 0) -> list[str]:
    """Hold out round(n × fraction) random rows for validation, the same rows for the same seed. A
    fraction above zero holds out at least one row and always leaves one for training."""
    if n <= 0:
        return []
    k = round(n * validation_fraction) if validation_fraction > 0 else 0
    if validation_fraction > 0 and n >= 2:
        k = max(1, k)
    k = min(k, n - 1)
    chosen = set(random.Random(seed).sample(range(n), k)) if k > 0 else set()
    return ["validation" if i in chosen else "train" for i in range(n)]


_SPLIT_WORDS = {
    "": "train", "train": "train", "training": "train", "trn": "train", "0": "train", "false": "train",
    "validation": "validation", "valid": "validation", "val": "validation", "validate": "validation",
    "eval": "validation", "evaluation": "validation", "dev": "validation", "test": "validation",
    "holdout": "validation", "1": "validation", "true": "validation",
}


def split_by_column(values: Sequence[Any]) -> list[str]:
    """The split from a column of the user's table ("train"/"validation", also "val", "dev", "test",
    "eval", empty = train). Raises ValueError naming the first row it cannot read."""
    out = []
    for row, value in enumerate(values, start=1):
        word = _clean(value).strip().lower()
        if word not in _SPLIT_WORDS:
            raise ValueError(f"Row {row}'s split is '{_clean(value)}': use train or validation.")
        out.append(_SPLIT_WORDS[word])
    return out
