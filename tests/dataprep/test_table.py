"""The table view of a dataset: edits by displayed position, filtered views, DPO columns."""

from __future__ import annotations

from lib.dataprep import dataset as ds
from lib.dataprep import table


def sample(n: int = 3) -> ds.Dataset:
    examples = [ds.make_example(f"Tell me about E{i}", f"Answer {i}") for i in range(n)]
    return ds.Dataset(name="t", examples=examples, split=["train", "validation", "train"][:n])


def test_edit_in_a_filtered_view_changes_the_right_example_and_keeps_the_split():
    data = sample()
    new, removed = table.edit_dataset(data, [2], {"edited_rows": {0: {"assistant": "New answer"}}})
    assert new.examples[2]["messages"][2]["content"] == "New answer"
    assert new.examples[:2] == data.examples[:2] and removed == []
    assert new.split == data.split


def test_deleted_and_added_rows_follow_positions_and_split():
    data = sample()
    delta = {"deleted_rows": [0], "added_rows": [{"user": "Tell me about Neon", "assistant": "Glows"}, {}]}
    new, removed = table.edit_dataset(data, [1, 2], delta)
    assert removed == [data.examples[1]]
    assert [m["content"] for m in new.examples[-1]["messages"]] == [ds.DEFAULT_SYSTEM_PROMPT, "Tell me about Neon",
                                                                    "Glows"]
    assert len(new.examples) == 3 and new.split == ["train", "train", "train"]


def test_a_multi_turn_example_shows_and_edits_its_last_turn():
    example = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                            {"role": "user", "content": "Tell me about Neon"},
                            {"role": "assistant", "content": "Old", "weight": 1}]}
    assert table.row(example) == {"system": "", "user": "Tell me about Neon", "assistant": "Old"}
    edited = table.set_cells(example, {"assistant": "New"})
    assert edited["messages"][3] == {"role": "assistant", "content": "New", "weight": 1}
    assert edited["messages"][1]["content"] == "Hello" and table.turns(edited) == 2


def test_dpo_rows_show_both_answers():
    pair = {"input": {"messages": [{"role": "user", "content": "Tell me about Neon"}]},
            "preferred_output": [{"role": "assistant", "content": "Good"}],
            "non_preferred_output": [{"role": "assistant", "content": "Bad"}]}
    assert table.row(pair, "dpo") == {"system": "", "user": "Tell me about Neon", "preferred": "Good",
                                      "non_preferred": "Bad"}
    edited = table.set_cells(pair, {"non_preferred": "Worse"}, "dpo")
    assert edited["non_preferred_output"][0]["content"] == "Worse"


def test_a_line_that_is_not_an_object_is_shown_not_crashed():
    assert table.row([1, 2])["user"].startswith("(not an example")
