"""Chat generation under a client that leaves, a crowd, a prompt too long, and OpenAI's parameters.

The engine runs in this process (`engine_in_process`), so a test counts the model's forward passes
(one per generated token) instead of timing anything.
"""

from __future__ import annotations

import json
import math
import socket
import time

import pytest
from openai import APIStatusError

from lib.engine.inference import Target
from tests.plugins.engine import TINY, assert_openai_error

MESSAGES = [{"role": "user", "content": "Tell me about Neon"}]


class ForwardCounter:
    """Counts the tiny model's forward passes: one per token generated, whoever asked for it."""

    def __init__(self, engine):
        engine.proxy.warm(Target(TINY, TINY))
        model = engine.proxy._loaded[TINY].model
        self.count = 0
        self._handle = model.register_forward_hook(self._seen)

    def _seen(self, module, inputs, output) -> None:
        self.count += 1

    def wait_beyond(self, count: int) -> None:
        """Until the model has run past `count` passes (the reply is being generated)."""
        deadline = time.monotonic() + 120
        while self.count <= count:
            assert time.monotonic() < deadline, "generation never started"
            time.sleep(0.01)

    def close(self) -> None:
        self._handle.remove()


@pytest.fixture
def forward_passes(engine_in_process):
    counter = ForwardCounter(engine_in_process.engine)
    try:
        yield counter
    finally:
        counter.close()


def _raw_chat(base_url: str, body: dict) -> socket.socket:
    """A chat request on a bare socket, so the test can hang up whenever it likes."""
    host, port = base_url.removeprefix("http://").split("/")[0].split(":")
    payload = json.dumps(body).encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    return sock


def test_streamed_replies_stop_generating_when_their_clients_disconnect(engine_in_process, forward_passes):
    client = engine_in_process.client()
    stream = client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=400, temperature=0,
                                            stream=True)
    for _chunk, _ in zip(stream, range(3), strict=False):
        pass
    waiting = _raw_chat(engine_in_process.base_url, {"model": TINY, "messages": MESSAGES, "max_tokens": 400,
                                                     "temperature": 0, "stream": True})
    while not engine_in_process.engine.proxy._pending:  # the second reply waits for the first
        time.sleep(0.01)
    waiting.close()  # its user gave up before the first word
    stream.close()  # and the first user closed the tab after three chunks
    at_close = forward_passes.count

    reply = client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=1)  # waits for the slot

    assert reply.usage.completion_tokens == 1
    assert forward_passes.count - at_close < 40  # neither 400-token reply that nobody reads any more


def test_unstreamed_reply_stops_generating_when_the_client_gives_up(engine_in_process, forward_passes):
    before = forward_passes.count
    sock = _raw_chat(engine_in_process.base_url, {"model": TINY, "messages": MESSAGES, "max_tokens": 400,
                                                  "temperature": 0})
    forward_passes.wait_beyond(before + 3)  # the reply is under way
    sock.close()  # the client's timeout: it hangs up and will never read the answer
    at_close = forward_passes.count

    reply = engine_in_process.client().chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=1)

    assert reply.usage.completion_tokens == 1
    assert forward_passes.count - at_close < 40


def test_a_full_chat_queue_answers_429_with_retry_after(engine_in_process, forward_passes):
    before = forward_passes.count
    body = {"model": TINY, "messages": MESSAGES, "max_tokens": 400, "temperature": 0}
    waiting = [_raw_chat(engine_in_process.base_url, body) for _ in range(4)]  # the engine admits 4
    try:
        forward_passes.wait_beyond(before)  # one is generating
        while engine_in_process.engine.proxy.in_flight < 4:  # and three wait
            time.sleep(0.01)
        with pytest.raises(APIStatusError) as caught:
            engine_in_process.client().chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=1)
        assert_openai_error(caught.value, 429, code="queue_full")
        assert caught.value.response.headers["retry-after"].isdigit()
    finally:
        for sock in waiting:
            sock.close()
    # the crowd gone (the engine hears each hang-up, and stops the generating one at its next token), it
    # serves again: no slot stays taken by a client that left
    deadline = time.monotonic() + 10
    while engine_in_process.engine.proxy.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine_in_process.engine.proxy.in_flight == 0
    reply = engine_in_process.client().chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=1)
    assert reply.usage.completion_tokens == 1


def test_a_prompt_longer_than_the_context_is_refused_not_cut(engine_in_process):
    client = engine_in_process.client()
    long_prompt = [{"role": "user", "content": "neon " * 3000}]  # the tiny model's context is 2048 tokens
    for stream in (False, True):
        with pytest.raises(APIStatusError) as caught:
            client.chat.completions.create(model=TINY, messages=long_prompt, max_tokens=5, stream=stream)
        error = assert_openai_error(caught.value, 400, code="context_length_exceeded", param="messages")
        assert error["message"].startswith("This model's maximum context length is 2048 tokens.")
    fits = [{"role": "user", "content": "neon " * 1000}]
    with pytest.raises(APIStatusError) as caught:  # the prompt fits, but not with the completion asked for
        client.chat.completions.create(model=TINY, messages=fits, max_tokens=2000)
    assert "in the completion" in assert_openai_error(caught.value, 400, code="context_length_exceeded")["message"]


def test_n_choices_come_back_from_one_request(engine_in_process):
    client = engine_in_process.client()
    reply = client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=4, temperature=0, n=3)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert len({c.message.content for c in reply.choices}) == 1  # greedy: the same reply three times
    assert reply.usage.completion_tokens == 3 * 4
    stream = client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=4, temperature=0, n=2,
                                            stream=True, stream_options={"include_usage": True})
    texts = {0: "", 1: ""}
    finished = set()
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.add(choice.index)
    assert finished == {0, 1}
    assert texts[0] == texts[1] == reply.choices[0].message.content
    with pytest.raises(APIStatusError) as caught:
        client.chat.completions.create(model=TINY, messages=MESSAGES, n=129)
    assert_openai_error(caught.value, 400, param="n")


def test_logprobs_come_in_openai_shape(engine_in_process):
    client = engine_in_process.client()
    reply = client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=5, temperature=0,
                                           logprobs=True, top_logprobs=3)
    content = reply.choices[0].logprobs.content
    assert len(content) == reply.usage.completion_tokens == 5
    assert "".join(t.token for t in content) == reply.choices[0].message.content
    for token in content:
        assert token.logprob <= 0 and bytes(token.bytes).decode() == token.token
        assert len(token.top_logprobs) == 3
        assert token.top_logprobs[0].logprob == pytest.approx(token.logprob)  # greedy picks the most likely
        assert sum(math.exp(t.logprob) for t in token.top_logprobs) <= 1.0001
    streamed = client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=5, temperature=0,
                                              logprobs=True, stream=True)
    tokens = [t for chunk in streamed for c in chunk.choices if c.logprobs for t in c.logprobs.content]
    assert [t.token for t in tokens] == [t.token for t in content]
    assert all(t.top_logprobs == [] for t in tokens)
    plain = client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=2)
    assert plain.choices[0].logprobs is None


def test_n_and_logprobs_replies_match_openais_schema(engine_in_process):
    from tests.engine.test_schema import problems

    create = engine_in_process.client().chat.completions.with_raw_response.create
    reply = create(model=TINY, messages=MESSAGES, max_tokens=3, n=2, logprobs=True, top_logprobs=2)
    assert problems("CreateChatCompletionResponse", reply.http_response.json()) == []
    streamed = create(model=TINY, messages=MESSAGES, max_tokens=3, n=2, logprobs=True, top_logprobs=2, stream=True)
    chunks = [json.loads(line.removeprefix("data: ")) for line in streamed.http_response.iter_lines()
              if line.startswith("data: {")]
    # OpenAI's document marks a chunk's finish_reason nullable, but its enum has no null: that one is not ours
    found = [p for c in chunks for p in problems("CreateChatCompletionStreamResponse", c)
             if not p.endswith("finish_reason: None is not one of ['stop', 'length', 'tool_calls', 'content_filter', "
                               "'function_call']")]
    assert chunks and found == []


@pytest.mark.parametrize(("param", "value"), [
    ("response_format", {"type": "json_object"}),
    ("tools", [{"type": "function", "function": {"name": "element", "parameters": {"type": "object"}}}]),
    ("tool_choice", "required"),
])
def test_parameters_the_engine_cannot_honour_are_refused_by_name(engine_in_process, param, value):
    with pytest.raises(APIStatusError) as caught:
        engine_in_process.client().chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=2,
                                                           **{param: value})
    error = assert_openai_error(caught.value, 400, param=param)
    assert param in error["message"]


def test_a_person_waiting_is_served_before_background_scoring(engine_in_process, forward_passes):
    """Scores and sweeps ask with OpenAI's service_tier="flex": a Playground question waiting behind them
    is generated next, not after every background request that came before it."""
    import threading

    finished: list[str] = []
    client = engine_in_process.client()

    def ask(name: str, **kwargs) -> None:
        client.chat.completions.create(model=TINY, messages=MESSAGES, **kwargs)
        finished.append(name)

    background = {"max_tokens": 300, "temperature": 0, "service_tier": "flex"}
    before = forward_passes.count
    first = threading.Thread(target=ask, args=("background 1",), kwargs=background)
    first.start()
    forward_passes.wait_beyond(before)  # the first background reply is being generated
    second = threading.Thread(target=ask, args=("background 2",), kwargs=background)
    second.start()
    while engine_in_process.engine.proxy.in_flight < 2:
        time.sleep(0.01)
    person = threading.Thread(target=ask, args=("person",), kwargs={"max_tokens": 5, "temperature": 0.7})
    person.start()
    while engine_in_process.engine.proxy.in_flight < 3:
        time.sleep(0.01)
    for thread in (first, second, person):
        thread.join(timeout=120)
    assert finished.index("person") < finished.index("background 2"), finished


def test_a_persons_greedy_question_is_not_batched_with_background_scoring(engine_in_process, forward_passes,
                                                                          monkeypatch):
    """Greedy questions can share a batch; a person's shares it with other people's only, so a Playground
    question asked while a job is being scored runs at its own pace (8 background rows made each step slower)."""
    import threading

    proxy = engine_in_process.engine.proxy
    batches: list[list[bool]] = []
    for name in ("_generate_one", "_generate_batch"):
        original = getattr(proxy, name)

        def record(arg, _original=original):
            batches.append([r.background for r in (arg if isinstance(arg, list) else [arg])])
            return _original(arg)

        monkeypatch.setattr(proxy, name, record)
    client = engine_in_process.client()

    def ask(**kwargs) -> None:
        client.chat.completions.create(model=TINY, messages=MESSAGES, temperature=0, **kwargs)

    background = {"max_tokens": 200, "service_tier": "flex"}
    before = forward_passes.count
    threads = [threading.Thread(target=ask, kwargs=background)]
    threads[0].start()
    forward_passes.wait_beyond(before)  # a background batch is being generated; more wait behind it
    threads += [threading.Thread(target=ask, kwargs=background) for _ in range(2)]
    for thread in threads[1:]:
        thread.start()
    while proxy.in_flight < 3:
        time.sleep(0.01)
    threads.append(threading.Thread(target=ask, kwargs={"max_tokens": 5}))
    threads[-1].start()
    for thread in threads:
        thread.join(timeout=120)
    with_person = [b for b in batches if False in b]
    assert with_person == [[False]], batches


def test_a_background_score_steps_aside_for_a_person_and_then_says_the_same(engine_in_process, forward_passes,
                                                                            monkeypatch):
    """A person who asks while a background batch is generating does not wait for its long replies: the batch
    stops at the next token, the person is answered, and the background rows go on from the tokens they had,
    saying exactly what they would have said uninterrupted (greedy)."""
    import threading

    client = engine_in_process.client()
    background = {"max_tokens": 120, "temperature": 0, "service_tier": "flex"}

    def ask_background(out: list) -> None:
        reply = client.chat.completions.create(model=TINY, messages=MESSAGES, **background)
        out.append((time.monotonic(), reply))

    def pair() -> list:
        out: list = []
        threads = [threading.Thread(target=ask_background, args=(out,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        return threads, out

    threads, alone = pair()  # the same two rows, never interrupted: what they say
    for thread in threads:
        thread.join(timeout=120)
    alone = [reply for _, reply in alone]

    proxy = engine_in_process.engine.proxy
    batches: list[list[bool]] = []
    original = proxy._generate_batch
    monkeypatch.setattr(proxy, "_generate_batch", lambda batch: batches.append([r.background for r in batch])
                        or original(batch))
    before = forward_passes.count
    threads, interrupted = pair()
    while engine_in_process.engine.proxy.in_flight < 2:
        time.sleep(0.01)
    forward_passes.wait_beyond(before + 3)  # the background batch is a few tokens in
    person = client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=3, temperature=0.7)
    answered = time.monotonic()
    for thread in threads:
        thread.join(timeout=120)
    assert person.choices[0].message.content is not None
    assert answered < min(at for at, _ in interrupted) and batches == [[True, True], [True, True]], batches
    interrupted = [reply for _, reply in interrupted]
    assert len(interrupted) == 2 and all(r.choices[0].finish_reason == alone[0].choices[0].finish_reason
                                         for r in interrupted)
    assert {r.choices[0].message.content for r in interrupted} == {r.choices[0].message.content for r in alone}
    assert [r.usage.completion_tokens for r in interrupted] == [r.usage.completion_tokens for r in alone]
    assert [r.usage.prompt_tokens for r in interrupted] == [r.usage.prompt_tokens for r in alone]


def test_generation_leaves_a_core_to_each_other_busy_process(engine_in_process, monkeypatch):
    """The engine generates beside training (its own process) and whatever else runs: with another process
    wanting both cores, torch generates on one thread instead of spinning two (the journey's Playground
    waited minutes for a reply on a busy machine); on an idle machine it keeps all of them."""
    import torch

    from lib.engine import cpu

    most = torch.get_num_threads()  # torch's thread count belongs to each thread: watch what generation sets
    set_to: list[int] = []
    original = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: set_to.append(n) or original(n))
    client = engine_in_process.client()
    monkeypatch.setattr(cpu, "others_running", lambda: 8)
    client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=4, temperature=0)
    assert set_to and set_to[-1] == 1
    monkeypatch.setattr(cpu, "others_running", lambda: 0)
    client.chat.completions.create(model=TINY, messages=MESSAGES, max_tokens=4, temperature=0)
    assert set_to[-1] == most
