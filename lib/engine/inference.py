"""Serving: one base model in memory per base id, LoRA adapters switched per request, behind one lock.

A fine-tuned model or checkpoint made with LoRA is a small adapter folder; peft loads each one by
name into the same base model, `set_adapter` picks it for a request and `disable_adapter()` serves
the base model itself, so base, fine-tuned models and checkpoints do not multiply memory. Fully
fine-tuned models are whole models and get their own slot (at most `max_models` whole models stay
loaded, least recently used first out).
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lib.engine import cpu, errors, models
from lib.engine.data import text_of

DEFAULT_MAX_NEW_TOKENS = 1024
BATCH_WINDOW = 0.04  # seconds the generation thread waits for requests that can share a batch
MAX_BATCH = 8  # requests that arrive together and share one generate: scoring and comparisons ask many at once
MAX_WAITING = 16  # chat requests in the engine (generating or waiting) before a new one answers 429


@dataclass(frozen=True)
class Target:
    """What a request's model id resolves to."""

    model_id: str
    base_id: str  # canonical base model id, or the folder of a fully fine-tuned model
    adapter_path: str | None = None


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    device: str
    peft: Any = None
    adapters: OrderedDict = field(default_factory=OrderedDict)  # adapter name -> path


@dataclass
class Completion:
    text: str = ""
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds_to_first_token: float | None = None
    logprobs: list[dict] | None = None  # OpenAI's choices[i].logprobs.content, when asked for


def adapter_name(model_id: str) -> str:
    """peft adapter names become module keys: no dots or colons."""
    return "a_" + re.sub(r"[^A-Za-z0-9_]", "_", model_id)


class _Streamer:
    """Receives token ids from `generate` (a transformers streamer) and hands them to the reader thread."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self._prompt_seen = False
        self.scores: _Scores | None = None  # set while generating with logprobs
        self.request: _Request | None = None

    def put(self, value) -> None:
        if not self._prompt_seen:  # the first call carries the prompt
            self._prompt_seen = True
            return
        for token_id in value.reshape(-1).tolist():
            self.queue.put(("token", token_id, _logprob_of(self.scores, 0, token_id, self.request)))

    def end(self) -> None:
        self.queue.put(("end", None, None))


class _Scores:
    """The log-probabilities of the latest generation step, caught on the model's output layer (the raw
    distribution, before temperature or top_p), one row per batch row: what `logprobs` reports."""

    def __init__(self):
        self.latest = None

    def hook(self, module, inputs, output) -> None:
        self.latest = output[:, -1, :].float().log_softmax(-1)


def _logprob_of(scores: _Scores | None, row: int, token_id: int, request) -> tuple | None:
    """(logprob of the chosen token, [(id, logprob), ...] of the most likely ones), or None when not asked."""
    if scores is None or scores.latest is None or request is None or request.logprobs is None:
        return None
    values = scores.latest[row]
    top = []
    if request.logprobs:
        best = values.topk(request.logprobs)
        top = list(zip(best.indices.tolist(), best.values.tolist(), strict=True))
    return float(values[token_id]), top


@dataclass(eq=False)
class _Request:
    target: Target
    messages: list[dict]
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    seed: int | None
    logprobs: int | None = None  # None: not asked; else how many most likely tokens to list (0-20)
    background: bool = False  # OpenAI's service_tier "flex": served after every interactive request waiting
    call: Call | None = None
    streamer: _Streamer = field(default_factory=lambda: _Streamer())
    state: dict = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)

    def batch_key(self) -> tuple | None:
        """Requests with the same key can share a batch: same base model, and greedy decoding, or the
        same sampling settings with no seed (a seed asks for one request's own random numbers)."""
        if self.temperature is not None and self.temperature == 0:
            return (self.target.base_id, "greedy")
        if self.seed is None:
            return (self.target.base_id, self.temperature, self.top_p)
        return None


class _BatchStreamer:
    """Hands each row of a batched `generate` to its own request's reader (a transformers streamer),
    and knows which rows are finished."""

    def __init__(self, batch: list[_Request], eos: set[int], yield_to: Callable[[], bool] | None = None):
        self.batch = batch
        self.eos = eos
        self.counts = [0] * len(batch)
        self.done = [False] * len(batch)
        self.ids: list[list[int]] = [[] for _ in batch]  # what each row has said in this generate
        self._prompt_seen = False
        self.scores: _Scores | None = None
        self.yield_to = yield_to  # asked at each step: stop here for a person waiting (rows go on later)
        self.yielded = False
        self.each_step: Callable[[], None] | None = None  # called at each step (the CPU thread share)

    def put(self, value) -> None:
        if not self._prompt_seen:  # the first call carries the prompts
            self._prompt_seen = True
            return
        for i, token_id in enumerate(value.reshape(len(self.batch), -1)[:, -1].tolist()):
            request = self.batch[i]
            if self.done[i]:
                continue
            if request.cancel.is_set():
                self._finish(i)
                continue
            request.streamer.queue.put(("token", token_id, _logprob_of(self.scores, i, token_id, request)))
            self.ids[i].append(token_id)
            self.counts[i] += 1
            if token_id in self.eos or self.counts[i] >= request.state["limit"]:
                self._finish(i)

    def _finish(self, i: int) -> None:
        self.done[i] = True
        self.batch[i].streamer.end()  # this reply is complete now, whatever the others still say

    def end(self) -> None:
        if self.yielded:  # the rows not finished go on in a later batch: their replies stay open
            return
        for i in range(len(self.batch)):
            if not self.done[i]:
                self._finish(i)

    def unfinished(self) -> list[int]:
        return [i for i, r in enumerate(self.batch) if not self.done[i] and not r.cancel.is_set()]

    def stopping_criterion(self):
        """For `generate`: a row is finished when its reply is complete or its client went away."""
        import torch
        from transformers import StoppingCriteria

        rows = self

        class _RowsDone(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                if rows.each_step is not None:
                    rows.each_step()
                if rows.yield_to is not None and rows._prompt_seen and rows.yield_to():
                    rows.yielded = True
                    return torch.ones(len(rows.batch), dtype=torch.bool, device=input_ids.device)
                return torch.tensor([done or r.cancel.is_set() for done, r in zip(rows.done, rows.batch, strict=True)],
                                    device=input_ids.device)

        return _RowsDone()


class Call:
    """One chat request in the engine: its n choices (one reader each) and a way to drop them all when
    the client has gone, whether they are generating or still waiting for their turn."""

    def __init__(self, proxy: ModelProxy, requests: list[_Request], readers: list[Iterator[tuple[str, Any]]]):
        self.proxy = proxy
        self.requests = requests
        self.readers = readers
        self.rows_left = len(requests)

    def cancel(self) -> None:
        self.proxy._drop(self.requests)


def _stop_criteria(cancel: threading.Event, each_step: Callable[[], None] | None = None):
    from transformers import StoppingCriteria

    class _Cancel(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            if each_step is not None:
                each_step()
            return cancel.is_set()

    return _Cancel()


class ModelProxy:
    """Loads models on first use; one thread generates, batching requests that arrive together."""

    def __init__(self, max_models: int = 2, max_adapters: int = 16, max_waiting: int = MAX_WAITING):
        self.lock = threading.Lock()
        self._threads = cpu.ThreadShare()  # on a CPU: one torch thread fewer per core another process wants
        self._arrived = threading.Condition()
        self._pending: list[_Request] = []
        self.max_waiting = max_waiting
        self._calls = 0  # chat requests generating or waiting (each counts once, whatever its n)
        self._batcher: threading.Thread | None = None
        self.max_models = max_models
        self.max_adapters = max_adapters
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()

    # -- loading (call with the lock held) ----------------------------------------------------------
    def _base(self, base_id: str) -> _Loaded:
        if base_id in self._loaded:
            self._loaded.move_to_end(base_id)
            return self._loaded[base_id]
        device, dtype = models.device_and_dtype()
        model, tokenizer = models.load(base_id, dtype=dtype)
        model.to(device)
        model.eval()
        entry = _Loaded(model, tokenizer, device)
        self._loaded[base_id] = entry
        while len(self._loaded) > self.max_models:
            self._loaded.popitem(last=False)
        return entry

    def _select(self, target: Target):
        """(entry, model to call, context manager) for the target, adapters switched as needed."""
        entry = self._base(target.base_id)
        if target.adapter_path is None:
            if entry.peft is not None:
                return entry, entry.peft, entry.peft.disable_adapter()
            return entry, entry.model, contextlib.nullcontext()
        from peft import PeftModel

        name = adapter_name(target.model_id)
        if entry.peft is None:
            entry.peft = PeftModel.from_pretrained(entry.model, target.adapter_path, adapter_name=name)
            entry.peft.eval()
            entry.adapters[name] = target.adapter_path
        elif name not in entry.adapters:
            entry.peft.load_adapter(target.adapter_path, adapter_name=name)
            entry.adapters[name] = target.adapter_path
        entry.adapters.move_to_end(name)
        entry.peft.set_adapter(name)
        while len(entry.adapters) > self.max_adapters:
            oldest = next(iter(entry.adapters))
            entry.peft.delete_adapter(oldest)
            del entry.adapters[oldest]
        return entry, entry.peft, contextlib.nullcontext()

    def forget(self, model_id: str) -> None:
        """Drop a deleted model's adapter (or whole model) from memory."""
        with self.lock:
            name = adapter_name(model_id)
            for key, entry in list(self._loaded.items()):
                if entry.peft is not None and name in entry.adapters and len(entry.adapters) > 1:
                    if entry.peft.active_adapter == name:
                        entry.peft.set_adapter(next(n for n in entry.adapters if n != name))
                    entry.peft.delete_adapter(name)
                    del entry.adapters[name]
                if key == model_id:
                    del self._loaded[key]

    def warm(self, target: Target) -> None:
        with self.lock:
            self._select(target)

    # -- generation -------------------------------------------------------------------------------
    def start(self, target: Target, messages: list[dict], *, n: int = 1, max_tokens: int | None = None,
              temperature: float | None = None, top_p: float | None = None, seed: int | None = None,
              stop: list[str] | None = None, logprobs: int | None = None, background: bool = False) -> Call:
        """Queue one chat request as n rows (n copies of the prompt share batches). Each reader yields
        ("delta", text) pieces (after ("logprobs", entries) for them when asked), then ("done", Completion).
        Raises QueueFull when `max_waiting` requests are already in, so a crowd gets 429, not a wait."""
        started = time.perf_counter()
        requests = [_Request(target, messages, max_tokens, temperature, top_p, seed, logprobs, background)
                    for _ in range(n)]
        with self._arrived:
            if self._calls >= self.max_waiting:
                raise errors.QueueFull(f"{self.max_waiting} chat requests are already waiting for this engine; "
                                       "try again in a moment.", headers={"Retry-After": "1"})
            self._calls += 1
            call = Call(self, requests, [])
            for request in requests:
                request.call = call
            self._pending.extend(requests)
            if self._batcher is None or not self._batcher.is_alive():
                self._batcher = threading.Thread(target=self._serve, name="engine-generate", daemon=True)
                self._batcher.start()
            self._arrived.notify_all()
        call.readers = [self._read(r.streamer, r.state, r.cancel, stop or [], started, logprobs is not None)
                        for r in requests]
        return call

    @property
    def in_flight(self) -> int:
        """Chat requests generating or waiting now."""
        return self._calls

    def stream(self, target: Target, messages: list[dict], **kwargs) -> Iterator[tuple[str, Any]]:
        """One reply: ("delta", text) pieces, then ("done", Completion)."""
        return self.start(target, messages, **kwargs).readers[0]

    def _drop(self, requests: list[_Request]) -> None:
        """Stop these rows: the waiting ones leave the queue at once, the generating ones at their next token."""
        with self._arrived:
            waiting = [r for r in requests if r in self._pending]
            for request in waiting:
                self._pending.remove(request)
        for request in requests:
            request.cancel.set()
        for request in waiting:
            self._row_done(request)

    def _row_done(self, request: _Request) -> None:
        """A row is over (finished, failed or dropped): its reader ends, and its request leaves the count."""
        with self._arrived:
            if request.state.get("over"):
                return
            request.state["over"] = True
            call = request.call
            if call is not None:
                call.rows_left -= 1
                if call.rows_left == 0:
                    self._calls -= 1
        request.streamer.end()

    def _serve(self) -> None:
        """The one generation thread: takes the oldest request and, within `BATCH_WINDOW`, the others
        that can share its batch (the Playground asks base and fine-tuned the same thing at once)."""
        while True:
            with self._arrived:
                while not self._pending:
                    self._arrived.wait()
                # A person waiting (the Playground) goes before a background score or sweep.
                first = self._pending.pop(next((i for i, r in enumerate(self._pending) if not r.background), 0))
            batch = [first]
            key = first.batch_key()
            deadline = time.monotonic() + BATCH_WINDOW
            while key is not None and len(batch) < MAX_BATCH:
                with self._arrived:
                    # A person's question shares its batch with other people's only: rows of a background
                    # score would make every step of it slower, and keep it generating their longer replies.
                    same = [r for r in self._pending if r.batch_key() == key
                            and (first.background or not r.background)][: MAX_BATCH - len(batch)]
                    for r in same:
                        self._pending.remove(r)
                    batch += same
                    left = deadline - time.monotonic()
                    if left <= 0 or len(batch) >= MAX_BATCH:
                        break
                    if not same:
                        self._arrived.wait(left)
            for request in [r for r in batch if r.cancel.is_set()]:  # the client left while it waited
                batch.remove(request)
                self._row_done(request)
            try:
                with self.lock:
                    if len(batch) == 1:
                        self._generate_one(batch[0])
                    elif batch:
                        self._generate_batch(batch)
            except BaseException as exc:  # reported to each reader, which raises it in its request
                for request in batch:
                    request.state.setdefault("error", exc)
            finally:
                for request in batch:
                    self._row_done(request)

    def _prepare(self, request: _Request, entry: _Loaded) -> list[int]:
        """The request's prompt ids; fills in what its reader needs (tokenizer, limits, end-of-turn ids)."""
        tokenizer = entry.tokenizer
        state = request.state
        state["tokenizer"] = tokenizer
        prompt_ids = self._prompt_ids(tokenizer, request.messages)
        state["prompt_tokens"] = len(prompt_ids)
        state["eos"] = models.end_of_turn_ids(tokenizer, entry.model)
        context_size = getattr(entry.model.config, "max_position_embeddings", None) or 8192
        if len(prompt_ids) + (request.max_tokens or 1) > context_size:
            raise _context_exceeded(context_size, len(prompt_ids), request.max_tokens)
        state["limit"] = max(1, min(request.max_tokens or DEFAULT_MAX_NEW_TOKENS, context_size - len(prompt_ids)))
        said = state.get("said") or []  # a row that yielded to a person goes on from where it stopped
        state["limit"] = max(1, state["limit"] - len(said))
        return prompt_ids + said

    @staticmethod
    def _sampling(request: _Request, tokenizer, eos: list[int]) -> dict[str, Any]:
        import torch

        if request.seed is not None:
            torch.manual_seed(request.seed)
        greedy = request.temperature is not None and request.temperature == 0
        kwargs: dict[str, Any] = dict(
            eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0],
            do_sample=not greedy,
        )
        if not greedy:
            kwargs.update(temperature=request.temperature if request.temperature is not None else 1.0,
                          top_p=request.top_p if request.top_p is not None else 1.0, top_k=0)
        return kwargs

    def _generate_one(self, request: _Request) -> None:
        import torch

        entry, model, context = self._select(request.target)
        prompt_ids = self._prepare(request, entry)
        kwargs = self._sampling(request, entry.tokenizer, request.state["eos"])
        input_ids = torch.tensor([prompt_ids], device=entry.device)
        request.streamer.request = request
        each_step = self._threads.adjust if entry.device == "cpu" else None
        if each_step is not None:
            self._threads.adjust(now=True)
        with context, torch.inference_mode(), _catching_scores(entry, [request]) as scores:
            request.streamer.scores = scores
            model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                           max_new_tokens=request.state["limit"], streamer=request.streamer,
                           stopping_criteria=[_stop_criteria(request.cancel, each_step)], **kwargs)

    def _generate_batch(self, batch: list[_Request]) -> None:
        """Several requests on one base model in one `generate`: each row its own adapter (peft's
        mixed-adapter batches; "__base__" for the base model), prompts padded on the left, each reply
        ended on its own end-of-turn token, limit, stop sequence or a client that went away."""
        import torch

        entry = self._base(batch[0].target.base_id)
        prompts = []
        for request in list(batch):
            try:
                prompts.append(self._prepare(request, entry))
            except errors.EngineError as exc:  # this row alone is refused (a prompt too long)
                request.state["error"] = exc
                batch.remove(request)
                self._row_done(request)
        if not batch:
            return
        names = []
        for request in batch:
            if request.target.adapter_path is not None:
                self._select(request.target)  # loads the adapter into the shared peft model
            names.append(adapter_name(request.target.model_id) if request.target.adapter_path else "__base__")
        model = entry.peft if entry.peft is not None else entry.model
        eos = batch[0].state["eos"]
        kwargs = self._sampling(batch[0], entry.tokenizer, eos)
        width = max(map(len, prompts))
        pad = kwargs["pad_token_id"]
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=entry.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=entry.device)
        # A background score (greedy, no logprobs) steps aside when a person asks: its rows go on afterwards
        # from the tokens they have, which greedy decoding continues exactly as it would have.
        can_yield = all(r.background and r.logprobs is None for r in batch) and not kwargs["do_sample"]
        rows = _BatchStreamer(batch, set(eos), yield_to=self._person_waiting if can_yield else None)
        if entry.device == "cpu":
            self._threads.adjust(now=True)
            rows.each_step = self._threads.adjust
        if entry.peft is not None:
            kwargs["adapter_names"] = names
        with torch.inference_mode(), _catching_scores(entry, batch) as scores:
            rows.scores = scores
            model.generate(input_ids=input_ids, attention_mask=mask, streamer=rows, stopping_criteria=[rows.stopping_criterion()],
                           max_new_tokens=max(r.state["limit"] for r in batch), **kwargs)
        if rows.yielded:
            later = [batch[i] for i in rows.unfinished()]
            for i in rows.unfinished():
                batch[i].state["said"] = (batch[i].state.get("said") or []) + rows.ids[i]
            with self._arrived:
                self._pending[0:0] = later  # after the person, before anything that came later
            for request in later:
                batch.remove(request)  # not over: _serve ends only the rows left in the batch

    def _person_waiting(self) -> bool:
        with self._arrived:
            return any(not r.background for r in self._pending)

    def _read(self, streamer: _Streamer, state: dict, cancel: threading.Event, stop: list[str],
              started: float, with_logprobs: bool = False) -> Iterator[tuple[str, Any]]:
        ids: list[int] = []
        emitted = ""
        finish = None
        first_token_at = None
        hold = max((len(s) for s in stop), default=1) - 1
        logprobs: list[dict] = []
        reported = 0  # entries of `logprobs` already handed out with a delta
        try:
            while True:
                kind, token_id, info = streamer.queue.get()
                if kind == "end":
                    break
                if first_token_at is None:
                    first_token_at = time.perf_counter() - started
                if finish is not None:
                    continue  # drain until generation has really stopped
                ids.append(token_id)
                if token_id in state.get("eos", ()):
                    finish = "stop"
                    continue
                if info is not None:
                    logprobs.append(_logprob_entry(state["tokenizer"], token_id, info))
                text = state["tokenizer"].decode(ids, skip_special_tokens=True)
                if text.endswith("\ufffd"):
                    continue  # half a multi-byte character: wait for the rest
                cut = _find_stop(text, stop, max(0, len(emitted) - hold))
                if cut is not None:
                    text, finish = text[:cut], "stop"
                    cancel.set()
                    safe = text
                else:
                    safe = text[: len(text) - hold] if hold else text
                if len(safe) > len(emitted) and safe.startswith(emitted):
                    if len(logprobs) > reported:
                        yield "logprobs", logprobs[reported:]
                        reported = len(logprobs)
                    yield "delta", safe[len(emitted):]
                    emitted = safe
            if "error" in state:
                raise state["error"]
            if not cancel.is_set():  # flush what was held back for the stop sequences
                eos = set(state["eos"])
                text = state["tokenizer"].decode([i for i in ids if i not in eos], skip_special_tokens=True)
                cut = _find_stop(text, stop, 0)
                if cut is not None:
                    text, finish = text[:cut], "stop"
                if len(text) > len(emitted) and text.startswith(emitted):
                    if len(logprobs) > reported:
                        yield "logprobs", logprobs[reported:]
                        reported = len(logprobs)
                    yield "delta", text[len(emitted):]
                    emitted = text
            if finish is None:
                finish = "length" if len(ids) >= state.get("limit", 0) else "stop"
            yield "done", Completion(emitted, finish, state.get("prompt_tokens", 0), len(ids), first_token_at,
                                     logprobs if with_logprobs else None)
        finally:
            cancel.set()  # the client went away, or we are done: stop generating

    def complete(self, target: Target, messages: list[dict], **kwargs) -> Completion:
        result = Completion()
        for kind, value in self.stream(target, messages, **kwargs):
            if kind == "done":
                result = value
        return result

    @staticmethod
    def _prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
        chat = []
        for message in messages:
            role = message.get("role", "user")
            chat.append({"role": "system" if role == "developer" else role,
                         "content": text_of(message.get("content"))})
        text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])


@contextlib.contextmanager
def _catching_scores(entry: _Loaded, batch: list[_Request]) -> Iterator[_Scores | None]:
    """While generating, keep each step's log-probabilities when a row asked for logprobs."""
    if all(request.logprobs is None for request in batch):
        yield None
        return
    scores = _Scores()
    handle = entry.model.get_output_embeddings().register_forward_hook(scores.hook)
    try:
        yield scores
    finally:
        handle.remove()


def _context_exceeded(context_size: int, prompt_tokens: int, max_tokens: int | None) -> errors.BadRequest:
    """OpenAI's answer to a conversation that does not fit the model."""
    if max_tokens:
        asked = (f"you requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, "
                 f"{max_tokens} in the completion). Please reduce the length of the messages or completion.")
    else:
        asked = f"your messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages."
    return errors.BadRequest(f"This model's maximum context length is {context_size} tokens. However, {asked}",
                             param="messages", code="context_length_exceeded")


def _logprob_entry(tokenizer, token_id: int, info: tuple) -> dict:
    """One token in OpenAI's logprobs shape: token, logprob, bytes (UTF-8), top_logprobs."""
    def described(tid: int, logprob: float) -> dict:
        text = tokenizer.decode([tid])
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

    logprob, top = info
    return {**described(token_id, logprob), "top_logprobs": [described(tid, lp) for tid, lp in top]}


def _find_stop(text: str, stop: list[str], start: int) -> int | None:
    best = None
    for sequence in stop:
        index = text.find(sequence, start)
        if index >= 0 and (best is None or index < best):
            best = index
    return best
