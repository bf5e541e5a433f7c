"""lib.dataprep.validation: the Cookbook's seven checks (same codes, same counts), the extensions, warnings, DPO, coach."""

from __future__ import annotations

import copy
import json
import random
import string
from collections import defaultdict

import pytest

from lib.dataprep.check import check as check_dataset
from lib.dataprep.dataset import DEFAULT_SYSTEM_PROMPT, make_example
from lib.dataprep.readers import load_file
from lib.dataprep.validation import COOKBOOK_CODES, Issue, coach, validate, validate_dpo

SAMPLE = "sample_data/elements_limericks.jsonl"


def cookbook_format_errors(dataset: list) -> dict[str, int]:
    """The format-check loop of openai-cookbook examples/Chat_finetuning_data_prep.ipynb, as written there."""
    format_errors: dict[str, int] = defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        assistant_message_exists = any(message.get("role", None) == "assistant" for message in messages)
        if not assistant_message_exists:
            format_errors["example_missing_assistant_message"] += 1
    return dict(format_errors)


ELEMENTS = ["Hydrogen", "Helium", "Lithium", "Carbon", "Nitrogen", "Oxygen", "Neon", "Sodium", "Iron", "Copper",
            "Zinc", "Gold"]


def good(i: int) -> dict:
    element = ELEMENTS[i % len(ELEMENTS)]
    return make_example(f"Tell me about {element}", f"A limerick about {element}, number {i} - with five lines - ok")


def write_file(tmp_path, lines: list[str], name: str = "data.jsonl"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def with_bad_line(tmp_path, bad: str, at: int = 4, total: int = 11):
    lines = [json.dumps(good(i)) for i in range(total - 1)]
    lines.insert(at - 1, bad)
    return write_file(tmp_path, lines)


def check_file(path) -> tuple[list[tuple[int | None, str]], dict[str, int]]:
    """Our errors as (line, code), and asserts our counts equal the Cookbook's on the same file."""
    dataset = load_file(path)
    report = validate(dataset.examples, line_numbers=dataset.line_numbers())
    with open(path, encoding="utf-8") as f:
        cookbook = cookbook_format_errors([json.loads(line) for line in f])
    assert report.error_counts == cookbook
    return [(i.line, i.code) for i in report.errors], report.error_counts


def msgs(*messages: dict) -> str:
    return json.dumps({"messages": list(messages)})


SYS = {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
USER = {"role": "user", "content": "Tell me about Strontium"}
ANSWER = {"role": "assistant", "content": "Strontium is element thirty-eight - ..."}


# ---------------------------------------------------------------------- the seven Cookbook checks


def test_data_type(tmp_path):
    errors, counts = check_file(with_bad_line(tmp_path, "[1, 2]", at=4))
    assert errors == [(4, "data_type")]
    assert counts == {"data_type": 1}


def test_missing_messages_list(tmp_path):
    errors, _ = check_file(with_bad_line(tmp_path, json.dumps({"messages": []}), at=2))
    assert errors == [(2, "missing_messages_list")]


def test_missing_messages_list_when_key_absent(tmp_path):
    errors, counts = check_file(with_bad_line(tmp_path, json.dumps({"prompt": "a", "completion": "b"}), at=11))
    assert errors == [(11, "missing_messages_list")]
    assert counts == {"missing_messages_list": 1}


def test_message_missing_key_counts_like_cookbook(tmp_path):
    # No "content": the Cookbook counts the message under message_missing_key AND missing_content.
    errors, counts = check_file(with_bad_line(tmp_path, msgs(SYS, {"role": "user"}, ANSWER), at=5))
    assert errors == [(5, "message_missing_key"), (5, "missing_content")]
    assert counts == {"message_missing_key": 1, "missing_content": 1}


def test_message_unrecognized_key(tmp_path):
    bad = msgs(SYS, {"role": "user", "content": "hi", "text": "hi"}, ANSWER)
    errors, _ = check_file(with_bad_line(tmp_path, bad, at=3))
    assert errors == [(3, "message_unrecognized_key")]


def test_unrecognized_role(tmp_path):
    errors, _ = check_file(with_bad_line(tmp_path, msgs(SYS, {"role": "human", "content": "hi"}, ANSWER), at=7))
    assert errors == [(7, "unrecognized_role")]


def test_missing_content(tmp_path):
    errors, _ = check_file(with_bad_line(tmp_path, msgs(SYS, USER, {"role": "assistant", "content": ""}), at=8))
    assert errors == [(8, "missing_content")]


def test_missing_content_not_a_string(tmp_path):
    errors, _ = check_file(with_bad_line(tmp_path, msgs(SYS, {"role": "user", "content": 38}, ANSWER), at=1))
    assert errors == [(1, "missing_content")]


def test_example_missing_assistant_message(tmp_path):
    errors, _ = check_file(with_bad_line(tmp_path, msgs(SYS, USER), at=10))
    assert errors == [(10, "example_missing_assistant_message")]


def test_several_problems_in_one_file_count_per_message(tmp_path):
    lines = [json.dumps(good(i)) for i in range(10)]
    lines[2] = msgs(SYS, {"role": "bot"}, {"role": "bot", "content": ""})  # 2 messages, several counts each
    lines[5] = "5"
    path = write_file(tmp_path, lines)
    errors, counts = check_file(path)
    assert counts["unrecognized_role"] == 2 and counts["missing_content"] == 2
    assert counts["example_missing_assistant_message"] == 1 and counts["data_type"] == 1
    assert {line for line, _ in errors} == {3, 6}


def test_every_issue_has_a_plain_message_and_a_readable_field(tmp_path):
    path = with_bad_line(tmp_path, msgs(SYS, USER, {"role": "assistant", "content": ""}), at=8)
    report = validate(load_file(path).examples)
    (issue,) = report.issues
    assert issue == Issue(8, "messages[2].content", "missing_content", "error", issue.message)
    assert issue.message.startswith("Row 8's answer (message 3) is empty:")
    assert report.valid is False


def test_line_numbers_are_the_files_own_when_it_has_blank_lines(tmp_path):
    lines = [json.dumps(good(i)) for i in range(10)]
    lines.insert(3, "")
    lines.insert(6, msgs(SYS, USER))  # file line 7, example 6
    path = write_file(tmp_path, lines)
    dataset = load_file(path)
    assert validate(dataset.examples, line_numbers=dataset.line_numbers()).errors[0].line == 7
    assert validate(dataset.examples).errors[0].line == 6  # row numbers when not asked for file lines


def test_cookbook_codes_are_the_notebooks():
    assert COOKBOOK_CODES == ("data_type", "missing_messages_list", "message_missing_key",
                              "message_unrecognized_key", "unrecognized_role", "missing_content",
                              "example_missing_assistant_message")


# --------------------------------------------------------------------------------- extensions


def ten(example: dict) -> list:
    return [good(i) for i in range(9)] + [example]


def test_tools_and_tool_role_are_accepted():
    example = {
        "messages": [
            SYS, USER,
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                                  "function": {"name": "lookup", "arguments": "{\"z\": 38}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"name\": \"Strontium\"}"},
            {"role": "assistant", "content": "Strontium, thirty-eight - ...", "weight": 1},
            {"role": "assistant", "refusal": "I cannot help with that."},
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        "parallel_tool_calls": False,
    }
    report = validate(ten(example))
    assert report.valid, report.issues
    # The notebook itself would reject it (the quirks the reference lists):
    assert cookbook_format_errors([example])["unrecognized_role"] == 1


def test_function_call_with_null_content_is_fine():
    example = {"messages": [USER, {"role": "assistant", "content": None,
                                   "function_call": {"name": "f", "arguments": "{}"}},
                            {"role": "function", "name": "f", "content": "38"}, ANSWER],
               "functions": [{"name": "f", "parameters": {}}]}
    assert validate(ten(example)).errors == []


def test_tool_message_needs_its_call_id():
    example = {"messages": [USER, {"role": "tool", "content": "38"}, ANSWER]}
    (issue,) = validate(ten(example)).errors
    assert (issue.line, issue.code, issue.field) == (10, "message_missing_key", "messages[1].tool_call_id")


@pytest.mark.parametrize("weight", [2, -1, "1", True, None])
def test_weight_must_be_0_or_1(weight):
    example = {"messages": [SYS, USER, {"role": "assistant", "content": "a", "weight": weight}]}
    (issue,) = validate(ten(example)).errors
    assert (issue.line, issue.code, issue.field) == (10, "invalid_weight", "messages[2].weight")


def test_weight_only_on_assistant_messages():
    example = {"messages": [SYS, {"role": "user", "content": "q", "weight": 1}, ANSWER]}
    (issue,) = validate(ten(example)).errors
    assert (issue.code, issue.field) == ("invalid_weight", "messages[1].weight")
    ok = {"messages": [SYS, USER, dict(ANSWER, weight=0), USER, dict(ANSWER, weight=1)]}
    assert validate(ten(ok)).valid


def test_too_few_examples():
    report = validate([good(i) for i in range(9)])
    assert [(i.line, i.code, i.field) for i in report.errors] == [(None, "too_few_examples", "dataset")]
    assert "add 1 more" in report.errors[0].message
    assert validate([good(i) for i in range(10)]).valid


# ----------------------------------------------------------------------------------- warnings


def codes(report) -> list[tuple[int | None, str]]:
    return [(i.line, i.code) for i in report.warnings]


def test_missing_system_and_user_messages_warn():
    examples = [good(i) for i in range(10)]
    examples[3] = {"messages": [USER, ANSWER]}
    examples[6] = {"messages": [SYS, ANSWER]}
    report = validate(examples)
    assert report.valid
    assert codes(report) == [(4, "missing_system_message"), (7, "missing_user_message")]


def test_exact_duplicate():
    examples = [good(i) for i in range(10)]
    examples[8] = copy.deepcopy(examples[2])
    report = validate(examples)
    assert codes(report) == [(9, "duplicate_example")]
    assert "exact copy of row 3" in report.warnings[0].message


def test_near_duplicate():
    examples = [good(i) for i in range(10)]
    examples[8] = copy.deepcopy(examples[2])
    examples[8]["messages"][2]["content"] = examples[2]["messages"][2]["content"].replace("ok", "OK!")
    report = validate(examples)
    assert codes(report) == [(9, "near_duplicate")]
    assert report.warnings[0].message.startswith("Row 9 is almost the same as row 3")


def test_near_duplicate_short_rows_that_differ_in_a_number():
    examples = [good(i) for i in range(10)]
    examples.append(make_example("Tell me about Strontium", "Strontium is element 38 of the table."))
    examples.append(make_example("Tell me about Strontium", "Strontium is element 39 of the table."))
    report = validate(examples)
    assert codes(report) == [(12, "near_duplicate")]
    assert report.warnings[0].message.startswith("Row 12 is almost the same as row 11 (9")


def test_similar_questions_with_different_answers_are_not_near_duplicates():
    report = validate(load_file(SAMPLE).examples)  # "Tell me about X" eleven times, different limericks
    assert report.warnings == []


def test_empty_answer_warning_for_whitespace():
    examples = [good(i) for i in range(10)]
    examples[4]["messages"][2]["content"] = "   "
    report = validate(examples)
    assert report.valid and codes(report) == [(5, "empty_answer")]


def test_one_system_prompt_differs_from_the_rest():
    examples = [good(i) for i in range(10)]
    examples[6]["messages"][0]["content"] = DEFAULT_SYSTEM_PROMPT.replace("factual", "factal")
    report = validate(examples)
    assert codes(report) == [(7, "system_prompt_differs")]
    assert report.warnings[0].message.startswith("Row 7's system prompt differs from the one the other 9 rows use")
    assert report.warnings[0].field == "messages[0].content"


def test_mixed_system_prompts_on_purpose_are_left_alone():
    examples = [good(i) for i in range(10)]
    for i in range(5):
        examples[i]["messages"][0]["content"] = "Another persona"
    assert validate(examples).warnings == []


def test_over_token_limit_when_counts_are_given():
    examples = [good(i) for i in range(10)]
    report = validate(examples, token_counts=[50] * 9 + [70_000], token_limit=65_536, model="gpt-4o-mini")
    assert codes(report) == [(10, "over_token_limit")]
    assert "70,000 tokens" in report.warnings[0].message and "65,536" in report.warnings[0].message
    assert validate(examples, token_counts=[50] * 10).warnings == []


def test_a_near_copy_among_ten_thousand_rows_is_found():
    rng = random.Random(7)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 8))) for _ in range(3000)]
    examples = [make_example(f"Tell me about {rng.choice(words)}",
                             " - ".join(" ".join(rng.choices(words, k=7)) for _ in range(5)))
                for _ in range(10_000)]
    examples[9_000] = copy.deepcopy(examples[10])
    examples[9_000]["messages"][2]["content"] += "!"
    report = validate(examples)  # how fast: benchmarks/check_speed.py
    assert codes(report) == [(9_001, "near_duplicate")]


# ---------------------------------------------------------------------------------------- DPO


def pair(i: int, **changes) -> dict:
    example = {
        "input": {"messages": [SYS, {"role": "user", "content": f"Tell me about {ELEMENTS[i % 12]} ({i})"}]},
        "preferred_output": [{"role": "assistant", "content": "A true limerick"}],
        "non_preferred_output": [{"role": "assistant", "content": "A wrong limerick"}],
    }
    example.update(changes)
    return example


def test_dpo_valid_pairs():
    report = validate([pair(i) for i in range(10)], format="dpo")
    assert report.format == "dpo" and report.valid and report.issues == []


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"input": None}, "missing_input", "input"),
        ({"input": {"messages": []}}, "missing_messages_list", "input.messages"),
        ({"preferred_output": []}, "missing_output", "preferred_output"),
        ({"non_preferred_output": [{"role": "user", "content": "x"}]}, "output_not_assistant",
         "non_preferred_output[0].role"),
        ({"non_preferred_output": [{"role": "assistant", "content": "A true limerick"}]}, "identical_outputs",
         "non_preferred_output"),
        ({"preferred_output": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]},
         "too_many_outputs", "preferred_output"),
    ],
)
def test_dpo_rules(changes, code, field):
    examples = [pair(i) for i in range(10)]
    examples[3] = pair(3, **changes)
    report = validate_dpo(examples)
    assert [(i.line, i.code, i.field) for i in report.errors] == [(4, code, field)]


# ---------------------------------------------------------------------------- report and coach


def test_sample_report_and_coach():
    dataset = load_file(SAMPLE)
    report = check_dataset(dataset, file_lines=True).report
    assert [(i.line, i.code) for i in report.issues] == [(8, "missing_content")]
    assert report.summary() == "12 chat examples: not ready to upload (1 error, 0 warnings)."
    advice = coach(report, len(dataset.examples))
    assert "12 examples" in advice[0] and "50–100" in advice[0]
    assert advice[1].startswith("Fix first (row 8):") and "empty" in advice[1]
    assert advice[-1].startswith("A good example has")


def test_coach_most_common_problem_first_and_too_few():
    examples = [good(i) for i in range(5)]
    examples[0] = {"messages": [USER, ANSWER]}
    examples[1] = {"messages": [USER, {"role": "assistant", "content": ""}]}
    examples[2] = {"messages": [USER, {"role": "assistant", "content": ""}]}
    advice = coach(validate(examples), 5)
    assert advice[0].startswith("You have 5 examples. OpenAI needs at least 10") and "add 5 more" in advice[0]
    assert advice[1].startswith("Fix first (rows 2, 3):")  # errors first
    assert advice[2].startswith("Worth a look (rows 1, 2, 3):")  # then the warnings


def test_report_to_dict_shape():
    data = validate([good(i) for i in range(10)]).to_dict()
    assert data == {"format": "chat", "examples": 10, "valid": True, "problems": [], "error_counts": {},
                    "warning_counts": {}}
