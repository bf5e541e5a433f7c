"""The Dataset page under AppTest: loads, validates, edits autosave, content shown as text."""

from __future__ import annotations

import json

from lib.dataprep import dataset as ds
from lib.dataprep import readers
from lib.dataprep.workspace import Workspace

COPPER = ("Copper's twenty-nine, and it's red, - Running power through wires, it is said; - "
          "In a penny it's found, - And it's mined from the ground, - Since the Bronze Age it's gone far ahead.")


def table_key(at) -> str:
    return next(k for k in at.session_state._state._state.filtered_state if k.startswith("dataset_table_"))


def test_every_page_opens_with_no_dataset(studio):
    for name in ("dataset", "estimate", "train", "playground", "home"):
        studio.page(name)


def test_sample_loads_with_its_seeded_mistake_and_a_table_edit_fixes_it_and_survives_a_new_session(
    studio, new_session
):
    studio.at.button(key="home_load_sample").click().run()
    at = studio.page("dataset")
    assert studio.texts("error") == ["Not ready to train: 1 error to fix."]
    problems = next(d.value for d in at.dataframe if "field" in d.value.columns)
    assert 8 in list(problems["row"]) and "content" in " ".join(problems["field"])
    copper_row = next(i for i, ex in enumerate(Workspace().load(Workspace().current()).examples)
                      if ex["messages"][1]["content"] == "Tell me about Copper")
    at.session_state[table_key(at)] = {"edited_rows": {copper_row: {"assistant": COPPER}}, "added_rows": [],
                                      "deleted_rows": []}
    studio.run()
    assert studio.texts("error") == []
    assert any(text.startswith("Valid:") for text in studio.texts("success"))
    # A second edit builds on the first (it once went to a stale copy and silently undid the fix).
    at.session_state[table_key(at)] = {"edited_rows": {0: {"user": "Tell me about Hydrogen, please"}},
                                      "added_rows": [], "deleted_rows": []}
    studio.run()
    both = Workspace().load(Workspace().current()).examples
    assert both[0]["messages"][1]["content"] == "Tell me about Hydrogen, please"
    assert both[copper_row]["messages"][2]["content"] == COPPER
    again = new_session()  # a browser refresh: a new session reads the autosaved dataset
    again.page("dataset")
    assert any(text.startswith("Valid:") for text in again.texts("success"))
    saved = Workspace().load(Workspace().current())
    assert saved.examples[copper_row]["messages"][2]["content"] == COPPER


def test_a_deleted_row_can_be_undone(studio):
    studio.at.button(key="home_load_sample").click().run()
    at = studio.page("dataset")
    at.session_state[table_key(at)] = {"edited_rows": {}, "added_rows": [], "deleted_rows": [0]}
    studio.run()
    assert len(Workspace().load(Workspace().current()).examples) == 11
    studio.at.button(key="dataset_undo").click().run()
    studio.assert_ok()
    assert len(Workspace().load(Workspace().current()).examples) == 12


def test_html_in_a_message_is_shown_as_text_never_interpreted(studio):
    html = "<script>alert('x')</script><b>bold</b>"
    examples = [ds.make_example(f"Tell me about element {i}", html if i == 0 else "An answer") for i in range(10)]
    data = ds.Dataset(name="html", examples=examples, split=["train"] * 10)
    Workspace().save(data)
    Workspace().set_current("html")
    from tests.plugins.apptest import Studio

    fresh = Studio()
    fresh.page("dataset")
    assert html in fresh.texts("text")
    for element in fresh.at.markdown:
        assert "<script>" not in element.value
    assert json.dumps(html)  # the payload itself is untouched in storage
    assert Workspace().load("html").examples[0]["messages"][2]["content"] == html


def test_a_paste_with_broken_lines_lists_each_one_and_imports_the_readable_rows(studio):
    good = [json.dumps(ds.make_example(f"Tell me about element {i}", f"Answer {i}")) for i in range(5)]
    lines = [good[0], "{broken", good[1], good[2], '{"messages": [}', good[3], good[4]]
    at = studio.page("dataset")
    at.text_area(key="dataset_paste").input("\n".join(lines))
    at.text_input(key="dataset_paste_name").input("partly broken")
    studio.run()
    at.button(key="dataset_paste_button").click()
    studio.run()
    assert "2 lines are not valid JSON: fix them in your file and import it again." in studio.texts("error")
    listed = next(c.value for c in at.code if "Line 2 is not valid JSON" in c.value)
    assert "Line 5 is not valid JSON" in listed
    at.button(key="dataset_import_readable").click()
    studio.run()
    saved = Workspace().load("partly broken")
    assert [ex["messages"][2]["content"] for ex in saved.examples] == [f"Answer {i}" for i in range(5)]
    assert "broken lines 2, 5 left out" in Workspace().versions("partly broken")[-1].note


def test_a_csv_is_read_once_for_its_preview_and_its_import(studio, monkeypatch):
    reads = []
    real = readers.read_table
    monkeypatch.setattr(readers, "read_table", lambda *a, **k: reads.append(a[1]) or real(*a, **k))
    csv = "question,answer\n" + "".join(f"Tell me about element {i},Answer {i}\n" for i in range(10))
    at = studio.page("dataset")
    at.file_uploader(key="dataset_upload").set_value(("elements.csv", csv.encode(), "text/csv")).run()
    studio.assert_ok()
    assert [d for d in at.dataframe if "question" in d.value.columns]  # the preview
    at.button(key="dataset_import_button").click().run()
    studio.assert_ok()
    saved = Workspace().load(Workspace().current())
    assert [ex["messages"][-1]["content"] for ex in saved.examples] == [f"Answer {i}" for i in range(10)]
    assert reads == ["elements.csv"]


def test_the_versions_and_quality_tabs_run_when_opened_and_show_the_last_edit(studio):
    studio.at.button(key="home_load_sample").click().run()
    at = studio.page("dataset")
    assert not [m for m in at.metric if m.label == "Well-formed limericks"]  # not run while hidden
    at.session_state[table_key(at)] = {"edited_rows": {0: {"user": "Tell me about Hydrogen, please"}},
                                      "added_rows": [], "deleted_rows": []}
    studio.run()
    at.session_state["dataset_tab"] = "Versions"
    studio.run()
    changes = next(d.value for d in at.dataframe if "change" in d.value.columns)
    assert list(changes["row"]) == [1] and list(changes["change"]) == ["changed"]
    assert changes["before"][0].startswith("Tell me about Hydrogen →")
    assert changes["after"][0].startswith("Tell me about Hydrogen, please →")
    at.session_state["dataset_tab"] = "Limerick quality"
    studio.run()
    assert [m for m in at.metric if m.label == "Well-formed limericks"]
