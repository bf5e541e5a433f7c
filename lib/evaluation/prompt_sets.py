"""Prompt sets: the questions a batch comparison or a score asks, read from a file or a dataset.

Users bring prompts in several shapes (JSONL with a "prompt" field, chat JSONL, a JSON list, plain
lines, an uploaded file); this module turns any of them into a list of questions, and says which
line is wrong when one holds no prompt. It knows nothing about models or calls.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["load_prompts", "prompts_from_examples"]


def _read_source(source: Any) -> str:
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    elif isinstance(source, os.PathLike):
        data = Path(source).read_bytes()
    elif isinstance(source, str):
        if "\n" not in source and len(source) < 4096 and Path(source).is_file():
            data = Path(source).read_bytes()
        else:
            return source
    elif hasattr(source, "getvalue"):  # Streamlit's UploadedFile, io.BytesIO
        data = source.getvalue()
    elif hasattr(source, "read"):
        data = source.read()
    else:
        raise TypeError(f"Cannot read prompts from {type(source).__name__}.")
    if isinstance(data, str):
        return data
    return data.decode("utf-8-sig", errors="replace")


def _prompt_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("messages"), list):
        users = [m.get("content") for m in value["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        users = [u for u in users if isinstance(u, str) and u.strip()]
        return users[-1].strip() if users else None
    for key in ("prompt", "question", "input", "user", "text"):
        if isinstance(value.get(key), str) and value[key].strip():
            return value[key].strip()
    return None


def load_prompts(source: Any) -> list[str]:
    """Prompts from a file, bytes or text: JSONL with "prompt", chat JSONL (last user message), or plain lines.

    Raises ValueError with a plain sentence naming the line when a JSON line holds no prompt.
    """
    text = _read_source(source)
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        with contextlib.suppress(ValueError):
            values = json.loads(stripped)
            if isinstance(values, list):
                prompts = [p for p in (_prompt_of(v) for v in values) if p]
                if prompts:
                    return prompts
    prompts: list[str] = []
    for number, line in enumerate(io.StringIO(text), start=1):
        line = line.strip()
        if not line:
            continue
        if line[0] in "{[\"":
            try:
                value = json.loads(line)
            except ValueError:
                value = None
                if line.startswith("{"):
                    raise ValueError(f"Line {number} looks like JSON but is not valid JSON.") from None
            if value is not None:
                prompt = _prompt_of(value)
                if prompt is None:
                    raise ValueError(
                        f"Line {number} has no prompt: expected a \"prompt\" field or a user message."
                    )
                prompts.append(prompt)
                continue
        prompts.append(line)
    if not prompts:
        raise ValueError("The prompt file has no prompts.")
    return prompts


def prompts_from_examples(examples: Iterable[Any]) -> list[str]:
    """The user question of each dataset example (the validation split as a prompt set)."""
    return [p for p in (_prompt_of(e) for e in examples) if p]
