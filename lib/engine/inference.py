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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lib.engine import models
from lib.engine.data import text_of

DEFAULT_MAX_NEW_TOKENS = 1024


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


def adapter_name(model_id: str) -> str:
    """peft adapter names become module keys: no dots or colons."""
    return "a_" + re.sub(r"[^A-Za-z0-9_]", "_", model_id)


class _Streamer:
    """Receives token ids from `generate` (a transformers streamer) and hands them to the reader thread."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # the first call carries the prompt
            self._prompt_seen = True
            return
        for token_id in value.reshape(-1).tolist():
            self.queue.put(("token", token_id))

    def end(self) -> None:
        self.queue.put(("end", None))


def _stop_criteria(cancel: threading.Event):
    from transformers import StoppingCriteria

    class _Cancel(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return cancel.is_set()

    return _Cancel()


class ModelProxy:
    """Loads models on first use and runs one generation at a time."""

    def __init__(self, max_models: int = 2, max_adapters: int = 16):
        self.lock = threading.Lock()
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
    def stream(self, target: Target, messages: list[dict], *, max_tokens: int | None = None,
               temperature: float | None = None, top_p: float | None = None, seed: int | None = None,
               stop: list[str] | None = None) -> Iterator[tuple[str, Any]]:
        """Yield ("delta", text) pieces, then ("done", Completion)."""
        cancel = threading.Event()
        streamer = _Streamer()
        state: dict[str, Any] = {}
        started = time.perf_counter()

        def run() -> None:
            try:
                with self.lock:
                    entry, model, context = self._select(target)
                    tokenizer = entry.tokenizer
                    state["tokenizer"] = tokenizer
                    prompt_ids = self._prompt_ids(tokenizer, messages)
                    state["prompt_tokens"] = len(prompt_ids)
                    state["eos"] = models.end_of_turn_ids(tokenizer, entry.model)
                    limit = max_tokens or DEFAULT_MAX_NEW_TOKENS
                    context_size = getattr(entry.model.config, "max_position_embeddings", None) or 8192
                    limit = max(1, min(limit, context_size - len(prompt_ids)))
                    state["limit"] = limit
                    import torch

                    if seed is not None:
                        torch.manual_seed(seed)
                    greedy = temperature is not None and temperature == 0
                    kwargs: dict[str, Any] = dict(
                        max_new_tokens=limit,
                        eos_token_id=state["eos"],
                        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                        else state["eos"][0],
                        do_sample=not greedy,
                        streamer=streamer,
                        stopping_criteria=[_stop_criteria(cancel)],
                    )
                    if not greedy:
                        kwargs.update(temperature=temperature if temperature is not None else 1.0,
                                      top_p=top_p if top_p is not None else 1.0, top_k=0)
                    input_ids = torch.tensor([prompt_ids], device=entry.device)
                    with context, torch.inference_mode():
                        model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)
            except BaseException as exc:  # reported to the reader, which raises it in the request
                state["error"] = exc
            finally:
                streamer.end()

        thread = threading.Thread(target=run, name="engine-generate", daemon=True)
        thread.start()
        yield from self._read(streamer, state, cancel, stop or [], started)

    def _read(self, streamer: _Streamer, state: dict, cancel: threading.Event, stop: list[str],
              started: float) -> Iterator[tuple[str, Any]]:
        ids: list[int] = []
        emitted = ""
        finish = None
        first_token_at = None
        hold = max((len(s) for s in stop), default=1) - 1
        try:
            while True:
                kind, token_id = streamer.queue.get()
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
                    yield "delta", text[len(emitted):]
                    emitted = text
            if finish is None:
                finish = "length" if len(ids) >= state.get("limit", 0) else "stop"
            yield "done", Completion(emitted, finish, state.get("prompt_tokens", 0), len(ids), first_token_at)
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


def _find_stop(text: str, stop: list[str], start: int) -> int | None:
    best = None
    for sequence in stop:
        index = text.find(sequence, start)
        if index >= 0 and (best is None or index < best):
            best = index
    return best
