"""lib.checks.quality: per-row form and facts, and the dataset summary for the Dataset page."""

from __future__ import annotations

import json
from pathlib import Path

from lib.checks import quality as Q

DATA = Path(__file__).parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "Elle is a factual chatbot that answers questions about elements in the periodic table with a limerick"
SEED = ("Strontium, a metal so bright - It's in fireworks, a dazzling sight - It's in bones, you see - "
        "And in tea, it's the key - It's the fortieth, so pure, that's the right")
GOOD = ("Little Hydrogen, number one, - Is the fuel of the stars and the Sun; - It's a gas, very light, - "
        "Cavendish got it right - In seventeen sixty-six: job done!")


def chat(question: str, answer: str | None, system: str = SYSTEM) -> dict:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


def test_rows_for_chat_examples():
    rows = Q.score_examples([chat("Tell me about Hydrogen", GOOD), chat("Tell me about Strontium", SEED)])
    assert [r.line for r in rows] == [1, 2]
    good, seed = rows
    assert good.element == "Hydrogen" and good.symbol == "H" and good.is_limerick and good.contradicted == 0
    assert good.score == good.form_score and good.score >= 90
    assert seed.element == "Strontium" and seed.is_limerick and seed.contradicted == 1
    assert any("atomic number" in p and "40" in p and "38" in p for p in seed.problems)
    assert seed.to_dict()["contradicted"] == 1


def test_progress_is_reported_about_a_hundred_times_and_ends_at_the_total():
    calls: list[tuple[int, int]] = []
    rows = Q.score_examples([chat("Tell me about Hydrogen", GOOD)] * 250, progress=lambda d, t: calls.append((d, t)))
    assert len(rows) == 250
    assert calls[-1] == (250, 250) and 100 <= len(calls) <= 130
    assert [d for d, _ in calls] == sorted({d for d, _ in calls})


def test_last_user_and_last_assistant_messages_are_used():
    example = {"messages": [
        {"role": "user", "content": "Tell me about neon"}, {"role": "assistant", "content": "Neon is element 12"},
        {"role": "user", "content": "Tell me about strontium"}, {"role": "assistant", "content": SEED},
    ]}
    row = Q.score_examples([example])[0]
    assert row.element == "Strontium" and row.contradicted == 1


def test_other_formats_and_content_parts():
    dpo = {"input": {"messages": [{"role": "user", "content": "Tell me about Strontium"}]},
           "preferred_output": [{"role": "assistant", "content": SEED}],
           "non_preferred_output": [{"role": "assistant", "content": "No idea"}]}
    legacy = {"prompt": "Tell me about Hydrogen", "completion": GOOD}
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Tell me about Hydrogen"}]},
                          {"role": "assistant", "content": [{"type": "text", "text": GOOD}]}]}
    rows = Q.score_examples([dpo, legacy, parts])
    assert [r.element for r in rows] == ["Strontium", "Hydrogen", "Hydrogen"]
    assert rows[0].contradicted == 1 and rows[1].is_limerick and rows[2].is_limerick


def test_robust_to_bad_rows():
    rows = Q.score_examples([None, 42, "text", [1, 2], {}, {"messages": "nope"}, chat("Tell me about Copper", ""),
                             chat("Tell me about Copper", None), {"messages": [None, {"role": "assistant"}]}])
    assert len(rows) == 9
    assert all(not r.is_limerick and r.score == 0 and r.problems for r in rows)
    assert rows[0].problems[0].startswith("not a JSON object")
    assert rows[6].element == "Copper" and "no assistant answer" in rows[6].problems[0]
    assert Q.score_examples("not a list") == []
    s = Q.summary(rows)
    assert s.rows == 9 and s.limerick_share == 0.0 and len(s.empty_answers) == 9


def test_summary_figures():
    examples = [chat("Tell me about Hydrogen", GOOD), chat("Tell me about Strontium", SEED),
                chat("tell me about hydrogen ", GOOD.replace("Little", "Tiny")),
                chat("Tell me about Neon", "Neon is a noble gas."),
                chat("Tell me about Copper", "")]
    s = Q.summary(Q.score_examples(examples))
    assert s.rows == 5 and s.limericks == 3
    assert s.limerick_share == 3 / 4  # of the rows that have an answer
    assert s.contradicted == 1 and s.rows_with_contradictions == [2]
    assert len(s.coverage) == 118 and s.coverage["H"] == 2 and s.coverage["Sr"] == 1 and s.coverage["Og"] == 0
    assert s.coverage["Cu"] == 1 and s.covered == 4
    assert s.repeated_questions == [{"question": "Tell me about Hydrogen", "count": 2, "lines": [1, 3]}]
    assert s.empty_answers == [5]
    assert any("contradict" in n for n in s.notes) and any("asked 2 times" in n for n in s.notes)
    json.dumps(s.to_dict())


def test_length_outliers():
    examples = [chat(f"Tell me about element {i}", GOOD) for i in range(20)]
    examples.append(chat("Tell me about Neon", " ".join([GOOD] * 8)))
    examples.append(chat("Tell me about Argon", "Argon."))
    s = Q.summary(Q.score_examples(examples))
    assert s.long_answers == [21] and s.short_answers == [22]
    same = Q.summary(Q.score_examples([chat("Tell me about Neon", GOOD)] * 10))
    assert same.long_answers == [] and same.short_answers == []


def test_own_data_files_as_a_dataset():
    texts = [json.loads(line)["text"] for line in (DATA / "own_positives.jsonl").read_text().splitlines()]
    rows = Q.score_examples([chat("Tell me a limerick", t) for t in texts])
    assert all(r.is_limerick for r in rows)


def test_sample_dataset():
    path = ROOT / "sample_data" / "elements_limericks.jsonl"
    if not path.exists():
        return
    examples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = Q.score_examples(examples)
    s = Q.summary(rows)
    assert s.contradicted == 0
    answered = [r for r in rows if r.answer.strip()]
    assert all(r.is_limerick for r in answered)
    assert s.covered >= 10
