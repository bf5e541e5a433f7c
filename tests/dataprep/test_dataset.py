"""lib.dataprep.dataset: every import format, parse errors, export, the table helpers, the split, and the sample data."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from lib.dataprep import dataset as ds
from lib.dataprep.dataset import DEFAULT_SYSTEM_PROMPT, Dataset, ParseError, make_example, parse
from lib.dataprep.validation import validate

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "elements_limericks.jsonl"
ELEMENTS_CSV = Path("/work/shared/data/elements/PubChemElements_all.csv")


def chat(user: str, assistant: str, system: str | None = DEFAULT_SYSTEM_PROMPT) -> dict:
    return make_example(user, assistant, system)


EXAMPLES = [chat("Tell me about Neon", "Neon glows - red"), chat("Tell me about Gold", "Gold is heavy")]


# --------------------------------------------------------------------------------------- imports


def test_chat_jsonl():
    data = parse(ds.to_jsonl(EXAMPLES), "elle.jsonl")
    assert data.examples == EXAMPLES
    assert (data.name, data.format, data.split) == ("elle", "chat", ["train", "train"])
    assert data.system_prompt == DEFAULT_SYSTEM_PROMPT


def test_bom_crlf_and_blank_lines_keep_the_files_line_numbers():
    raw = "\ufeff" + "\r\n".join([json.dumps(EXAMPLES[0]), "", "   ", json.dumps(EXAMPLES[1]), ""])
    data = parse(raw.encode("utf-8"), "x.jsonl")
    assert data.examples == EXAMPLES
    assert data.line_numbers() == [1, 4]
    # Any edit makes a new Dataset, which numbers rows as the table does.
    assert dataclasses.replace(data, examples=data.examples[:1]).line_numbers() == [1]


def test_json_array():
    data = parse(json.dumps(EXAMPLES, indent=2), "elle.json")
    assert data.examples == EXAMPLES and data.line_numbers() == [1, 2]


def test_pretty_printed_single_object():
    data = parse(json.dumps(EXAMPLES[0], indent=2), "one.json")
    assert data.examples == [EXAMPLES[0]]


def test_line_that_is_json_but_not_an_object_is_kept():
    data = parse(json.dumps(EXAMPLES[0]) + "\n[1, 2]\n\"text\"\n", "x.jsonl")
    assert data.examples[1:] == [[1, 2], "text"]
    assert [(i.line, i.code) for i in validate(data.examples).errors if i.line] == [(2, "data_type"), (3, "data_type")]


def test_legacy_prompt_completion_converted_with_the_system_prompt():
    lines = [{"prompt": "Element: Gold\n\n###\n\n", "completion": " Atomic number: 79 END"},
             {"prompt": "Element: Neon\n\n###\n\n", "completion": " Atomic number: 10 END"}]
    data = parse("\n".join(json.dumps(line) for line in lines), "legacy.jsonl", system_prompt="Reply with the number.")
    assert data.format == "legacy"
    assert data.examples[0] == chat("Element: Gold", "Atomic number: 79", "Reply with the number.")
    assert data.system_prompt == "Reply with the number."


def test_legacy_sample_file():
    data = ds.load_file(ROOT / "sample_data" / "legacy_prompt_completion.jsonl")
    assert data.format == "legacy" and len(data.examples) == 10
    assert data.examples[-1]["messages"][1:] == [{"role": "user", "content": "Element: Gold"},
                                                  {"role": "assistant", "content": "Atomic number: 79"}]
    assert validate(data.examples).valid


def test_dpo_recognised():
    line = {"input": {"messages": [{"role": "user", "content": "Tell me about Strontium"}]},
            "preferred_output": [{"role": "assistant", "content": "thirty-eight"}],
            "non_preferred_output": [{"role": "assistant", "content": "the fortieth"}]}
    data = parse(json.dumps(line), "pairs.jsonl")
    assert data.format == "dpo" and data.examples == [line]


def test_csv_with_guessed_columns_and_spreadsheet_line_numbers():
    text = "question,answer,split\nTell me about Neon,\"Neon glows - red, bright\",train\n\nTell me about Gold,Gold,val\n"
    data = parse(text.encode("utf-8"), "elle.csv")
    assert data.examples == [chat("Tell me about Neon", "Neon glows - red, bright"), chat("Tell me about Gold", "Gold")]
    assert data.split == ["train", "validation"]
    assert data.line_numbers() == [2, 4]  # spreadsheet rows: the header is row 1, the blank row 3 is skipped


def test_csv_with_a_column_map_and_a_system_column():
    text = "persona;q;reply\nBe brief.;Tell me about Neon;Glows\n;Tell me about Gold;Heavy\n"
    data = parse(text, "x.csv", column_map={"system": "persona", "user": "q", "assistant": "reply"})
    assert data.examples == [chat("Tell me about Neon", "Glows", "Be brief."), chat("Tell me about Gold", "Heavy")]


def test_csv_without_a_user_column_asks_for_one():
    with pytest.raises(ParseError, match=r"^Choose the column that holds the user's question \(the table has: a, b\)\.$"):
        parse("a,b\n1,2\n", "x.csv")


def test_csv_with_a_ragged_line_names_it():
    with pytest.raises(ParseError) as err:
        parse("user,assistant\na,b\nc,d,e\n", "x.csv")
    assert err.value.line == 3 and str(err.value).startswith("Line 3 has 3 cells but the header has 2")


def test_xlsx():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Prompt", "Response"])
    sheet.append(["Tell me about Neon", "Neon glows"])
    sheet.append(["Atomic number of Gold?", 79])
    buffer = io.BytesIO()
    book.save(buffer)
    table = ds.read_table(buffer.getvalue(), "elle.xlsx")
    assert list(table.columns) == ["Prompt", "Response"]
    assert ds.guess_column_map(table.columns) == {"user": "Prompt", "assistant": "Response"}
    data = parse(buffer.getvalue(), "elle.xlsx")
    assert data.examples == [chat("Tell me about Neon", "Neon glows"), chat("Atomic number of Gold?", "79")]
    assert data.line_numbers() == [2, 3]


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["system", "user", "assistant"], {"system": "system", "user": "user", "assistant": "assistant"}),
        (["Question", "Answer"], {"user": "Question", "assistant": "Answer"}),
        (["prompt", "response"], {"user": "prompt", "assistant": "response"}),
        (["instruction", "output"], {"user": "instruction", "assistant": "output"}),
        (["id", "User question", "Assistant answer"], {"user": "User question", "assistant": "Assistant answer"}),
        (["notes", "other"], {}),
    ],
)
def test_guess_column_map(columns, expected):
    assert ds.guess_column_map(columns) == expected


def test_paste_labelled_blocks():
    text = ("System: Be Elle.\n"
            "Q: Tell me about Neon\n"
            "A: Neon, a gas with a glow -\n"
            "In a tube it will show\n"
            "\n"
            "Question: Tell me about Gold\n"
            "Answer: Heavy\n"
            "Q: Tell me about Tin\n")
    data = parse(text)
    assert data.examples == [chat("Tell me about Neon", "Neon, a gas with a glow -\nIn a tube it will show", "Be Elle."),
                             chat("Tell me about Gold", "Heavy", "Be Elle."),
                             chat("Tell me about Tin", "", "Be Elle.")]
    assert data.line_numbers() == [2, 6, 8]
    assert [(i.line, i.code) for i in validate(data.examples).errors] == [
        (None, "too_few_examples"), (3, "missing_content")]


def test_paste_alternating_paragraphs():
    data = parse("Tell me about Neon\n\nNeon glows\nred\n\n\nTell me about Gold\n\nHeavy\n")
    assert data.examples == [chat("Tell me about Neon", "Neon glows\nred"), chat("Tell me about Gold", "Heavy")]
    assert data.line_numbers() == [1, 7]


def test_paste_from_a_spreadsheet_is_tab_separated():
    data = parse("question\tanswer\nTell me about Neon\tNeon glows\n")
    assert data.examples == [chat("Tell me about Neon", "Neon glows")]


def test_paste_jsonl():
    assert parse(ds.to_jsonl(EXAMPLES)).examples == EXAMPLES


def test_paste_text_before_the_first_question():
    with pytest.raises(ParseError, match="^Line 1 comes before the first question"):
        parse("Hello there\nQ: Tell me about Neon\nA: Glows\n")


# ----------------------------------------------------------------------------------- parse errors


def test_not_utf8_names_the_line():
    data = json.dumps(EXAMPLES[0]).encode() + b"\n" + '{"messages": "Ångström"}'.encode("latin-1") + b"\n"
    with pytest.raises(ParseError) as err:
        parse(data, "x.jsonl")
    assert err.value.line == 2
    assert str(err.value) == ("Line 2 is not UTF-8 text (byte 0xc5 at column 15): save the file as UTF-8 and "
                              "import it again.")


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", "  \n\n"])
def test_empty_file(data):
    with pytest.raises(ParseError) as err:
        parse(data, "x.jsonl")
    assert err.value.line is None and str(err.value) == "The file is empty: add your examples, one per line."


def test_bad_json_line_is_named_in_one_sentence():
    lines = [json.dumps(e) for e in EXAMPLES * 2]
    lines[3] = '{"messages": [{"role": "user" "content": "Tell me about Neon"}]}'
    with pytest.raises(ParseError) as err:
        parse("\n".join(lines), "x.jsonl")
    assert err.value.line == 4
    assert str(err.value) == "Line 4 is not valid JSON: Expecting ',' delimiter at column 31."
    assert re.fullmatch(r"[^.]+\.", str(err.value))  # one sentence


def test_nan_is_not_json():
    with pytest.raises(ParseError, match="^Line 1 is not valid JSON: NaN is not allowed"):
        parse('{"weight": NaN}', "x.jsonl")


def test_missing_file():
    with pytest.raises(ParseError, match="^There is no file at "):
        ds.load_file("/nonexistent/elle.jsonl")


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
    data = ds.load_file(SAMPLE)
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
    trained = {e["messages"][1]["content"] for e in ds.load_file(SAMPLE).examples}
    with open(ROOT / "sample_data" / "held_out_prompts.jsonl", encoding="utf-8") as f:
        prompts = [json.loads(line)["prompt"] for line in f]
    assert prompts[0] == "Tell me about Strontium" and len(prompts) == 11
    assert not trained & set(prompts)


def test_read_table_gives_text_cells():
    table = ds.read_table("user,assistant,n\nNA,None,5\n", "x.csv")
    assert table.iloc[0].tolist() == ["NA", "None", "5"]
    assert isinstance(table, pd.DataFrame)


def test_every_broken_line_is_named_and_the_readable_rows_are_kept():
    lines = [json.dumps(e) for e in EXAMPLES * 3]
    lines[1] = "{broken"
    lines[4] = '{"messages": [}'
    with pytest.raises(ParseError) as err:
        parse("\n".join(lines), "x.jsonl")
    assert err.value.line == 2
    assert [line for line, _ in err.value.broken] == [2, 5]
    assert str(err.value).startswith("Lines 2 and 5 are not valid JSON. Line 2 is not valid JSON")
    readable = err.value.readable
    assert readable is not None and len(readable.examples) == len(lines) - 2
    assert readable.line_numbers() == [n for n in range(1, len(lines) + 1) if n not in (2, 5)]
