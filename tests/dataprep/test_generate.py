"""Generated rows against a stub writer: each bad draft rejected for its own reason, each good one admitted."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from lib.dataprep import dataset as ds
from lib.dataprep import generate, readers
from lib.dataprep.workspace import Workspace
from lib.services import errors, pricing, providers
from tests.plugins.faults import TEST_KEY
from tests.plugins.writer import FOUR_LINES, GOOD_BERYLLIUM, GOOD_LITHIUM, PROSE, SIX_LINES, WRONG_STRONTIUM

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "elements_limericks.jsonl"


@pytest.fixture
def seeds() -> ds.Dataset:
    data = readers.load_file(SAMPLE)
    data.name = "seeds"
    return data


def client_for(url: str, *, max_retries: int = 0, timeout: float = 30.0):
    """The writer's client, made the way the studio makes every client."""
    return providers.make_client(providers.ProviderConfig(kind="url", base_url=url, api_key=TEST_KEY,
                                                          max_retries=max_retries, timeout=timeout))


def near_copy_of_hydrogen(seeds: ds.Dataset) -> str:
    answer = seeds.examples[0]["messages"][-1]["content"]
    return answer.replace("job done!", "job done.")


# ------------------------------------------------------------------------------------------ plan


def test_plan_takes_the_elements_no_row_covers_in_atomic_number_order(seeds):
    assert generate.plan(seeds.examples, 4) == [
        "Tell me about Lithium", "Tell me about Beryllium", "Tell me about Boron", "Tell me about Nitrogen"]


def test_random_order_takes_uncovered_elements_too_and_a_seed_repeats_it(seeds):
    first = generate.plan(seeds.examples, 10, order="random", seed=3)
    assert first == generate.plan(seeds.examples, 10, order="random", seed=3)
    assert first != generate.plan(seeds.examples, 10)
    assert not {q.removeprefix("Tell me about ") for q in first} & {"Hydrogen", "Helium", "Carbon", "Oxygen"}


def test_questions_follow_the_seeds_wording(seeds):
    reworded = [ds.make_example(f"What can you tell me about {name}?", "x") for name in ("Neon", "Argon")]
    assert generate.question_template(reworded) == "What can you tell me about {element}?"
    assert generate.plan(reworded, 1) == ["What can you tell me about Hydrogen?"]


def test_user_topics_are_elements_by_name_or_symbol_or_questions_kept_as_written(seeds):
    topics = generate.parse_topics("Li, be\n") + ["noble gases", "Why does gold not rust?"]
    assert generate.plan(seeds.examples, 10, about=topics) == [
        "Tell me about Lithium", "Tell me about Beryllium", "Tell me about noble gases", "Why does gold not rust?"]


# ------------------------------------------------------------------------------------- the writer


def test_several_rows_per_call_read_from_a_json_list_however_it_is_wrapped():
    questions = ["Tell me about Lithium", "Tell me about Beryllium"]
    fenced = "Here you go:\n```json\n" + json.dumps(
        [{"question": q, "answer": a} for q, a in zip(questions, ["A", "B"], strict=True)]) + "\n```"
    assert [a for _, a, _ in generate.parse_reply(fenced, questions, as_json=True)] == ["A", "B"]
    wrapped = json.dumps({"rows": [{"question": questions[1], "limerick": "B"}, {"question": questions[0], "answer": "A"}]})
    assert [a for _, a, _ in generate.parse_reply(wrapped, questions, as_json=True)] == ["A", "B"]
    missing = generate.parse_reply(json.dumps(["only one"]), questions, as_json=True)
    assert missing[0][1] == "only one" and "no answer" in missing[1][2]
    garbage = generate.parse_reply("{not json at all", questions, as_json=True)
    assert all("not the JSON list" in problem for _, _, problem in garbage)


def test_the_writer_gets_the_datasets_system_prompt_its_rows_and_the_instruction(seeds, stub_writer, writer_server):
    stub_writer.queue(GOOD_LITHIUM)
    settings = generate.Settings(model="stub-writer", provider="url", instruction="Rhyme AABBA, facts true.")
    list(generate.Run(client_for(writer_server.url), settings, ["Tell me about Lithium"], seeds))
    messages = stub_writer.requests[0]["messages"]
    assert messages[0]["content"].startswith(seeds.system_prompt) and "Rhyme AABBA, facts true." in messages[0]["content"]
    assert messages[1:3] == seeds.examples[0]["messages"][1:3]
    assert messages[-1] == {"role": "user", "content": "Tell me about Lithium"}


def test_the_local_engine_is_asked_several_rows_at_once_and_drafts_keep_their_order(seeds, stub_writer,
                                                                                     writer_server):
    # The engine batches requests that arrive together: the run keeps several calls in flight.
    state = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow_echo(messages):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
        return f"A row about {messages[-1]['content'].removeprefix('Tell me about ')}"

    stub_writer.queue(slow_echo)
    questions = [f"Tell me about {name}" for name in ("Lithium", "Beryllium", "Boron", "Neon", "Sodium", "Argon")]
    settings = generate.Settings(model="stub-writer", provider="local")
    drafts = list(generate.Run(client_for(writer_server.url), settings, questions, seeds))
    assert [d.question for d in drafts] == questions
    assert [d.answer for d in drafts] == [q.replace("Tell me about", "A row about") for q in questions]
    assert state["most"] > 1


# ------------------------------------------------------------------------- each draft and its verdict


def test_each_bad_draft_is_rejected_for_its_own_reason_and_each_good_one_admitted(seeds, stub_writer, writer_server):
    cases = [
        ("Lithium", GOOD_LITHIUM, []),
        ("Beryllium", GOOD_BERYLLIUM, []),
        ("Strontium", WRONG_STRONTIUM, ["facts"]),
        ("Boron", FOUR_LINES, ["limerick"]),
        ("Nitrogen", SIX_LINES, ["limerick"]),
        ("Fluorine", PROSE, ["limerick"]),
        ("Sodium", "", ["reply"]),
        ("Hydrogen", near_copy_of_hydrogen(seeds), ["duplicate"]),
    ]
    stub_writer.queue(*(reply for _, reply, _ in cases))
    settings = generate.Settings(model="stub-writer", provider="url")
    drafts = list(generate.Run(client_for(writer_server.url), settings, [f"Tell me about {n}" for n, _, _ in cases],
                               seeds))
    assert [d.failed for d in drafts] == [failed for _, _, failed in cases]
    assert [d.passed for d in drafts] == [True, True, False, False, False, False, False, False]
    verdicts = {name: d.verdict() for (name, _, _), d in zip(cases, drafts, strict=True)}
    assert verdicts["Lithium"] == "passes every check"
    assert verdicts["Strontium"] == "element facts: atomic number: the answer says 40, Strontium has 38"
    assert "found 4 lines" in verdicts["Boron"] and "found 6 lines" in verdicts["Nitrogen"]
    assert "found 1 line;" in verdicts["Fluorine"]
    assert verdicts["Sodium"] == "usable reply: the writer sent an empty reply"
    assert verdicts["Hydrogen"].startswith("not a copy: almost the same as row 1 of the dataset")


def test_json_garbage_and_a_copy_of_another_draft_are_rejected_in_batches(seeds, stub_writer, writer_server):
    batch = [{"question": "Tell me about Lithium", "answer": GOOD_LITHIUM},
             {"question": "Tell me about Beryllium", "answer": GOOD_LITHIUM.replace("Lithium", "Beryllium")},
             {"question": "Tell me about Boron", "answer": GOOD_LITHIUM}]
    stub_writer.queue(json.dumps(batch), "Sorry, I cannot write JSON today.")
    settings = generate.Settings(model="stub-writer", provider="url", rows_per_call=3)
    questions = ["Tell me about Lithium", "Tell me about Beryllium", "Tell me about Boron",
                 "Tell me about Nitrogen", "Tell me about Fluorine"]
    drafts = list(generate.Run(client_for(writer_server.url), settings, questions, seeds))
    assert len(stub_writer.requests) == 2  # five rows in two calls
    assert drafts[0].passed
    assert "duplicate" in drafts[2].failed and "almost the same as another draft" in drafts[2].verdict()
    assert drafts[3].failed == drafts[4].failed == ["reply"]
    assert "not the JSON list" in drafts[3].verdict() and drafts[3].raw.startswith("Sorry")


def test_a_failing_draft_sent_back_once_comes_back_corrected(seeds, stub_writer, writer_server):
    stub_writer.queue(WRONG_STRONTIUM, GOOD_LITHIUM.replace("Lithium", "Strontium").replace("three", "thirty-eight"))
    settings = generate.Settings(model="stub-writer", provider="url")
    client = client_for(writer_server.url)
    [draft] = generate.Run(client, settings, ["Tell me about Strontium"], seeds)
    fixed = generate.revise(client, settings, draft, seeds)
    assert fixed.id == draft.id and fixed.attempt == 1
    assert "says 40, Strontium has 38" in stub_writer.requests[1]["messages"][-1]["content"]
    assert fixed.checks["facts"].ok
    with pytest.raises(ValueError, match="already sent back once"):
        generate.revise(client, settings, dataclass_fail(fixed), seeds)


def dataclass_fail(draft: generate.Draft) -> generate.Draft:
    draft.checks = {**draft.checks, "limerick": generate.Check(False, "edited to fail")}
    return draft


def test_an_edited_draft_is_checked_again(seeds):
    draft = generate.make_draft("Tell me about Boron", FOUR_LINES, system_prompt=seeds.system_prompt, model="m",
                                provider="url", existing=seeds.examples, others=[])
    assert draft.failed == ["limerick"]
    good = GOOD_LITHIUM.replace("Lithium", "Boron").replace("three", "five")
    again = generate.recheck(draft, answer=good, system_prompt=seeds.system_prompt, existing=seeds.examples, others=[])
    assert again.passed and again.id == draft.id and again.example["messages"][-1]["content"] == good


# ------------------------------------------------------------------------------------------- faults


def test_a_refused_key_stops_the_run_in_plain_words_and_keeps_the_drafts_that_arrived(
        seeds, stub_writer, writer_server, make_fault_proxy):
    stub_writer.queue(GOOD_LITHIUM)
    proxy = make_fault_proxy(writer_server.url)
    settings = generate.Settings(model="stub-writer", provider="url")
    run = generate.Run(client_for(proxy.url), settings, ["Tell me about Lithium", "Tell me about Beryllium"], seeds)
    kept = []
    for draft in run:
        kept.append(draft)
        proxy.fail(401)
    assert len(kept) == 1 and kept[0].passed
    assert isinstance(run.error, errors.AuthError)
    assert "did not accept the API key" in run.error.message and TEST_KEY not in run.error.message


def test_a_rate_limit_with_retry_after_is_retried_by_the_sdk(seeds, stub_writer, writer_server, make_fault_proxy):
    stub_writer.queue(GOOD_LITHIUM)
    proxy = make_fault_proxy(writer_server.url)
    proxy.fail(429, retry_after=0, times=1)
    run = generate.Run(client_for(proxy.url, max_retries=1), generate.Settings(model="stub-writer", provider="url"),
                       ["Tell me about Lithium"], seeds)
    assert [d.passed for d in run] == [True] and run.error is None
    assert proxy.hits("/chat/completions") == 2


@pytest.mark.parametrize(("fault", "kind", "words"), [
    ("500", errors.ServerError, "had a problem on its side"),
    ("403", errors.PermissionDenied, "refused this for your key"),
    ("timeout", errors.Timeout, "did not answer"),
])
def test_server_faults_and_timeouts_end_the_run_with_a_plain_message(seeds, stub_writer, writer_server,
                                                                     make_fault_proxy, fault, kind, words):
    stub_writer.queue(GOOD_LITHIUM)
    proxy = make_fault_proxy(writer_server.url)
    if fault == "timeout":
        proxy.delay(2.0)
    else:
        proxy.fail(int(fault))
    run = generate.Run(client_for(proxy.url, timeout=0.5), generate.Settings(model="stub-writer", provider="url"),
                       ["Tell me about Lithium"], seeds)
    assert list(run) == []
    assert isinstance(run.error, kind) and words in run.error.message


# --------------------------------------------------------------------------- estimate and accepting


def test_the_estimate_counts_calls_tokens_and_dollars_from_the_price_table(seeds):
    questions = generate.plan(seeds.examples, 20)
    hosted = generate.estimate(generate.Settings(model="gpt-4.1-mini", provider="openai", rows_per_call=5),
                               questions, seeds.examples, seeds.system_prompt)
    assert hosted.calls == 4 and hosted.prompt_tokens > 0 and hosted.completion_tokens > 0
    assert hosted.dollars == pricing.inference_cost("gpt-4.1-mini", hosted.prompt_tokens, hosted.completion_tokens,
                                                    fine_tuned=False)
    local = generate.estimate(generate.Settings(model=pricing.LOCAL_DEFAULT_MODEL), questions, seeds.examples,
                              seeds.system_prompt)
    assert local.calls == 20 and local.dollars == 0 and "free" in local.summary()
    unknown = generate.estimate(generate.Settings(model="my-own-model", provider="url"), questions[:1],
                                seeds.examples, seeds.system_prompt)
    assert unknown.dollars is None and "price unknown" in unknown.summary()


def test_a_finished_run_makes_the_next_estimate_measured(seeds, stub_writer, writer_server):
    stub_writer.queue(GOOD_LITHIUM)
    workspace = Workspace()
    settings = generate.Settings(model="stub-writer", provider="url")
    before = generate.estimate(settings, ["Tell me about Lithium"], seeds.examples, seeds.system_prompt,
                               workspace=workspace)
    assert "rough guess" in before.basis
    list(generate.Run(client_for(writer_server.url), settings, ["Tell me about Lithium"], seeds, workspace=workspace))
    after = generate.estimate(settings, ["Tell me about Lithium"], seeds.examples, seeds.system_prompt,
                              workspace=workspace)
    assert after.basis == "at the pace of your last run with this model"


def test_drafts_are_saved_as_they_arrive_and_accepted_rows_remember_their_origin_outside_the_jsonl(
        seeds, stub_writer, writer_server):
    stub_writer.queue(GOOD_LITHIUM, GOOD_BERYLLIUM)
    workspace = Workspace()
    store = generate.DraftStore(workspace, seeds.name)
    run = generate.Run(client_for(writer_server.url), generate.Settings(model="stub-writer", provider="url"),
                       ["Tell me about Lithium", "Tell me about Beryllium"], seeds, store=store)
    for _ in run:
        break  # Cancel after the first draft
    assert [d.question for d in generate.DraftStore(workspace, seeds.name).load()] == ["Tell me about Lithium"]
    drafts = store.load()
    grown = generate.accept(seeds, drafts, workspace=workspace, store=store)
    assert len(grown.examples) == len(seeds.examples) + 1 and grown.splits()[-1] == "train"
    exported = json.loads(ds.to_jsonl(grown.examples).splitlines()[-1])
    assert exported == {"messages": [{"role": "system", "content": seeds.system_prompt},
                                     {"role": "user", "content": "Tell me about Lithium"},
                                     {"role": "assistant", "content": GOOD_LITHIUM}]}  # plain OpenAI JSONL
    origins = generate.origins(workspace, grown.examples)
    assert origins[:-1] == [None] * len(seeds.examples)
    assert origins[-1]["model"] == "stub-writer" and "facts" in origins[-1]["checks_passed"]
    assert generate.origin_label(origins[-1]).startswith("generated by stub-writer on ")
    assert [d.status for d in store.load()] == ["accepted"]
    assert generate.accept(grown, store.load()).examples == grown.examples  # accepted drafts never enter twice
