"""lib.dataprep.dataset: export, the table helpers, the split, and the sample data (reading: test_readers.py)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from pathlib import Path

import pytest

from lib.dataprep import dataset as ds
from lib.dataprep import readers
from lib.dataprep.dataset import DEFAULT_SYSTEM_PROMPT, Dataset, make_example
from lib.dataprep.readers import parse
from lib.dataprep.validation import validate

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "elements_limericks.jsonl"
ELEMENTS_CSV = Path("/work/shared/data/elements/PubChemElements_all.csv")


def chat(user: str, assistant: str, system: str | None = DEFAULT_SYSTEM_PROMPT) -> dict:
    return make_example(user, assistant, system)


EXAMPLES = [chat("Tell me about Neon", "Neon glows - red"), chat("Tell me about Gold", "Gold is heavy")]


# ------------------------------------------------------------------------------------------ export


def test_to_jsonl_is_exactly_what_is_uploaded():
    examples = [chat("Tell me about Ångström?", "Å – ok", None), [1, 2]]
    assert ds.to_jsonl(examples) == (
        '{"messages":[{"role":"user","content":"Tell me about Ångström?"},'
        '{"role":"assistant","content":"Å – ok"}]}\n[1,2]\n'
    )
    assert ds.to_jsonl([]) == ""
    assert parse(ds.to_jsonl(EXAMPLES)).examples == EXAMPLES


def test_to_csv_round_trips_multi_turn_rows_and_the_split():
    multi = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0},
                          {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}
    examples = [EXAMPLES[0], multi]
    text = ds.to_csv(examples, ["train", "validation"])
    assert next(csv.reader(io.StringIO(text))) == ["system", "user", "assistant", "split", "json"]
    back = parse(text, "x.csv")
    assert back.examples == examples and back.split == ["train", "validation"]
    assert ds.to_csv(EXAMPLES).splitlines()[0] == "system,user,assistant"


# ------------------------------------------------------------------------------------------ table

MULTI = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello", "weight": 0},
                      {"role": "user", "content": "Neon?"}, {"role": "assistant", "content": "Glows"}]}


def test_apply_system_prompt():
    examples = [chat("a", "b", None), chat("c", "d", "old"), [1], MULTI]
    out = ds.apply_system_prompt(examples, "new")
    assert out[0]["messages"][0] == {"role": "system", "content": "new"}
    assert out[1]["messages"][0] == {"role": "system", "content": "new"} and len(out[1]["messages"]) == 3
    assert out[2] == [1]
    assert examples[0] == chat("a", "b", None)  # the input is not changed
    assert ds.apply_system_prompt(out, "")[1] == chat("c", "d", None)
    data = ds.apply_system_prompt(Dataset(examples=[chat("a", "b")], split=["validation"]), "P")
    assert data.system_prompt == "P" and data.examples[0]["messages"][0]["content"] == "P"
    assert data.split == ["validation"]


def test_duplicate_row():
    assert ds.duplicate_row(EXAMPLES, 0) == [EXAMPLES[0], EXAMPLES[0], EXAMPLES[1]]
    assert ds.duplicate_row(EXAMPLES, 0)[1] is not EXAMPLES[0]
    data = ds.duplicate_row(Dataset(examples=list(EXAMPLES), split=["validation", "train"]), 0)
    assert data.split == ["validation", "validation", "train"]


def test_messages_of_and_set_messages_for_multi_turn_editing():
    messages = ds.messages_of(MULTI)
    assert messages == MULTI["messages"] and messages is not MULTI["messages"]
    messages[1]["weight"] = "1"  # what a text widget gives back
    messages[0]["weight"] = 1  # weights on user messages are dropped
    messages[2]["name"] = None
    messages.append({"role": "assistant", "content": "More", "weight": None})
    new = ds.set_messages(dict(MULTI, tools=[]), messages)
    assert new["messages"][0] == {"role": "user", "content": "Hi"}
    assert new["messages"][1]["weight"] == 1
    assert new["messages"][2] == {"role": "user", "content": "Neon?"}
    assert new["messages"][4] == {"role": "assistant", "content": "More"}
    assert new["tools"] == [] and MULTI["messages"][1]["weight"] == 0
    pair = {"input": {"messages": [{"role": "user", "content": "q"}]}, "preferred_output": []}
    assert ds.messages_of(pair) == [{"role": "user", "content": "q"}]
    assert ds.set_messages(pair, [{"role": "user", "content": "r"}])["input"]["messages"][0]["content"] == "r"


# ------------------------------------------------------------------------------------------ split


def test_split_random_is_deterministic():
    first = ds.split_random(20, 0.2, seed=1)
    assert first == ds.split_random(20, 0.2, seed=1)
    assert first.count("validation") == 4 and len(first) == 20
    assert first != ds.split_random(20, 0.2, seed=2)
    assert ds.split_random(12, 0.0, 0) == ["train"] * 12
    assert ds.split_random(3, 0.01, 0).count("validation") == 1  # at least one held out
    assert ds.split_random(2, 0.9, 0).count("train") == 1  # at least one to train on
    assert ds.split_random(0, 0.2, 0) == []


def test_split_by_column():
    assert ds.split_by_column(["train", "", "Validation", "val", "dev", "TEST", None]) == [
        "train", "train", "validation", "validation", "validation", "validation", "train"]
    with pytest.raises(ValueError, match="^Row 2's split is 'later': use train or validation.$"):
        ds.split_by_column(["train", "later"])


def test_split_stays_with_the_dataset():
    data = Dataset(examples=list(EXAMPLES) + [MULTI], split=["train", "validation"])
    assert data.splits() == ["train", "validation", "train"]
    assert data.train_examples() == [EXAMPLES[0], MULTI]
    assert data.validation_examples() == [EXAMPLES[1]]
    assert Dataset.from_dict(data.to_dict()) == dataclasses.replace(data, split=data.splits())


# ------------------------------------------------------------------------------------ sample data

NUMBER_WORDS = {"one": 1, "two": 2, "six": 6, "eight": 8, "ten": 10, "eleven": 11, "twenty-six": 26,
                "twenty-nine": 29, "thirty-one": 31, "forty-seven": 47, "seventy-nine": 79, "eighty": 80}


def test_sample_dataset_is_the_seeds_format_with_one_seeded_mistake():
    data = readers.load_file(SAMPLE)
    assert len(data.examples) == 12 and data.format == "chat"
    empty = [i for i, e in enumerate(data.examples) if e["messages"][2]["content"] == ""]
    assert empty == [7]
    report = validate(data.examples)
    assert [(i.line, i.code) for i in report.issues] == [(8, "missing_content")]
    with open(ELEMENTS_CSV, encoding="utf-8") as f:
        numbers = {row["Name"]: int(row["AtomicNumber"]) for row in csv.DictReader(f)}
    for example in data.examples:
        system, user, assistant = example["messages"]
        assert system == {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
        element = user["content"].removeprefix("Tell me about ")
        assert user["role"] == "user" and element in numbers
        if assistant["content"]:
            lines = assistant["content"].split(" - ")
            assert len(lines) == 5, element
            stated = [n for w, n in NUMBER_WORDS.items() if re.search(rf"\b{w}\b", lines[0].lower())]
            assert numbers[element] in stated, (element, lines[0])


def test_held_out_prompts_are_not_in_training():
    trained = {e["messages"][1]["content"] for e in readers.load_file(SAMPLE).examples}
    with open(ROOT / "sample_data" / "held_out_prompts.jsonl", encoding="utf-8") as f:
        prompts = [json.loads(line)["prompt"] for line in f]
    assert prompts[0] == "Tell me about Strontium" and len(prompts) == 11
    assert not trained & set(prompts)
