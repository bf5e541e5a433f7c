"""`python -m lib check`: exit codes 0 / 1 / 2, the human report, the JSON object, and pricing when present."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib.dataprep.dataset import to_jsonl
from lib.dataprep.readers import load_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "elements_limericks.jsonl"
COPPER = ("Copper's twenty-nine, reddish and bright, - It runs wires that give us our light; - Left out in the rain, "
          "- It goes green with a stain, - Like the Statue of Liberty, quite!")
PRICING_FIELDS = {"encoding", "tokens", "assistant_tokens", "epochs", "billed_tokens", "trained_tokens", "cost_usd",
                  "price_date"}


def has_pricing() -> bool:
    if importlib.util.find_spec("lib.services.pricing") is None:
        return False
    from lib.services import pricing

    return hasattr(pricing, "estimate")


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib", "check", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def fixed_sample(tmp_path) -> Path:
    """The sample with the seeded mistake fixed, as the tutorial asks."""
    examples = load_file(SAMPLE).examples
    examples[7]["messages"][2]["content"] = COPPER
    path = tmp_path / "fixed.jsonl"
    path.write_text(to_jsonl(examples), encoding="utf-8")
    return path


def test_sample_is_not_valid_and_the_report_says_why():
    result = check(SAMPLE)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert out.splitlines()[0].endswith("12 chat examples: not ready to upload (1 error, 0 warnings).")
    assert "line 8" in out and "missing_content" in out and "messages[2].content" in out
    assert "Found errors:\nmissing_content: 1\n" in out
    assert "Num examples missing system message: 0" in out
    assert result.stderr == ""


def test_json_output_is_one_object():
    result = check(SAMPLE, "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert {"format", "examples", "valid", "problems", "error_counts"} <= set(data)
    assert (data["format"], data["examples"], data["valid"]) == ("chat", 12, False)
    assert data["problems"] == [{
        "line": 8, "field": "messages[2].content", "code": "missing_content", "severity": "error",
        "message": "Row 8's answer (message 3) is empty: write the reply you want the model to learn, or delete the row.",
    }]
    assert data["error_counts"] == {"missing_content": 1}


def test_fixed_sample_is_valid(fixed_sample):
    result = check(fixed_sample)
    assert result.returncode == 0, result.stdout
    assert "ready to upload (0 errors, 0 warnings)" in result.stdout and "No errors found" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"messages": []}\n{"messages": [}\n', "Line 2 is not valid JSON: Expecting value at column 15."),
        (b"", "The file is empty: add your examples, one per line."),
        (b'{"a": "\xff"}\n', "Line 1 is not UTF-8 text (byte 0xff at column 8): save the file as UTF-8 and import it again."),
    ],
)
def test_unreadable_file_exits_2_with_one_plain_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    result = check(path)
    assert result.returncode == 2
    assert result.stderr == f"{path}: {message}\n"
    assert result.stdout == ""


def test_json_output_is_json_even_when_the_file_cannot_be_read(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"messages": []}\n{"messages": [}\n')
    result = check(path, "--json")
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["readable"] is False and data["valid"] is False
    assert data["error"] == "Line 2 is not valid JSON: Expecting value at column 15."
    assert data["broken_lines"] == [{"line": 2, "message": data["error"]}]


def test_every_broken_line_is_reported_with_its_number(tmp_path):
    good = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines = [good[0], "{broken", good[1], good[2], '{"messages": [}', good[3], "not json at all"]
    path = tmp_path / "three-broken.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    human = check(path)
    assert human.returncode == 2
    assert "Lines 2, 5 and 7 are not valid JSON." in human.stderr
    data = json.loads(check(path, "--json").stdout)
    assert [b["line"] for b in data["broken_lines"]] == [2, 5, 7]
    assert all(b["message"].startswith(f"Line {b['line']} is not valid JSON") for b in data["broken_lines"])


def test_missing_file_exits_2(tmp_path):
    result = check(tmp_path / "nope.jsonl")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.jsonl'}: There is no file at {tmp_path / 'nope.jsonl'}."
    assert "Traceback" not in result.stderr


def test_warnings_alone_keep_exit_0_and_blank_lines_keep_file_line_numbers(tmp_path, fixed_sample):
    lines = fixed_sample.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("Elle is a factual", "Elle is a factal")
    lines.insert(2, "")
    path = tmp_path / "warn.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = check(path, "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert [(p["line"], p["code"], p["severity"]) for p in data["problems"]] == [(5, "system_prompt_differs", "warning")]


@pytest.mark.skipif(not has_pricing(), reason="lib.services.pricing is not there yet")
def test_model_adds_the_estimate_and_flags_long_examples(tmp_path, fixed_sample):
    from lib.services import pricing

    model = "gpt-3.5-turbo-0125"
    limit = getattr(pricing.estimate(load_file(fixed_sample).examples[:1], model), "token_limit", None)
    lines = fixed_sample.read_text(encoding="utf-8").splitlines()
    if limit:
        long_line = json.loads(lines[0])
        long_line["messages"][2]["content"] = "neon " * (limit + 100)
        lines.append(json.dumps(long_line))
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = check(path, "--model", model, "--epochs", "2", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= PRICING_FIELDS
    assert data["epochs"] == 2 and data["trained_tokens"] == 2 * data["billed_tokens"]
    assert data["examples"] == len(lines) and data["format"] == "chat"
    if limit:
        assert [(p["line"], p["code"]) for p in data["problems"]] == [(13, "over_token_limit")]
    human = check(path, "--model", model)
    assert "tokens that will be charged for during training" in human.stdout
    assert "By default, you'll train for" in human.stdout


def test_bad_epochs_exit_2(fixed_sample):
    result = check(fixed_sample, "--model", "gpt-4o-mini-2024-07-18", "--epochs", "zero")
    assert result.returncode == 2
    assert result.stderr.strip() == "--epochs must be a whole number of at least 1, or auto (got zero)."
