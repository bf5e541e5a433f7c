"""lib.dataprep.readers: every import format (JSONL, JSON, CSV, XLSX, legacy, DPO, pasted text) and parse errors."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from lib.dataprep import dataset as ds
from lib.dataprep import readers
from lib.dataprep.dataset import DEFAULT_SYSTEM_PROMPT, ParseError
from lib.dataprep.readers import parse
from lib.dataprep.validation import validate
from tests.dataprep.test_dataset import EXAMPLES, chat

ROOT = Path(__file__).resolve().parents[2]


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
    data = readers.load_file(ROOT / "sample_data" / "legacy_prompt_completion.jsonl")
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
    table = readers.read_table(buffer.getvalue(), "elle.xlsx")
    assert list(table.columns) == ["Prompt", "Response"]
    assert readers.guess_column_map(table.columns) == {"user": "Prompt", "assistant": "Response"}
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
    assert readers.guess_column_map(columns) == expected


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
        readers.load_file("/nonexistent/elle.jsonl")


def test_read_table_gives_text_cells():
    table = readers.read_table("user,assistant,n\nNA,None,5\n", "x.csv")
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


def test_values_orjson_refuses_are_read_as_the_json_module_reads_them():
    """Lines are read by orjson first; a wide integer and a lone surrogate escape are still read (by json)."""
    data = parse('{"messages": [], "n": 123456789012345678901234567890, "s": "\\ud800"}\n', "x.jsonl")
    assert data.examples[0]["n"] == 123456789012345678901234567890
    assert data.examples[0]["s"] == "\ud800"
