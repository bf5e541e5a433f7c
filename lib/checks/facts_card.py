"""The facts card: the true facts of the element a question is about, put in the system message.

Why: a 135M-parameter model cannot remember 118 atomic numbers (the sample's fine-tuned SmolLM2 stated a
wrong one in 18 of 20 unseen elements), and the demo is about the limerick's form, not the model's memory.
With the card on, every training row and every question carries one short line from the element table
("Facts: Strontium (Sr), atomic number 38 (thirty eight), a solid at room temperature, discovered in 1790."),
so the model learns to put the given facts into rhyme instead of inventing them. The card is added where
rows leave for training and where questions leave for a model, never stored in the dataset, so the user's
rows and their exports stay their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lib.checks import elements, facts
from lib.checks.pronunciation import number_to_words
from lib.dataprep import dataset

PREFIX = "Facts:"
METADATA_KEY = "facts_card"  # a job's metadata says "on" when its rows carried the card

def card(element: elements.Element) -> str:
    """One line a small model can copy from: name, symbol, atomic number in digits and words, state, discovery."""
    parts = [f"{element.name} ({element.symbol})",
             f"atomic number {element.atomic_number} ({number_to_words(element.atomic_number)})"]
    if element.state:
        parts.append(f"a {element.state} at room temperature")
    parts.append(f"discovered in {element.discovery_year}" if element.discovery_year else "known since ancient times")
    return f"{PREFIX} " + ", ".join(parts) + "."


def card_for(question: str) -> str | None:
    """The card of the element a question asks about (None when it names none)."""
    element = facts.find_element(question)
    return card(element) if element is not None else None


def with_card(question: str, system_prompt: str | None) -> str | None:
    """The system prompt followed by the question's card; unchanged when the question names no element or
    the prompt already carries a card."""
    line = card_for(question)
    if line is None or (system_prompt and PREFIX in system_prompt):
        return system_prompt
    return f"{system_prompt}\n{line}" if system_prompt else line


def _question(example: Any) -> str | None:
    messages = example.get("messages") if isinstance(example, dict) else None
    if not isinstance(messages, list):
        return None
    question = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
    return question if isinstance(question, str) else None


def card_for_row(example: Any) -> str | None:
    """The card a chat row would carry (None for a row naming no element, or not a chat row)."""
    question = _question(example)
    return card_for(question) if question else None


def applies(examples: Sequence[Any], *, look_at: int = 50) -> bool:
    """Whether a card would reach any row: some of the first `look_at` chat rows ask about an element."""
    return any(map(card_for_row, examples[:look_at]))


def add_to_rows(examples: Iterable[Any]) -> list[Any]:
    """Copies of chat rows whose system message (added when missing) ends with the card of the element the
    row's first question asks about. Rows naming no element, already carrying a card, or not chat rows, are
    kept as they are."""
    out = []
    for example in examples:
        question = _question(example)
        if question is None:
            out.append(example)
            continue
        system = next((m for m in example["messages"] if isinstance(m, dict) and m.get("role") == "system"), None)
        before = system.get("content") if system else None
        after = with_card(question, before if isinstance(before, str) else None)
        if after is None or after == before:
            out.append(example)
            continue
        out.extend(dataset.apply_system_prompt([example], after))  # a copy with that system message
    return out


def is_on(metadata: dict[str, Any] | None) -> bool:
    """Whether a job's metadata says its rows carried the card (so its model is asked with one too)."""
    return str((metadata or {}).get(METADATA_KEY, "")).lower() == "on"
