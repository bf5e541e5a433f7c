"""The dataset as an editable table: one row per example, edits applied back to the JSON examples.

Chat examples show system / user / assistant; DPO examples show system / user / preferred /
non-preferred. A multi-turn example shows its first system prompt and its *last* user and assistant
turns (those are what a table edit changes); its other turns are edited message by message.
The table editor reports changes by displayed position, so every function takes `positions`:
the example index behind each displayed row (the view may be filtered).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from lib.dataprep import dataset as ds

CHAT_COLUMNS = ("system", "user", "assistant")
DPO_COLUMNS = ("system", "user", "preferred", "non_preferred")


def columns(fmt: str) -> tuple[str, ...]:
    return DPO_COLUMNS if fmt == "dpo" else CHAT_COLUMNS


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else json.dumps(value, ensure_ascii=False))


def _find(messages: list, role: str, last: bool = False) -> dict | None:
    found = [m for m in messages if isinstance(m, dict) and m.get("role") == role]
    if not found:
        return None
    return found[-1] if last else found[0]


def turns(example: Any) -> int:
    """Number of user turns: 1 for a single-turn example."""
    return sum(1 for m in ds.conversation(example) if m.get("role") == "user")


def row(example: Any, fmt: str = "chat") -> dict[str, str]:
    """The table row of one example (text only: a cell never holds JSON structures)."""
    if not isinstance(example, dict):
        return {c: "" for c in columns(fmt)} | {"user": f"(not an example: {_text(example)[:80]})"}
    messages = ds.conversation(example)  # read only
    out = {
        "system": _text((_find(messages, "system") or {}).get("content")),
        "user": _text((_find(messages, "user", last=True) or {}).get("content")),
    }
    if fmt == "dpo":
        for col, key in (("preferred", "preferred_output"), ("non_preferred", "non_preferred_output")):
            outputs = example.get(key) if isinstance(example.get(key), list) else []
            out[col] = _text((_find(outputs, "assistant", last=True) or {}).get("content"))
    else:
        out["assistant"] = _text((_find(messages, "assistant", last=True) or {}).get("content"))
    return out


def rows(examples: list, fmt: str = "chat") -> list[dict[str, str]]:
    return [row(example, fmt) for example in examples]


def _set_role(messages: list, role: str, text: str) -> None:
    """Set the content of the message the table shows for `role`, creating it in a sensible place."""
    target = _find(messages, role, last=role != "system")
    if target is not None:
        target["content"] = text
        return
    if not text:
        return
    if role == "system":
        messages.insert(0, {"role": "system", "content": text})
    elif role == "user":
        index = next((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"),
                     len(messages))
        messages.insert(index, {"role": "user", "content": text})
    else:
        messages.append({"role": role, "content": text})


def _set_output(example: dict, key: str, text: str) -> None:
    outputs = example.get(key)
    if not isinstance(outputs, list) or not outputs:
        example[key] = [{"role": "assistant", "content": text}]
        return
    target = _find(outputs, "assistant", last=True)
    if target is None:
        outputs.append({"role": "assistant", "content": text})
    else:
        target["content"] = text


def set_cells(example: Any, values: dict[str, Any], fmt: str = "chat") -> dict:
    """Return a copy of `example` with the given table cells changed."""
    new = copy.deepcopy(example) if isinstance(example, dict) else {}
    if fmt == "dpo":
        new.setdefault("input", {}).setdefault("messages", [])
        messages = new["input"]["messages"]
    else:
        if not isinstance(new.get("messages"), list):
            new["messages"] = []
        messages = new["messages"]
    for column, value in values.items():
        text = "" if value is None else str(value)
        if column in ("system", "user", "assistant"):
            _set_role(messages, column, text)
        elif column == "preferred":
            _set_output(new, "preferred_output", text)
        elif column == "non_preferred":
            _set_output(new, "non_preferred_output", text)
    return new


def new_example(values: dict[str, Any], fmt: str = "chat", system_prompt: str = "") -> dict:
    """An example built from a row the user added (the default system prompt fills an empty one)."""
    values = dict(values)
    if not values.get("system") and system_prompt:
        values["system"] = system_prompt
    ordered = {c: values.get(c) or "" for c in columns(fmt)}
    if fmt == "dpo":
        return set_cells({"input": {"messages": []}}, ordered, fmt)
    messages = [{"role": role, "content": ordered[role]} for role in CHAT_COLUMNS if ordered[role] or role != "system"]
    return {"messages": messages}


def apply_edits(
    examples: list, positions: list[int], delta: dict, fmt: str = "chat", system_prompt: str = ""
) -> tuple[list, list[int]]:
    """Apply a table editor's changes (`edited_rows`, `added_rows`, `deleted_rows` by displayed
    position) to the examples. Returns the new examples and the indexes of deleted examples (for undo)."""
    new = list(examples)
    for position, values in (delta.get("edited_rows") or {}).items():
        index = positions[int(position)]
        new[index] = set_cells(new[index], values, fmt)
    deleted = sorted({positions[int(p)] for p in delta.get("deleted_rows") or [] if int(p) < len(positions)})
    for index in reversed(deleted):
        del new[index]
    for values in delta.get("added_rows") or []:
        if any(str(v or "").strip() for v in values.values()):
            new.append(new_example(values, fmt, system_prompt))
    return new, deleted


def edit_dataset(dataset: Any, positions: list[int], delta: dict) -> tuple[Any, list]:
    """Apply table edits to a `lib.dataprep.dataset.Dataset`, keeping its train/validation split parallel.

    Returns the new dataset and the deleted examples (so the page can offer an undo)."""
    import dataclasses

    examples, deleted = apply_edits(dataset.examples, positions, delta, dataset.format, dataset.system_prompt)
    split = dataset.splits()
    for index in reversed(deleted):
        del split[index]
    split += ["train"] * (len(examples) - len(split))
    removed = [dataset.examples[i] for i in deleted]
    return dataclasses.replace(dataset, examples=examples, split=split), removed
