"""Side by side and batch evaluation, against a fake OpenAI-compatible server.

The server speaks the wire format the SDK reads (SSE chunks, a final usage chunk when asked), so
these tests run the real `openai` client end to end, with known delays and scripted failures.
"""

from __future__ import annotations

import json
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

from lib.evaluation import blind_votes
from lib.evaluation import comparison as playground
from lib.evaluation.blind_votes import Vote
from lib.evaluation.comparison import BatchResult, Contender

# --------------------------------------------------------------------------- the fake server


class FakeServer:
    """An OpenAI-compatible chat server: per model, a reply text, a delay, usage or not, scripted errors."""

    def __init__(self) -> None:
        self.models: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # keep pytest's output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server._answer(self, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def add(self, model: str, text: str = "A reply.", *, delay: float = 0.0, chunk_delay: float = 0.0,
            usage: tuple[int, int] | None = (20, 10), errors: list[int] | None = None,
            retry_after: str | None = "0.01") -> None:
        self.models[model] = {"text": text, "delay": delay, "chunk_delay": chunk_delay, "usage": usage,
                              "errors": list(errors or []), "retry_after": retry_after}

    def client(self, **kwargs) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key="test-key", **{"max_retries": 0, **kwargs})

    def requests_for(self, model: str) -> list[dict]:
        return [r for r in self.requests if r.get("model") == model]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        spec = self.models.get(body.get("model"))
        if spec is None:
            return self._error(handler, 404, "model_not_found", f"The model '{body.get('model')}' does not exist.")
        with self._lock:
            status = spec["errors"].pop(0) if spec["errors"] else None
        if status is not None:
            headers = {"retry-after": spec["retry_after"]} if status == 429 and spec["retry_after"] else {}
            return self._error(handler, status, "rate_limit_exceeded", "Rate limit reached.", headers)
        time.sleep(spec["delay"])
        text = spec["text"]
        if not body.get("stream"):
            payload = {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}]}
            data = json.dumps(payload).encode()
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.end_headers()

        def send(chunk: dict) -> None:
            handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            handler.wfile.flush()

        base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            send({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
            if spec["chunk_delay"]:
                time.sleep(spec["chunk_delay"])
        send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if spec["usage"] and (body.get("stream_options") or {}).get("include_usage"):
            prompt, completion = spec["usage"]
            send({**base, "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                   "total_tokens": prompt + completion}})
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()

    @staticmethod
    def _error(handler, status: int, code: str, message: str, headers: dict | None = None) -> None:
        data = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                     "code": code}}).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.close()


@pytest.fixture
def fake_pricing(monkeypatch):
    """A price table with round numbers: $1/$2 per 1M tokens for base models, $3/$6 fine-tuned."""
    def inference_cost(model, prompt_tokens, completion_tokens, *, fine_tuned):
        if model not in ("gpt-test", "gpt-4o-mini-2024-07-18"):
            return None
        rate_in, rate_out = (3.0, 6.0) if fine_tuned else (1.0, 2.0)
        return (prompt_tokens * rate_in + completion_tokens * rate_out) / 1_000_000

    module = types.ModuleType("lib.services.pricing")
    module.inference_cost = inference_cost
    monkeypatch.setattr(playground, "pricing", module)
    return module


@pytest.fixture
def fake_checks(monkeypatch):
    """Limerick and fact checkers with known answers: five lines make a limerick; "fortieth" is wrong."""
    class Result(dict):
        def to_dict(self):
            return dict(self)

    def limerick_check(text):
        lines = [line for line in text.splitlines() if line.strip()]
        return Result(lines=lines, score=100 if len(lines) == 5 else 20, is_limerick=len(lines) == 5, problems=[])

    def facts_check(question, answer):
        claims = []
        if "fortieth" in answer:
            claims.append({"text": "the fortieth", "property": "atomic_number", "stated": 40, "actual": 38,
                           "verdict": "contradicted"})
        if "38" in answer:
            claims.append({"text": "38", "property": "atomic_number", "stated": 38, "actual": 38,
                           "verdict": "supported"})
        return Result(element="Strontium", claims=claims)

    for name, check in (("limerick", limerick_check), ("facts", facts_check)):
        module = types.ModuleType(f"lib.{name}")
        module.check = check
        monkeypatch.setattr(playground, name, module)


LIMERICK = ("There once was an element bright,\ncalled strontium, burning red light;\nwith number thirty-eight,\n"
            "its fireworks look great,\nand they sparkle all over the night.")
WRONG = "Strontium is the fortieth element and I will not rhyme."


# --------------------------------------------------------------------------- side by side


def test_two_contenders_stream_concurrently_so_the_wait_is_the_slowest_not_the_sum(server):
    server.add("slow-a", "one two three", delay=1.0)
    server.add("slow-b", "four five six", delay=1.2)
    client = server.client()
    contenders = [Contender("A", "slow-a", client=client), Contender("B", "slow-b", client=client)]
    calls: list[tuple[int, str, int]] = []

    started = time.perf_counter()
    replies = playground.run_side_by_side(
        contenders, "Be brief.", "Tell me about strontium",
        on_delta=lambda i, text: calls.append((i, text, threading.get_ident())), checks=False,
    )
    elapsed = time.perf_counter() - started

    # Both requests were at the server at once, so the wait is the slowest, not the sum. (Counted by
    # the server, not timed: a busy CI machine stretches wall time.)
    assert server.max_in_flight == 2, f"the calls ran one after the other ({elapsed:.2f} s)"
    assert [r.text for r in replies] == ["one two three", "four five six"]
    assert replies[0].latency >= 1.0 and replies[1].latency >= 1.2
    assert 1.0 <= replies[0].time_to_first_token <= replies[0].latency
    # The callback runs on the caller's thread (a Streamlit page can draw from it) with growing text.
    assert {ident for _, _, ident in calls} == {threading.get_ident()}
    assert [text for i, text, _ in calls if i == 0][-1] == "one two three"
    assert [text for i, text, _ in calls if i == 1][-1] == "four five six"


def test_usage_comes_from_the_final_chunk_and_costs_follow_the_price_table(server, fake_pricing):
    server.add("gpt-test", "hello", usage=(1000, 500))
    server.add("ft:gpt-test:org::abc", "hello", usage=(1000, 500))
    client = server.client()
    base, tuned = playground.run_side_by_side(
        [Contender("Base", "gpt-test", client=client, local=False),
         Contender("Fine-tuned", "ft:gpt-test:org::abc", client=client, local=False)],
        None, "Tell me about gold",
    )
    assert (base.prompt_tokens, base.completion_tokens, base.usage_estimated) == (1000, 500, False)
    assert base.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    # A fine-tuned id is priced at fine-tuned rates, on its base model's row.
    assert tuned.cost_usd == pytest.approx((1000 * 3.0 + 500 * 6.0) / 1e6)
    assert all(r["stream_options"] == {"include_usage": True} for r in server.requests)


def test_local_models_cost_nothing_and_unknown_prices_are_none(server, fake_pricing):
    server.add("tiny-random-llama", "hi")
    server.add("mystery-model", "hi")
    client = server.client()
    local, unknown = playground.run_side_by_side(
        [Contender("Local", "tiny-random-llama", client=client),  # 127.0.0.1: the local engine
         Contender("Elsewhere", "mystery-model", client=client, local=False)],
        None, "Tell me about neon",
    )
    assert local.cost_usd == 0.0
    assert unknown.cost_usd is None and unknown.error is None


def test_without_usage_in_the_stream_tokens_are_counted_here(server):
    server.add("no-usage", "Neon glows orange red in a tube", usage=None)
    (reply,) = playground.run_side_by_side([Contender("X", "no-usage", client=server.client())], "Sys", "Neon?")
    assert reply.usage_estimated is True
    assert reply.completion_tokens > 0 and reply.prompt_tokens > reply.completion_tokens // 2


def test_a_failing_contender_gets_a_plain_error_and_the_other_still_answers(server):
    server.add("works", "fine")
    client = server.client()
    ok, broken = playground.run_side_by_side(
        [Contender("Works", "works", client=client), Contender("Gone", "no-such-model", client=client)],
        None, "Tell me about iron",
    )
    assert ok.ok and ok.text == "fine"
    assert broken.error and "Traceback" not in broken.error and "\n" not in broken.error
    assert "no-such-model" in broken.error or "model" in broken.error.lower()


def test_a_contender_without_client_or_provider_is_an_error_not_a_crash():
    (reply,) = playground.run_side_by_side([Contender("Nothing", "gpt-test")], None, "Hi")
    assert reply.error and "neither a client nor a provider" in reply.error


def test_an_exception_in_on_delta_stops_the_streams_and_goes_up(server):
    server.add("slow-stream", " ".join(["word"] * 30), chunk_delay=0.1)

    def stop(index, text):
        raise RuntimeError("page rerun")

    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="page rerun"):
        playground.run_side_by_side([Contender("S", "slow-stream", client=server.client())], None, "Hi",
                                    on_delta=stop)
    assert time.perf_counter() - started < 2.5  # did not wait for the 3 s stream


def test_each_contender_keeps_its_own_history_and_few_shot_turns_come_first(server):
    server.add("m1", "first answer")
    server.add("m2", "second answer")
    client = server.client()
    few = [{"messages": [{"role": "system", "content": "ignored"}, {"role": "user", "content": "Tell me about gold"},
                         {"role": "assistant", "content": "Gold limerick"}]}]
    contenders = [Contender("Tuned", "m1", client=client), Contender("Prompted", "m2", client=client, few_shot=few)]
    histories = [[], []]
    replies = playground.run_side_by_side(contenders, "System", "Tell me about tin", histories, seed=7)
    histories = [playground.next_history(h, "Tell me about tin", r) for h, r in zip(histories, replies, strict=True)]
    playground.run_side_by_side(contenders, "System", "And lead?", histories, temperature=0.2, max_tokens=50)

    second_m1 = server.requests_for("m1")[-1]
    assert [m["content"] for m in second_m1["messages"]] == ["System", "Tell me about tin", "first answer", "And lead?"]
    second_m2 = server.requests_for("m2")[-1]
    assert [m["content"] for m in second_m2["messages"]] == [
        "System", "Tell me about gold", "Gold limerick", "Tell me about tin", "second answer", "And lead?"]
    assert (second_m1["temperature"], second_m1["max_tokens"]) == (0.2, 50)
    assert server.requests_for("m1")[0]["seed"] == 7 and "seed" not in second_m1


def test_replies_carry_limerick_and_fact_checks(server, fake_checks):
    server.add("good", LIMERICK.replace("\n", "\n "))
    server.add("bad", WRONG)
    client = server.client()
    good, bad = playground.run_side_by_side(
        [Contender("Good", "good", client=client), Contender("Bad", "bad", client=client)], None,
        "Tell me about strontium")
    assert good.is_limerick is True and good.form_score == 100 and good.contradicted == 0
    assert bad.is_limerick is False and bad.contradicted == 1
    assert bad.checks["facts"]["claims"][0]["actual"] == 38


def test_draft_answer_returns_the_text(server):
    server.add("drafter", "  A first draft.  ")
    assert playground.draft_answer(server.client(), "drafter", "Sys", "Tell me about zinc") == "A first draft."
    assert server.requests[-1]["messages"][0] == {"role": "system", "content": "Sys"}
    assert "stream" not in server.requests[-1] or not server.requests[-1]["stream"]


def test_pick_few_shot_skips_the_question_being_asked():
    examples = [
        {"messages": [{"role": "user", "content": "Tell me about tin"}, {"role": "assistant", "content": "T"}]},
        {"messages": [{"role": "user", "content": "Tell me about gold"}]},  # no answer: unusable
        {"prompt": "Tell me about lead", "completion": "L"},
        ("Tell me about iron", "I"),
    ]
    picked = playground.pick_few_shot(examples, 2, exclude="tell me about TIN")
    assert picked == [examples[2], examples[3]]


# --------------------------------------------------------------------------- batch


def test_batch_retries_a_429_twice_honouring_retry_after_and_counts_it(server):
    server.add("busy", "ok", errors=[429, 429], retry_after="0.05")
    server.add("calm", "ok")
    client = server.client()
    waits: list[float] = []
    progress: list[tuple[int, int]] = []

    batch = playground.run_batch(
        [Contender("Busy", "busy", client=client), Contender("Calm", "calm", client=client)],
        ["Tell me about tin"], concurrency=2, progress=lambda d, t: progress.append((d, t)),
        sleep=lambda s: (waits.append(s), time.sleep(s)),
    )
    busy, calm = batch.replies[0]
    assert busy.ok and busy.text == "ok" and busy.retries == 2
    assert calm.retries == 0
    assert waits == [0.05, 0.05]
    assert len(server.requests_for("busy")) == 3
    assert batch.retries == 2 and batch.errors == 0
    assert progress == [(1, 2), (2, 2)]


def test_batch_gives_up_after_max_retries_with_a_plain_message(server):
    server.add("always-busy", "ok", errors=[429] * 10)
    batch = playground.run_batch([Contender("B", "always-busy", client=server.client())], ["Hi"], max_retries=2,
                                 sleep=lambda s: None)
    (reply,) = batch.replies[0]
    assert reply.retries == 2 and not reply.ok
    assert "too many requests" in reply.error.lower() or "429" in reply.error
    assert len(server.requests_for("always-busy")) == 3


def test_batch_keeps_concurrency_bounded_and_scores_every_reply(server, fake_checks, fake_pricing):
    server.add("gpt-test", LIMERICK, delay=0.05, usage=(100, 50))
    server.add("ft:gpt-test:o::x", WRONG, delay=0.05, usage=(40, 20))
    client = server.client()
    prompts = [f"Tell me about element {i}" for i in range(8)]
    batch = playground.run_batch(
        [Contender("Base", "gpt-test", client=client, local=False),
         Contender("Tuned", "ft:gpt-test:o::x", client=client, local=False)],
        prompts, concurrency=3, temperature=0.0, seed=1,
    )
    assert 2 <= server.max_in_flight <= 3
    assert len(batch.replies) == 8 and all(len(row) == 2 for row in batch.replies)
    row = batch.rows()[0]
    assert row["is_limerick"] is True and row["contradicted"] == 0 and row["words"] == len(LIMERICK.split())
    assert batch.prompts == prompts and batch.system_prompt  # the dataset's default system prompt
    assert server.requests[0]["messages"][0]["role"] == "system"

    result = blind_votes.summary(batch, votes=[Vote(i, 0, 1, "right") for i in range(6)]
                                 + [Vote(6, 1, 0, "left"), Vote(7, 0, 1, "tie")])
    base, tuned = result["contenders"]
    assert (base["limericks"], base["form_checked"], base["limerick_rate"]) == (8, 8, 1.0)
    assert (tuned["limericks"], tuned["contradicted"], tuned["mean_contradicted"]) == (0, 8, 1.0)
    assert base["cost_per_1000"] == pytest.approx(1000 * (100 * 1.0 + 50 * 2.0) / 1e6)
    assert tuned["cost_per_1000"] == pytest.approx(1000 * (40 * 3.0 + 20 * 6.0) / 1e6)
    (pair,) = result["pairs"]
    assert (pair["votes"], pair["a_wins"], pair["b_wins"], pair["ties"]) == (8, 0, 7, 1)
    assert pair["b_win_rate"] == pytest.approx(7 / 8)


def test_the_local_engine_is_sent_what_it_can_batch_at_once(server):
    # The engine batches requests that arrive together: base and fine-tuned, several prompts at a time,
    # up to its batch size, whatever the hosted concurrency is.
    server.add("tiny-random-llama", "ok", delay=0.2)
    server.add("ft:tiny-random-llama:x", "ok", delay=0.2)
    batch = playground.run_batch([Contender("Local", "tiny-random-llama", client=server.client()),
                                  Contender("Tuned", "ft:tiny-random-llama:x", client=server.client())],
                                 [f"p{i}" for i in range(11)], concurrency=1)
    assert batch.errors == 0 and server.max_in_flight == playground.LOCAL_BATCH


def test_hosted_calls_keep_their_own_limit_beside_the_local_engine(server):
    server.add("gpt-test", "ok", delay=0.2)
    server.add("tiny-random-llama", "ok", delay=0.2)
    client = server.client()
    batch = playground.run_batch([Contender("Hosted", "gpt-test", client=client, local=False),
                                  Contender("Local", "tiny-random-llama", client=client, local=True)],
                                 [f"p{i}" for i in range(12)], concurrency=2, local_concurrency=3)
    assert batch.errors == 0 and server.max_in_flight == 5


def test_batch_can_be_stopped_and_round_trips_through_json(server):
    server.add("m", "ok", delay=0.05)
    batch = playground.run_batch([Contender("M", "m", client=server.client())], [f"p{i}" for i in range(20)],
                                 concurrency=1, should_stop=lambda: True)
    assert batch.finished is False
    assert any(r.error == "Stopped." for row in batch.replies for r in row)
    assert len(server.requests) < 20
    again = BatchResult.from_dict(json.loads(json.dumps(batch.to_dict())))
    assert again.rows() == batch.rows()


def test_batch_rejects_empty_input():
    with pytest.raises(ValueError, match="empty"):
        playground.run_batch([Contender("M", "m", client=object())], [])


def test_a_reply_becomes_a_dataset_example():
    assert playground.to_example("Elle", "Tell me about tin", "A tin limerick") == {"messages": [
        {"role": "system", "content": "Elle"}, {"role": "user", "content": "Tell me about tin"},
        {"role": "assistant", "content": "A tin limerick"}]}
