"""lib.checks.facts: finding the element, reading claims, verdicts; zero false "contradicted"; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib.checks import elements as E
from lib.checks import facts as F
from tests.element_statements import true_and_false_statements

ROOT = Path(__file__).resolve().parents[2]

SEED = ("Strontium, a metal so bright - It's in fireworks, a dazzling sight - It's in bones, you see - "
        "And in tea, it's the key - It's the fortieth, so pure, that's the right")


def _claims(question: str, answer: str, prop: str | None = None) -> list[dict]:
    claims = F.check(question, answer).to_dict()["claims"]
    return [c for c in claims if prop is None or c["property"] == prop]


def _one(question: str, answer: str, prop: str) -> dict:
    found = _claims(question, answer, prop)
    assert len(found) == 1, found
    return found[0]


# ----------------------------------------------------------------------------- the brief's cases

def test_seed_strontium_fortieth_is_contradicted():
    d = F.check("Tell me about Strontium", SEED).to_dict()
    assert d["element"] == "Strontium"
    assert d["claims"] == [{"text": "It's the fortieth, so pure, that's the right", "property": "atomic_number",
                            "stated": 40, "actual": 38, "verdict": "contradicted"}]


def test_gallium_86_degrees_is_supported_in_fahrenheit():
    answer = ("Gallium, a metal so neat - Melts in your hand from the heat - At 86 degrees - "
              "It will turn with great ease - Into liquid, a marvellous feat")
    claim = _one("Tell me about gallium", answer, "melting_point")
    assert claim["verdict"] == "supported"
    assert claim["stated"] == 86 and claim["actual"] == pytest.approx(85.6, abs=0.05) and claim["unit"] == "°F"


def test_report_shape():
    d = F.check("Tell me about Strontium", SEED).to_dict()
    assert set(d) == {"element", "claims"}
    for claim in d["claims"]:
        assert {"text", "property", "stated", "actual", "verdict"} <= set(claim)
        assert claim["property"] in F.PROPERTIES
    json.dumps(d)


def test_no_element_no_claims():
    assert F.check("How are you?", "I am fine, it is 38 degrees outside").to_dict() == {"element": None, "claims": []}
    assert F.check(None, None).to_dict() == {"element": None, "claims": []}


def test_element_from_answer_when_question_has_none():
    assert F.check("Write me a limerick", "Neon, element ten, glows red").element == "Neon"


# ----------------------------------------------------------------------------- finding the element

@pytest.mark.parametrize("text", [
    "I think so.", "In the end it works.", "As a rule, yes.", "He said no.", "No way!", "At last.",
    "Be kind to everyone.", "I am here; He is there; As it is; At home; Be good; No thanks; In time.",
    "OK, US, UK, PM, AM, MD, Co.", "What is the symbol for the best answer?",
])
def test_ordinary_words_are_not_symbols(text):
    assert F.find_element(text) is None


@pytest.mark.parametrize("text,symbol", [
    ("Tell me about strontium", "Sr"), ("Tell me about STRONTIUM!", "Sr"), ("What about aluminium?", "Al"),
    ("Is sulphur smelly?", "S"), ("Caesium clocks", "Cs"), ("The element with symbol Sr", "Sr"),
    ("Its symbol is He", "He"), ("the symbol: I", "I"), ("Iodine (I) is purple", "I"), ("a metal (Sr)", "Sr"),
    ("Sr", "Sr"), ("He", "He"), ("Tell me about Fe", "Fe"), ("Ytterbium's uses", "Yb"),
    ("the lead singer loves neon", "Ne"),  # "lead" is an everyday word: a clear name wins
    ("Tell me about lead", "Pb"),
])
def test_find_element(text, symbol):
    assert F.find_element(text).symbol == symbol


# ----------------------------------------------------------------------------- atomic number

@pytest.mark.parametrize("answer,stated", [
    ("Its atomic number is 38.", 38), ("It's number 38, you see", 38), ("Element 38 is bright", 38),
    ("It is the 38th element", 38), ("the thirty-eighth element", 38), ("It's the thirty-eighth!", 38),
    ("Strontium, number thirty-eight,", 38), ("Strontium's thirty-eight, and it's great", 38),
    ("It has 38 protons", 38), ("atomic number thirty eight", 38),
    ("It's the fortieth, so pure", 40), ("It's the 40th,", 40), ("Strontium, the fortieth,", 40),
    # the element called by its kind, as the sample's limericks do (and fine-tuned SmolLM2 imitates)
    ("There's a metal that's ten, - Found in ten", 10), ("a metal that is number thirty-eight;", 38),
])
def test_atomic_number_forms(answer, stated):
    claim = _one("Tell me about strontium", answer, "atomic_number")
    assert claim["stated"] == stated
    assert claim["verdict"] == ("supported" if stated == 38 else "contradicted")


@pytest.mark.parametrize("answer", [
    "It is a metal that's two times as dense as water.", "a gas that is ten percent of the air",
    "There's a metal that's one of the softest,",
])
def test_a_kind_followed_by_a_number_that_is_no_place_in_the_table(answer):
    assert not [c for c in F.check("Tell me about strontium", answer).claims if c.property == "atomic_number"]


def test_first_in_the_line_is_hydrogen():
    claim = _one("Tell me about hydrogen", "Hydrogen, the first in the line, - is light", "atomic_number")
    assert claim["stated"] == 1 and claim["verdict"] == "supported"
    claim = _one("Tell me about helium", "Helium comes first in the line", "atomic_number")
    assert claim["verdict"] == "contradicted" and claim["actual"] == 2


@pytest.mark.parametrize("answer", [
    "It was the first to be found in a mine",
    "It's the second most abundant element",
    "It is the third, most common gas in the air",
    "It's the number one choice for fireworks",
    "Discovered in the 18th century",
    "It's the first noble gas... no wait, it's the second.",
    "It was found in the fifth mine they dug",
    "Strontium-90 has a half-life of 29 years",
    "A number of uses",
])
def test_ordinals_that_are_not_positions(answer):
    assert _claims("Tell me about neon", answer, "atomic_number") == []


def test_number_words_parser():
    assert F.parse_number_words("thirty-eighth") == (38, True)
    assert F.parse_number_words("one hundred and eighteen") == (118, False)
    assert F.parse_number_words("fortieth") == (40, True)
    assert F.parse_number_words("four five") is None
    assert F.parse_year_words("eighteen seventy-five") == 1875
    assert F.parse_year_words("eighteen-oh-seven") == 1807
    assert F.parse_year_words("two thousand and two") == 2002


# ----------------------------------------------------------------------------- temperatures

@pytest.mark.parametrize("answer,unit,verdict", [
    ("It melts at 777 °C", "°C", "supported"),
    ("It melts at 1050 K", "K", "supported"),
    ("It melts at 1050 kelvin", "K", "supported"),
    ("Its melting point is 1431 °F", "°F", "supported"),
    ("It melts at 1431 degrees Fahrenheit", "°F", "supported"),
    ("It melts at 777 degrees", "°C", "supported"),
    ("It melts at 500 °C", "°C", "contradicted"),
    ("It melts at 500 degrees", "°C", "contradicted"),
    ("It melts at about 800 °C", "°C", "supported"),
    ("It melts above 700 °C", "°C", "supported"),
    ("It melts below 700 °C", "°C", "contradicted"),
])
def test_melting_point_units(answer, unit, verdict):
    claim = _one("Tell me about strontium", answer, "melting_point")
    assert (claim["unit"], claim["verdict"]) == (unit, verdict)
    if unit == "K":
        assert claim["actual"] == pytest.approx(1050.2, abs=0.1)
    if unit == "°C":
        assert claim["actual"] == pytest.approx(777.0, abs=0.1)


def test_boiling_point_negative_temperatures():
    claim = _one("Tell me about nitrogen", "Nitrogen boils at minus 196 degrees Celsius", "boiling_point")
    assert claim["verdict"] == "supported" and claim["stated"] == -196
    claim = _one("Tell me about nitrogen", "It boils at -100 °C", "boiling_point")
    assert claim["verdict"] == "contradicted" and claim["actual"] == pytest.approx(-195.8, abs=0.1)
    claim = _one("Tell me about helium", "It boils at 4 K", "boiling_point")
    assert claim["verdict"] == "supported"


def test_temperature_claims_about_something_else_are_skipped():
    assert _claims("Tell me about sodium", "Sodium chloride melts at 801 °C", "melting_point") == []
    assert _claims("Tell me about tin", "Water boils at 100 °C, tin much hotter", "boiling_point") == []
    assert _claims("Tell me about gold", "It is 38 degrees outside today") == []
    # Another element in the same line: not about our element.
    assert _claims("Tell me about gallium", "Unlike mercury, which melts at -39 °C") == []


def test_unknown_melting_point_is_unverifiable():
    claim = _one("Tell me about oganesson", "Oganesson melts at 50 °C", "melting_point")
    assert claim["verdict"] == "unverifiable"


# ----------------------------------------------------------------------------- year, mass, group, period, state

@pytest.mark.parametrize("answer,verdict", [
    ("It was discovered in 1790", "supported"),
    ("Discovered in seventeen ninety", "supported"),
    ("Found in 1787 in a Scottish mine", "supported"),  # another source's year
    ("It was discovered in 1850", "contradicted"),
    ("Davy isolated it in 1808", None),  # isolation is not discovery
    ("In 1920 it was used in fireworks", None),
])
def test_discovery_year(answer, verdict):
    found = _claims("Tell me about strontium", answer, "discovery_year")
    assert [c["verdict"] for c in found] == ([verdict] if verdict else [])


def test_ancient_elements_have_no_discovery_year():
    claim = _one("Tell me about gold", "Gold was discovered in 3000 BC, or found in 1500", "discovery_year")
    assert claim["verdict"] == "unverifiable"


def test_helium_has_two_discovery_years():
    assert _one("Tell me about helium", "Found in the sun in 1868", "discovery_year")["verdict"] == "supported"
    assert _one("Tell me about helium", "Discovered in 1895", "discovery_year")["verdict"] == "supported"


@pytest.mark.parametrize("answer,verdict", [
    ("Its atomic mass is 87.62", "supported"), ("atomic weight of about 88", "supported"),
    ("It weighs 87.6 amu", "supported"), ("Its atomic mass is 95", "contradicted"),
])
def test_atomic_mass(answer, verdict):
    assert _one("Tell me about strontium", answer, "atomic_mass")["verdict"] == verdict


@pytest.mark.parametrize("answer,prop,verdict", [
    ("It sits in group 2", "group", "supported"), ("It's in group two", "group", "supported"),
    ("It's in group IIA", "group", "supported"), ("It's in group 3", "group", "contradicted"),
    ("In the second group", "group", "supported"), ("It's in period 5", "period", "supported"),
    ("In the fifth period", "period", "supported"), ("It's in period 4", "period", "contradicted"),
])
def test_group_and_period(answer, prop, verdict):
    assert _one("Tell me about strontium", answer, prop)["verdict"] == verdict


def test_group_of_f_block_is_unverifiable():
    assert _one("Tell me about cerium", "It's in group 3", "group")["verdict"] == "unverifiable"


@pytest.mark.parametrize("question,answer,verdict", [
    ("Tell me about hydrogen", "It's a gas, very light", "supported"),
    ("Tell me about mercury", "Mercury is liquid at room temperature", "supported"),
    ("Tell me about bromine", "It's a liquid at room temperature", "supported"),
    ("Tell me about iron", "Iron is a gas at room temperature", "contradicted"),
    ("Tell me about neon", "Neon is a solid, you know", "contradicted"),
    ("Tell me about gallium", "Gallium is a liquid metal", "unverifiable"),  # melts at 29.8 °C
    ("Tell me about oganesson", "It's a gas", "unverifiable"),
])
def test_state(question, answer, verdict):
    assert _one(question, answer, "state")["verdict"] == verdict


@pytest.mark.parametrize("answer", [
    "It turns to a gas when heated", "It's a liquid in your hand", "It's a solid choice for pipes",
    "It forms a gas with water",
])
def test_state_changes_are_not_state_claims(answer):
    assert _claims("Tell me about gallium", answer, "state") == []


# ----------------------------------------------------------------------------- conservative by design



def test_true_statements_about_all_118_elements_are_never_contradicted():
    checked = 0
    for e in E.all_elements():
        truths, _ = true_and_false_statements(e)
        for text in truths:
            claims = _claims(f"Tell me about {e.name}", text)
            assert claims, text
            assert all(c["verdict"] == "supported" for c in claims), (text, claims)
            checked += 1
    assert checked > 1500


def test_false_statements_are_caught():
    caught = total = 0
    for e in E.all_elements():
        _, lies = true_and_false_statements(e)
        for text in lies:
            total += 1
            caught += any(c["verdict"] == "contradicted" for c in _claims(f"Tell me about {e.name}", text))
    assert caught / total >= 0.98, (caught, total)


def test_sample_data_has_no_contradicted_facts():
    path = ROOT / "sample_data" / "elements_limericks.jsonl"
    if not path.exists():
        pytest.skip("sample data not written yet")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    checked = 0
    for row in rows:
        messages = row.get("messages", [])
        question = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
        answer = next((m.get("content") for m in reversed(messages) if m.get("role") == "assistant"), "")
        claims = _claims(question, answer)
        assert not [c for c in claims if c["verdict"] == "contradicted"], (question, claims)
        checked += len(claims)
    assert checked >= 5  # the sample's atomic numbers and years are read


# ----------------------------------------------------------------------------- command line

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib", "facts", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_json():
    result = _cli("Tell me about Strontium", SEED, "--json")
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    assert d["element"] == "Strontium"
    assert d["claims"][0]["verdict"] == "contradicted" and d["claims"][0]["actual"] == 38


def test_cli_readable():
    result = _cli("Tell me about Strontium", SEED)
    assert result.returncode == 0
    assert "WRONG" in result.stdout and "38" in result.stdout


def test_cli_jsonl(tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [{"question": "Tell me about Strontium", "answer": SEED},
            {"question": "Tell me about neon", "answer": "Neon is element 10"},
            {"question": 1}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = _cli("--jsonl", str(path))
    assert result.returncode == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("element") for o in out[:2]] == ["Strontium", "Neon"]
    assert out[2]["line"] == 3 and "error" in out[2]
    assert "Traceback" not in result.stderr


def test_cli_bad_input():
    for args in ([], ["only a question"], ["q", "a", "--jsonl", "x.jsonl"], ["--jsonl", "/nonexistent/x.jsonl"]):
        result = _cli(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr and result.stderr.strip()
