"""lib.dataprep.check: one check for every page, the "ready to train" rule, incremental re-checks, drafts."""

from __future__ import annotations

import copy
import dataclasses
import random
import string
import subprocess
import sys

from lib.dataprep import check as dataset_check
from lib.dataprep import validation
from lib.dataprep.dataset import Dataset, make_example
from lib.dataprep.near_duplicates import NearDuplicateIndex, near_pairs
from lib.dataprep.readers import load_file

SAMPLE = "sample_data/elements_limericks.jsonl"


def rows(n: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 8))) for _ in range(800)]
    return [make_example(f"Tell me about {rng.choice(words)} {i}",
                         " - ".join(" ".join(rng.choices(words, k=6)) for _ in range(5))) for i in range(n)]


def edit(data: Dataset, index: int, answer: str) -> Dataset:
    examples = list(data.examples)
    examples[index] = copy.deepcopy(examples[index])
    examples[index]["messages"][2]["content"] = answer
    return dataclasses.replace(data, examples=examples)


def test_held_out_rows_leaving_too_few_to_train_block_training_with_a_plain_reason():
    examples = rows(12)
    data = Dataset(examples=examples, split=["train"] * 9 + ["validation"] * 3)
    check = dataset_check.check(data)
    assert check.report.valid  # the table itself is fine...
    assert not check.ready  # ...but 9 training examples are too few
    [blocker] = check.blockers
    assert blocker.code == "too_few_examples"
    assert blocker.message.startswith("Only 9 examples are left for training (3 are held out for validation)")
    assert (check.train_rows, check.held_out_rows) == (list(range(1, 10)), [10, 11, 12])
    assert dataset_check.check(dataclasses.replace(data, split=["train"] * 10 + ["validation"] * 2)).ready


def test_errors_name_the_table_row_in_either_split_and_a_small_validation_split_is_fine():
    examples = rows(14)
    examples[12]["messages"][2]["content"] = ""
    check = dataset_check.check(Dataset(examples=examples, split=["train"] * 11 + ["validation"] * 3))
    assert [(i.line, i.code) for i in check.blockers] == [(13, "missing_content")]
    assert check.held_out.examples == 3 and not check.held_out.valid and check.train.valid


def test_upload_errors_is_the_engines_rule_too():
    small = validation.validate(rows(3))
    assert [i.code for i in validation.upload_errors(small, "training_file")] == ["too_few_examples"]
    assert validation.upload_errors(small, "validation_file") == []


def test_the_sample_check_matches_validate_and_the_privacy_scan():
    data = load_file(SAMPLE)
    check = dataset_check.DatasetChecker().check(data)
    assert check.report.issues == validation.validate(data.examples).issues
    assert [(i.line, i.code) for i in check.blockers] == [(8, "missing_content")]
    assert check.summary is not None and len(check.quality_rows) == 12
    assert len(check.tokens) == 12 and all(t > 20 for t in check.tokens)


def test_an_edit_rechecks_only_the_row_it_changed():
    checker = dataset_check.DatasetChecker()
    data = Dataset(examples=rows(300), split=["train"] * 300)
    first = checker.check(data)
    assert (checker.stats.rows_checked, checker.stats.rows_scored) == (300, 300)
    compared = checker.index.compared
    edited = edit(data, 40, "A new answer - with new words - in five short lines - that nobody wrote - before today")
    second = checker.check(edited)
    assert (checker.stats.rows_checked, checker.stats.rows_scored) == (301, 301)
    assert checker.index.compared - compared <= 3  # the edited row against its few candidates, no more
    assert second.digest != first.digest and second.quality_rows[40].answer.startswith("A new answer")
    assert checker.check(edited) is second  # the same content is not checked again


def test_incremental_near_duplicates_match_a_fresh_check_after_each_edit():
    checker = dataset_check.DatasetChecker()
    data = Dataset(examples=rows(400), split=["train"] * 400)
    steps = [
        (120, data.examples[7]["messages"][2]["content"] + "!"),  # becomes a near copy of row 8
        (300, data.examples[7]["messages"][2]["content"].replace(" - ", " / ", 1)),  # another one
        (120, "Something else entirely - five lines - of new words - nobody wrote - before"),  # no longer
    ]
    for index, answer in steps:
        data = edit(data, index, answer)
        incremental = [(i.line, i.message) for i in checker.check(data, with_quality=False).report.issues]
        assert incremental == [(i.line, i.message) for i in validation.validate(data.examples).issues]
    assert [(i.line, i.code) for i in validation.validate(data.examples).warnings] == [(301, "near_duplicate")]


def test_the_index_updates_and_answers_like_a_fresh_one():
    texts = ["tell me about strontium\nstrontium is element 38 of the table.",
             "tell me about neon\nneon glows red in a tube, and signs are made with it",
             "tell me about strontium\nstrontium is element 39 of the table."]
    index = NearDuplicateIndex()
    index.update(texts[:2])
    index.update(texts)
    assert index.pairs(texts) == near_pairs(texts) == {2: (0, near_pairs(texts)[2][1])}
    index.update(texts[1:])
    assert index.pairs([None, *texts[1:]]) == {}


def test_digest_is_the_content_not_the_objects():
    data = Dataset(examples=rows(5), split=["train"] * 5)
    same = Dataset(examples=copy.deepcopy(data.examples), split=["train"] * 5)
    assert dataset_check.digest(data) == dataset_check.digest(same)
    assert dataset_check.digest(data) != dataset_check.digest(dataclasses.replace(data, split=["validation"] * 5))
    assert dataset_check.digest(data) != dataset_check.digest(edit(data, 0, "changed"))


def test_check_rows_judges_drafts_against_the_dataset_and_each_other():
    existing = rows(20)
    near = copy.deepcopy(existing[4])
    near["messages"][2]["content"] += "!"
    private = make_example("Who do I ask about Neon?", "Write to jane.doe@corp.com - she knows - all of it - "
                                                      "really - truly")
    fresh = rows(2, seed=99)
    verdicts = dataset_check.check_rows([copy.deepcopy(existing[2]), near, private, fresh[0], fresh[0],
                                         {"messages": []}], existing)
    assert [v.duplicate_of for v in verdicts] == [("existing", 3), ("existing", 5), None, None, ("new", 4), None]
    assert [v.ok for v in verdicts] == [False, False, False, True, False, False]
    assert verdicts[1].similarity and 95 <= verdicts[1].similarity < 100
    assert any(i.code == "privacy_email" for i in verdicts[2].issues)
    assert [i.code for i in verdicts[5].errors] == ["missing_messages_list"]
    assert all(v.tokens > 0 for v in verdicts[:5]) and verdicts[3].quality.answer


def test_validation_and_privacy_no_longer_import_each_other():
    code = ("import sys, lib.dataprep.validation; assert 'lib.dataprep.privacy' not in sys.modules; "
            "import lib.dataprep.privacy; assert 'lib.dataprep.check' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_large_one_off_check_on_two_cores_says_exactly_what_one_core_says(monkeypatch):
    """The command line's check works out half the rows in a forked child (lib.dataprep.halves): the same
    issues (copies and near copies across the two halves, privacy, format), token counts and report."""
    from lib.dataprep import halves

    examples = rows(60, seed=8)
    examples[45] = copy.deepcopy(examples[3])  # an exact copy in the other half
    examples[50] = copy.deepcopy(examples[7])
    examples[50]["messages"][2]["content"] = examples[50]["messages"][2]["content"][:-1] + "!"  # a near copy
    examples[55]["messages"][1]["content"] += " Write to jo.smith@example.org"
    examples[58] = {"messages": [{"role": "user", "content": "No answer here"}]}
    data = Dataset(examples=examples, split=["train"] * 50 + ["validation"] * 10)

    monkeypatch.setenv("FTS_ONE_CORE", "1")
    alone = dataset_check.check(data, model="gpt-4o-mini", file_lines=True)
    monkeypatch.delenv("FTS_ONE_CORE")
    monkeypatch.setattr(halves, "AT_LEAST", 10)
    monkeypatch.setattr(halves.threading, "active_count", lambda: 1)
    monkeypatch.setattr(halves, "cores", lambda: 2)
    forked = []
    real_fork = halves.os.fork
    monkeypatch.setattr(halves.os, "fork", lambda: forked.append(1) or real_fork())
    split = dataset_check.check(data, model="gpt-4o-mini", file_lines=True)

    assert forked == [1]
    assert split == alone
    codes = {i.code for i in split.with_privacy().issues}
    assert {"duplicate_example", "near_duplicate", "privacy_email", "example_missing_assistant_message"} <= codes
    assert len(split.tokens) == len(split.answer_tokens) == 60
    assert split.answer_tokens[58] == 0 and all(split.answer_tokens[:58])  # row 59 has no answer


def test_a_one_off_search_for_near_copies_finds_what_the_kept_index_finds():
    """`near_pairs` indexes only the segments two to BUCKET_CAP texts share: the same pairs as the full
    index, with a segment every text holds (no candidates), exact repeats and near copies mixed in."""
    from lib.dataprep import near_duplicates

    rng = random.Random(11)
    common = "tell me about the element that everybody knows"  # held by more texts than BUCKET_CAP
    texts: list[str | None] = [f"{common} - " + " ".join(rng.choices(string.ascii_lowercase, k=80))
                               for _ in range(near_duplicates.BUCKET_CAP + 40)]
    for k in range(0, 30, 3):
        texts[k + 40] = texts[k][:-3] + "xyz"  # near copies
    texts[10] = texts[20]
    texts[5] = None
    index = NearDuplicateIndex()
    index.update(t for t in texts if t is not None)
    full = index.pairs(texts)
    assert len(full) >= 10
    assert near_pairs(texts) == full
    assert near_pairs(texts, [near_duplicates.segments(t) if t else None for t in texts]) == full
