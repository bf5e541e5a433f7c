"""lib.checks.limerick: lines, AABBA rhyme, syllables and meter; the quality targets on the dev sets; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib.checks import limerick as L
from lib.checks.rhyme import rhyme

DATA = Path(__file__).parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]

SEED = ("Strontium, a metal so bright - It's in fireworks, a dazzling sight - It's in bones, you see - "
        "And in tea, it's the key - It's the fortieth, so pure, that's the right")
SEED_LINES = ["Strontium, a metal so bright", "It's in fireworks, a dazzling sight", "It's in bones, you see",
              "And in tea, it's the key", "It's the fortieth, so pure, that's the right"]


def _rows(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ----------------------------------------------------------------------------- the seed example

def test_seed_answer_is_a_limerick():
    report = L.check(SEED)
    d = report.to_dict()
    assert {"lines", "rhyme_scheme", "syllables", "score", "is_limerick", "problems"} <= set(d)
    assert d["lines"] == SEED_LINES
    assert d["rhyme_scheme"] == "AABBA"
    assert d["is_limerick"] is True and d["problems"] == []
    assert d["score"] >= 90
    assert d["syllables"] == [8, 9, 5, 6, 10]
    assert d["end_words"] == ["bright", "sight", "see", "key", "right"]
    json.dumps(d)  # plain JSON


def test_check_is_cached_by_content():
    assert L.check(SEED) is L.check(SEED)


@pytest.mark.parametrize("value", [None, 42, "", "   ", "\n\n"])
def test_odd_inputs_do_not_raise(value):
    report = L.check(value)
    assert report.is_limerick is False
    assert report.problems


# ----------------------------------------------------------------------------- splitting

@pytest.mark.parametrize("text", [
    "\n".join(SEED_LINES),
    "\r\n".join(SEED_LINES) + "\r\n",
    " - ".join(SEED_LINES),
    " – ".join(SEED_LINES),
    " — ".join(SEED_LINES),
    " / ".join(SEED_LINES),
    "; ".join(SEED_LINES),
    " | ".join(SEED_LINES),
    "Here's a limerick about strontium:\n\n" + "\n".join(f"{i}. {line}" for i, line in enumerate(SEED_LINES, 1)),
    "\n".join(f"- {line}" for line in SEED_LINES),
])
def test_split_styles(text):
    assert L.split_lines(text) == SEED_LINES
    assert L.check(text).is_limerick


def test_hyphenated_words_are_not_line_breaks():
    text = ("A well-known, silvery-white metal so bright - It's in fire-works, a dazzling sight - "
            "It's in bones, you see - And in tea, it's the key - It's the fortieth, so pure, that's the right")
    lines = L.split_lines(text)
    assert len(lines) == 5 and lines[0] == "A well-known, silvery-white metal so bright"


def test_a_dash_inside_a_line_is_kept_in_the_line():
    text = ("Strontium - a metal so bright - It's in fireworks, a dazzling sight - It's in bones, you see - "
            "And in tea, it's the key - It's the fortieth, so pure, that's the right")
    report = L.check(text)
    assert report.is_limerick
    assert report.lines[0] == "Strontium - a metal so bright"
    assert any("dash inside line 1" in w for w in report.warnings)


def test_lear_layout_with_lines_three_and_four_on_one_line():
    text = ("There was an Old Man with a nose,\nWho said, 'If you choose to suppose,\n"
            "That my nose is too long, you are certainly wrong!'\nThat remarkable Man with a nose.")
    report = L.check(text)
    assert report.is_limerick and len(report.lines) == 5


# ----------------------------------------------------------------------------- rhyme

def test_unknown_words_are_unverified_never_wrong():
    assert rhyme("Zxqvorth", "bright") == "unverified"
    assert rhyme("Kamschatka", "waddle") == "unverified"
    text = ("There once was a gas named Zxqvorth - That floated far off to the north - It was light as a kite - "
            "And it glowed in the night - And it shone in the sky going forth")
    report = L.check(text)
    assert "?" in report.rhyme_scheme or report.rhyme_scheme.startswith("A")
    assert not any("does not rhyme" in p and "Zxqvorth" in p for p in report.problems)


def test_problem_sentence_names_the_words():
    text = ("There once was a metal so bright - That glowed in the dark of the night - It gave off a sight - "
            "It would heat with great ease - And that was the end of the fight")
    report = L.check(text)
    assert not report.is_limerick
    assert "line 4 does not rhyme with line 3: 'ease' / 'sight'" in report.problems


def test_repeated_end_word_is_a_warning_not_a_failure():
    text = ("There was an Old Man with a gong, - Who bumped at it all the day long; - But they called out, "
            "\"Oh, law! - you're a horrid old bore!\" - So they smashed that Old Man with a gong.")
    report = L.check(text)
    assert report.is_limerick
    assert report.rhyme_scheme == "AABBA"
    assert any("same word" in w for w in report.warnings)


# ----------------------------------------------------------------------------- meter

def test_long_short_lines():
    report = L.check(SEED)
    assert report.beats == (3, 3, 2, 2, 3)
    text = ("There was an Old Person of Mold, - Who shrank from sensations of cold; - There was an Old Man of "
            "the North, - Who fell into a basin of broth; - And wrapped himself well from the cold.")
    report = L.check(text)
    assert not report.is_limerick
    assert any("not shorter" in p for p in report.problems)


def test_wrong_number_of_lines():
    report = L.check("Oxygen is in the air we breathe,\nIt keeps us alive, I do believe,\n"
                     "Without it fires would not burn,\nAnd that's a lesson we all learn.")
    assert not report.is_limerick
    assert report.problems[0] == "found 4 lines; a limerick has 5"


def test_prose_is_not_a_limerick():
    report = L.check("Strontium is an alkaline earth metal with atomic number 38. It burns red in fireworks.")
    assert not report.is_limerick and report.score < 30


# ----------------------------------------------------------------------------- quality targets

def test_target_lear_recall_at_least_90_percent():
    rows = _rows("lear_dev.jsonl")
    assert len(rows) == 106
    accepted = sum(L.check(r["text"]).is_limerick for r in rows)
    assert accepted / len(rows) >= 0.90, accepted


def test_target_negatives_rejected_at_least_80_percent():
    rows = _rows("negatives_dev.jsonl")
    rejected = sum(not L.check(r["text"]).is_limerick for r in rows)
    assert rejected / len(rows) >= 0.80, rejected


def test_own_negatives_rejected():
    rows = _rows("own_negatives.jsonl")
    assert len(rows) >= 25
    wrong = [r["text"] for r in rows if L.check(r["text"]).is_limerick]
    assert len(wrong) / len(rows) <= 0.1, wrong


def test_own_positives_accepted():
    rows = _rows("own_positives.jsonl")
    wrong = [r["text"] for r in rows if not L.check(r["text"]).is_limerick]
    assert not wrong


def test_sample_data_limericks_pass():
    path = ROOT / "sample_data" / "elements_limericks.jsonl"
    if not path.exists():
        pytest.skip("sample data not written yet")
    answers = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            messages = json.loads(line).get("messages", [])
            answer = next((m.get("content") for m in reversed(messages) if m.get("role") == "assistant"), "")
            if answer:
                answers.append(answer)
    assert answers
    assert all(L.check(a).is_limerick for a in answers)


# ----------------------------------------------------------------------------- command line

def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib", "limerick", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_cli_json():
    result = _cli(SEED, "--json")
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    assert d["rhyme_scheme"] == "AABBA" and d["is_limerick"] is True and d["lines"] == SEED_LINES


def test_cli_readable():
    result = _cli(SEED)
    assert result.returncode == 0
    assert "Limerick: yes" in result.stdout and "AABBA" in result.stdout


def test_cli_jsonl_in_order_with_bad_rows(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": SEED}) + "\n\nnot json\n" + json.dumps({"nope": 1}) + "\n"
                    + json.dumps({"text": "one line only"}) + "\n", encoding="utf-8")
    result = _cli("--jsonl", str(path))
    assert result.returncode == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["is_limerick"] is True
    assert out[1] == {"line": 3, "error": out[1]["error"]} and "JSON" in out[1]["error"]
    assert out[2]["line"] == 4
    assert out[3]["is_limerick"] is False
    assert "Traceback" not in result.stderr


def test_cli_bad_input_exits_2_without_traceback(tmp_path):
    for args in ([], ["--jsonl", str(tmp_path / "missing.jsonl")], ["text", "--jsonl", "x"]):
        result = _cli(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr and result.stderr.strip()
