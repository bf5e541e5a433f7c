"""The facts card: the element's true facts, added where rows and questions leave, never to the dataset."""

from __future__ import annotations

import copy

from lib.checks import facts, facts_card


def test_the_card_gives_strontium_its_true_number_in_digits_and_words() -> None:
    line = facts_card.card_for("Tell me about Strontium")
    assert line == ("Facts: Strontium (Sr), atomic number 38 (thirty eight), a solid at room temperature, "
                    "discovered in 1790.")
    # what the card says is what the fact check accepts: a limerick that copies it is right, not wrong
    report = facts.check("Tell me about Strontium", "Strontium, atomic number thirty-eight, burns red")
    assert report.supported and not report.contradicted


def test_a_question_naming_no_element_keeps_its_system_prompt() -> None:
    assert facts_card.with_card("Write me a poem about the sea", "Be brief") == "Be brief"
    assert facts_card.with_card("Tell me about Gold", None).startswith("Facts: Gold (Au), atomic number 79")
    once = facts_card.with_card("Tell me about Gold", "Be brief")
    assert once.startswith("Be brief\nFacts: Gold") and facts_card.with_card("Tell me about Gold", once) == once


def test_rows_get_the_card_on_copies_and_the_users_rows_are_untouched() -> None:
    rows = [
        {"messages": [{"role": "system", "content": "Answer with a limerick"},
                      {"role": "user", "content": "What is Neon?"},
                      {"role": "assistant", "content": "Neon glows..."}]},
        {"messages": [{"role": "user", "content": "Tell me about Iron"},
                      {"role": "assistant", "content": "Iron rusts..."}]},
        {"messages": [{"role": "user", "content": "Hello there"}, {"role": "assistant", "content": "Hi"}]},
        {"prompt": "not a chat row"},
    ]
    before = copy.deepcopy(rows)
    out = facts_card.add_to_rows(rows)
    assert rows == before
    assert out[0]["messages"][0]["content"].startswith("Answer with a limerick\nFacts: Neon (Ne), atomic number 10")
    assert out[1]["messages"][0] == {"role": "system", "content": facts_card.card_for("Iron")}
    assert out[2] == rows[2] and out[3] == rows[3]
    assert facts_card.add_to_rows(out) == out  # a second pass adds nothing


def test_a_job_says_whether_it_was_trained_with_the_card() -> None:
    assert facts_card.is_on({"facts_card": "on"}) and not facts_card.is_on({"facts_card": "off"})
    assert not facts_card.is_on(None) and not facts_card.is_on({})
