"""Side-by-side runs, streaming, per-reply tokens, latency and cost; batch runs over many prompts.

The seed ends in OpenAI's comparative playground: one system prompt, one question, two models,
judged by eye. This module does that for any provider (every call goes through the `openai` SDK)
and then runs it on many prompts, with scores per reply. Blind votes and the batch summary live in
`lib.evaluation.blind_votes`; reading a prompt set from a file or a dataset in `lib.evaluation.prompt_sets`.

Threads, not asyncio: the page is Streamlit and the SDK's sync client is thread-safe. Every
callback (`on_delta`, `progress`) runs on the *caller's* thread, so a page can update its
placeholders from it without Streamlit's script-run context:

    boxes = [column.empty() for column in st.columns(len(contenders))]
    replies = run_side_by_side(contenders, system_prompt, prompt, histories, temperature, max_tokens, seed,
                               on_delta=lambda i, text: boxes[i].markdown(text))
    histories = [next_history(h, prompt, r) for h, r in zip(histories, replies)]
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from lib.checks import facts, facts_card, limerick
from lib.checks.facts import is_contradiction
from lib.dataprep import tokens
from lib.dataprep.dataset import DEFAULT_SYSTEM_PROMPT
from lib.services import errors, pricing, providers

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 256
LOCAL_BATCH = 8
"""Replies the local engine is asked for at once: it generates requests that arrive together as one batch."""
MAX_RETRY_WAIT_S = 60.0
"""A service asking us to wait longer than this is treated as a failure for that reply, not a pause."""

OnDelta = Callable[[int, str], None]
Progress = Callable[[int, int], None]

__all__ = [
    "BatchResult",
    "Contender",
    "Reply",
    "build_messages",
    "draft_answer",
    "next_history",
    "pick_few_shot",
    "run_batch",
    "run_side_by_side",
    "to_example",
]


# --------------------------------------------------------------------------- contenders


@dataclass
class Contender:
    """One column of the playground: a model, how to reach it, and how to prompt it.

    `few_shot` makes the "prompt engineering" contender: dataset examples placed before the
    question as earlier turns, so the page can answer "was fine-tuning worth it?" on quality and
    on cost per call (those examples are paid for as prompt tokens on every call).
    """

    label: str
    model: str
    client: Any = None
    """An `openai` client (`OpenAI`, `AzureOpenAI`, `OpenAI(base_url=<engine>)`); built from `provider` when absent."""
    provider: Any = None
    """A `lib.services.providers` config; gives the client (`make_client`) and the name to call (`model_for_inference`)."""
    system_prompt: str | None = None
    """Overrides the shared system prompt for this column only."""
    few_shot: list[Any] = field(default_factory=list)
    """Examples (chat dicts, prompt/completion dicts or (question, answer) pairs) sent as prior turns."""
    fine_tuned: bool | None = None
    """Priced at fine-tuned rates; None guesses from the id (`ft:...`)."""
    local: bool | None = None
    """Runs on this computer (costs nothing); None guesses from the provider or the client's address."""
    price_model: str | None = None
    """The model name in the price table when it differs from `model` (an Azure deployment name)."""
    facts_card: bool = False
    """Each question goes with its element's facts card in the system message, as the model was trained
    (`lib.checks.facts_card`)."""

    def __post_init__(self) -> None:
        if not str(self.model or "").strip():
            raise ValueError(f"Contender {self.label!r} needs a model id.")
        self.few_shot = list(self.few_shot or [])

    @property
    def is_fine_tuned(self) -> bool:
        if self.fine_tuned is not None:
            return self.fine_tuned
        return str(self.model).startswith("ft:")

    @property
    def is_local(self) -> bool:
        if self.local is not None:
            return self.local
        kind = _provider_kind(self.provider)
        if kind:  # "url" too: a gateway on this computer may still bill per token
            return kind == "local"
        # A bare client: local when it answers on this computer (the engine started here).
        base_url = str(getattr(self.client, "base_url", "") or "")
        host = (urlparse(base_url).hostname or "").lower()
        return host in {"127.0.0.1", "localhost", "::1", "0.0.0.0"}

    def get_client(self) -> Any:
        """The client to call, built once from the provider config when none was given."""
        if self.client is None:
            if self.provider is None:
                raise ValueError(f"Contender {self.label!r} has neither a client nor a provider.")
            self.client = providers.make_client(self.provider)
        return self.client

    def inference_model(self) -> str:
        """The name the service expects (an Azure deployment, say), else the model id itself."""
        if self.provider is not None:
            return providers.model_for_inference(self.provider, self.model) or self.model
        return self.model

    def describe(self) -> dict[str, Any]:
        """What a result keeps about a contender: plain values, no client."""
        return {
            "label": self.label,
            "model": self.model,
            "fine_tuned": self.is_fine_tuned,
            "local": self.is_local,
            "few_shot": len(self.few_shot),
            "facts_card": self.facts_card,
            "provider": _provider_kind(self.provider) or ("local" if self.is_local else None),
        }


def _provider_kind(provider: Any) -> str | None:
    if provider is None:
        return None
    for name in ("kind", "provider", "type", "name"):
        value = provider.get(name) if isinstance(provider, dict) else getattr(provider, name, None)
        if isinstance(value, str) and value:
            return value.lower()
    return None


# --------------------------------------------------------------------------- prompts


def _example_turns(example: Any) -> list[dict[str, str]]:
    """The non-system turns of one few-shot example, whatever shape it came in."""
    if isinstance(example, dict):
        if isinstance(example.get("messages"), list):
            return [
                {"role": m["role"], "content": m["content"]}
                for m in example["messages"]
                if isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
            ]
        for q_key, a_key in (("prompt", "completion"), ("user", "assistant"), ("question", "answer")):
            if isinstance(example.get(q_key), str) and isinstance(example.get(a_key), str):
                return [
                    {"role": "user", "content": example[q_key].strip()},
                    {"role": "assistant", "content": example[a_key].strip()},
                ]
        return []
    if isinstance(example, list | tuple) and len(example) == 2 and all(isinstance(x, str) for x in example):
        return [{"role": "user", "content": example[0]}, {"role": "assistant", "content": example[1]}]
    return []


def build_messages(
    contender: Contender, system_prompt: str | None, user_prompt: str, history: Sequence[dict] | None = None
) -> list[dict[str, str]]:
    """System prompt, few-shot turns, this column's own earlier turns, then the question."""
    messages: list[dict[str, str]] = []
    system = contender.system_prompt if contender.system_prompt is not None else system_prompt
    if contender.facts_card:
        system = facts_card.with_card(user_prompt, system)
    if system:
        messages.append({"role": "system", "content": system})
    for example in contender.few_shot:
        messages.extend(_example_turns(example))
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") in ("user", "assistant") and isinstance(turn.get("content"), str):
            messages.append({"role": turn["role"], "content": turn["content"]})
    messages.append({"role": "user", "content": user_prompt})
    return messages


def next_history(history: Sequence[dict] | None, user_prompt: str, reply: Reply) -> list[dict[str, str]]:
    """A column's history after this turn (a failed reply adds nothing, so the user can ask again)."""
    turns = list(history or [])
    if reply.error:
        return turns
    return [*turns, {"role": "user", "content": user_prompt}, {"role": "assistant", "content": reply.text}]


def to_example(system_prompt: str | None, user_prompt: str, answer: str) -> dict[str, Any]:
    """A reply as a new dataset example (chat format), for "send to the Dataset page" after editing."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [{"role": "user", "content": user_prompt}, {"role": "assistant", "content": answer}]
    return {"messages": messages}


def pick_few_shot(examples: Iterable[Any], k: int = 3, *, exclude: str | None = None) -> list[Any]:
    """The first `k` usable examples, skipping one that asks `exclude` (it would give the answer away)."""
    picked: list[Any] = []
    wanted = (exclude or "").strip().lower()
    for example in examples:
        turns = _example_turns(example)
        if not any(t["role"] == "assistant" for t in turns):
            continue
        if wanted and any(t["role"] == "user" and t["content"].strip().lower() == wanted for t in turns):
            continue
        picked.append(example)
        if len(picked) >= k:
            break
    return picked


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """One model's answer to one prompt, with what it cost and how it scored."""

    label: str
    model: str
    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    """True when the service sent no usage and the counts come from our tokenizer."""
    time_to_first_token: float | None = None
    latency: float | None = None
    cost_usd: float | None = None
    """None when the price of this model is unknown; 0.0 on the local engine."""
    error: str | None = None
    """One plain sentence (never a traceback); the text may hold what streamed before it failed."""
    checks: dict[str, Any] = field(default_factory=dict)
    """`{"limerick": limerick.check(text).to_dict(), "facts": facts.check(prompt, text).to_dict()}` when available."""
    finish_reason: str | None = None
    retries: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def form_score(self) -> float | None:
        """lib.checks.limerick's score, 0-100."""
        value = (self.checks.get("limerick") or {}).get("score")
        return float(value) if isinstance(value, int | float) else None

    @property
    def is_limerick(self) -> bool | None:
        value = (self.checks.get("limerick") or {}).get("is_limerick")
        return bool(value) if value is not None else None

    @property
    def contradicted(self) -> int | None:
        """How many of the reply's claims contradict the element data (None when facts were not checked)."""
        facts = self.checks.get("facts")
        if not isinstance(facts, dict):
            return None
        return sum(1 for claim in facts.get("claims") or [] if is_contradiction(claim))

    @property
    def words(self) -> int:
        return len(self.text.split())

    def scores(self) -> dict[str, Any]:
        """The numbers a batch compares (one row of the scores table)."""
        return {
            "form_score": self.form_score,
            "is_limerick": self.is_limerick,
            "contradicted": self.contradicted,
            "words": self.words,
            "lines": len([line for line in self.text.splitlines() if line.strip()]),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "time_to_first_token": self.time_to_first_token,
            "latency": self.latency,
            "cost_usd": self.cost_usd,
            "retries": self.retries,
            "error": self.error,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _run_checks(question: str, text: str) -> dict[str, Any]:
    """Limerick form and fact checks of a reply (the same checks the dataset gets)."""
    if not text.strip():
        return {}
    return {"limerick": limerick.check(text).to_dict(), "facts": facts.check(question, text).to_dict()}


_NOT_RETRIED_HERE = {"ConnectionFailed", "Timeout"}
"""The SDK already retried these (its `max_retries`); retrying again only makes the user wait."""
_FATAL = {"AuthError", "PermissionDenied", "TrainingNotAvailable", "NotFound", "ConnectionFailed", "MissingSetting"}
"""Errors that will repeat for every prompt of a batch: the rest of that column fails at once."""


def _retry_info(exc: BaseException) -> tuple[bool, float | None, bool]:
    """(worth retrying here?, seconds the service asked us to wait, will it fail the same way every time?)."""
    error = errors.translate(exc)
    kind = type(error).__name__
    retryable = error.retryable and kind not in _NOT_RETRIED_HERE
    fatal = kind in _FATAL or getattr(exc, "status_code", None) in (401, 403, 404)
    return retryable, error.retry_after, fatal


# --------------------------------------------------------------------------- tokens and cost


def _count_text_tokens(text: str, model: str) -> int:
    """Tokens in a piece of text, in the model's encoding (lib.dataprep.tokens: offline encodings)."""
    return tokens.count_text(text, tokens.encoding_name_for_model(model))


def _count_prompt_tokens(messages: list[dict[str, str]], model: str) -> int:
    """The Cookbook's count: 3 per message, its strings, 3 for the reply primer."""
    return tokens.count_messages(messages, tokens.encoding_name_for_model(model))


def _cost(contender: Contender, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    """Price of one call from the dated table: fine-tuned and base prices differ; local costs nothing."""
    if contender.is_local:
        return 0.0
    if prompt_tokens is None or completion_tokens is None:
        return None
    name = contender.price_model or contender.model
    names = [name]
    base = tokens.base_model(name)  # also knows Azure's "<base>.ft-<hex>"
    if base and base != name:
        names.append(base)  # a fine-tuned id -> the base model's row, at fine-tuned prices
    for candidate in names:
        cost = pricing.inference_cost(candidate, prompt_tokens, completion_tokens, fine_tuned=contender.is_fine_tuned)
        if cost is not None:
            return float(cost)
    return None


# --------------------------------------------------------------------------- one streamed call


@dataclass
class _Params:
    temperature: float | None = DEFAULT_TEMPERATURE
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    seed: int | None = None
    service_tier: str | None = None

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.service_tier is not None:
            out["service_tier"] = self.service_tier
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.seed is not None:
            out["seed"] = self.seed
        return out


class _Stopped(Exception):
    """The caller went away (a page rerun): stop reading the stream."""


def _open_stream(client: Any, model: str, messages: list[dict], params: _Params) -> Any:
    kwargs = dict(model=model, messages=messages, stream=True, **params.kwargs())
    try:
        return client.chat.completions.create(**kwargs, stream_options={"include_usage": True})
    except Exception as exc:
        # Some OpenAI-compatible servers refuse stream_options; usage then comes from our tokenizer.
        if getattr(exc, "status_code", None) in (400, 422) and "stream_options" in str(exc):
            return client.chat.completions.create(**kwargs)
        raise


def _stream_once(
    contender: Contender,
    messages: list[dict],
    params: _Params,
    emit: Callable[[str], None] | None,
    stop: threading.Event | None,
) -> Reply:
    """Stream one reply; raises what the SDK raises (the caller decides about retries)."""
    reply = Reply(label=contender.label, model=contender.model)
    client = contender.get_client()
    model = contender.inference_model()
    started = time.perf_counter()
    stream = _open_stream(client, model, messages, params)
    parts: list[str] = []
    usage = None
    try:
        for chunk in stream:
            if stop is not None and stop.is_set():
                raise _Stopped()
            chunk_usage = getattr(chunk, "usage", None)
            if chunk_usage is not None:
                usage = chunk_usage
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice, "delta", None)
                content = getattr(delta, "content", None) if delta is not None else None
                if content:
                    if reply.time_to_first_token is None:
                        reply.time_to_first_token = time.perf_counter() - started
                    parts.append(content)
                    if emit is not None:
                        emit("".join(parts))
                if getattr(choice, "finish_reason", None):
                    reply.finish_reason = choice.finish_reason
    except BaseException:
        reply.text = "".join(parts)
        with contextlib.suppress(Exception):
            stream.close()
        raise
    reply.latency = time.perf_counter() - started
    reply.text = "".join(parts)
    if usage is not None and getattr(usage, "prompt_tokens", None) is not None:
        reply.prompt_tokens = int(usage.prompt_tokens)
        reply.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    else:
        reply.prompt_tokens = _count_prompt_tokens(messages, contender.model)
        reply.completion_tokens = _count_text_tokens(reply.text, contender.model)
        reply.usage_estimated = True
    reply.cost_usd = _cost(contender, reply.prompt_tokens, reply.completion_tokens)
    return reply


def _call(
    contender: Contender,
    messages: list[dict],
    params: _Params,
    *,
    question: str,
    emit: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    max_retries: int = 0,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    checks: bool = True,
    on_fatal: Callable[[str], None] | None = None,
) -> Reply:
    """One reply with retries on 429 and 5xx; never raises (errors go in `Reply.error`).

    `on_fatal(message)` hears of errors that will repeat on every call (wrong key, unknown model,
    server unreachable), so a batch can stop calling that model.
    """
    retries = 0
    while True:
        try:
            reply = _stream_once(contender, messages, params, emit, stop)
        except _Stopped:
            return Reply(label=contender.label, model=contender.model, error="Stopped.", retries=retries)
        except Exception as exc:
            retryable, retry_after, fatal = _retry_info(exc)
            wait_s = retry_after if retry_after is not None else backoff * (2**retries) * (0.5 + random.random())
            if retryable and retries < max_retries and wait_s <= MAX_RETRY_WAIT_S:
                retries += 1
                sleep(max(0.0, wait_s))
                if stop is not None and stop.is_set():
                    return Reply(label=contender.label, model=contender.model, error="Stopped.", retries=retries)
                continue
            message = errors.one_line(exc)
            if fatal and on_fatal is not None:
                on_fatal(message)
            return Reply(label=contender.label, model=contender.model, error=message, retries=retries)
        reply.retries = retries
        if checks:
            reply.checks = _run_checks(question, reply.text)
        return reply


# --------------------------------------------------------------------------- side by side


def run_side_by_side(
    contenders: Sequence[Contender],
    system_prompt: str | None,
    user_prompt: str,
    history_per_contender: Sequence[Sequence[dict] | None] | None = None,
    temperature: float | None = DEFAULT_TEMPERATURE,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    seed: int | None = None,
    on_delta: OnDelta | None = None,
    *,
    checks: bool = True,
    max_retries: int = 0,
) -> list[Reply]:
    """Stream every contender at once and return their replies in the same order.

    All requests start together, so the wait is the slowest one, not the sum. `on_delta(index,
    text_so_far)` runs on the calling thread whenever a column has new text (bursts coalesced to
    the latest text per column). If it raises (a Streamlit rerun), the streams are closed and
    the exception goes on up. The SDK client already retries 429/5xx (its `max_retries`); a
    429 that is left shows as the reply's error ("wait 20 s and try again"), unless `max_retries`
    asks this function to wait and try again itself.
    """
    contenders = list(contenders)
    if not contenders:
        return []
    histories = list(history_per_contender or [])
    histories += [None] * (len(contenders) - len(histories))
    params = _Params(temperature, max_tokens, seed)
    events: queue.Queue[tuple[int, str]] = queue.Queue()
    stop = threading.Event()

    def work(index: int) -> Reply:
        contender = contenders[index]
        messages = build_messages(contender, system_prompt, user_prompt, histories[index])
        emit = (lambda text: events.put((index, text))) if on_delta is not None else None
        return _call(contender, messages, params, question=user_prompt, emit=emit, stop=stop,
                     max_retries=max_retries, checks=checks)

    pool = ThreadPoolExecutor(max_workers=len(contenders), thread_name_prefix="playground")
    futures = [pool.submit(work, i) for i in range(len(contenders))]
    try:
        pending: set[Future] = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            _drain(events, on_delta)
        _drain(events, on_delta)
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [_result(f, contenders[i]) for i, f in enumerate(futures)]


def _drain(events: queue.Queue, on_delta: OnDelta | None) -> None:
    latest: dict[int, str] = {}
    while True:
        try:
            index, text = events.get_nowait()
        except queue.Empty:
            break
        latest[index] = text
    if on_delta is not None:
        for index in sorted(latest):
            on_delta(index, latest[index])


def _result(future: Future, contender: Contender) -> Reply:
    try:
        return future.result()
    except Exception as exc:  # a bug in a check, say: still a reply, never a traceback
        return Reply(label=contender.label, model=contender.model, error=errors.one_line(exc))


def draft_answer(
    client: Any,
    model: str,
    system_prompt: str | None,
    user_prompt: str,
    *,
    temperature: float | None = DEFAULT_TEMPERATURE,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
) -> str:
    """A first version of an assistant reply for the Dataset page, which the user then rewrites.

    Raises what the SDK raises; the page translates it with `lib.services.errors.translate`.
    """
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user_prompt})
    response = client.chat.completions.create(
        model=model, messages=messages, **_Params(temperature, max_tokens, None).kwargs()
    )
    choices = getattr(response, "choices", None) or []
    if not choices:
        return ""
    return (getattr(choices[0].message, "content", None) or "").strip()


# --------------------------------------------------------------------------- batch


@dataclass
class BatchResult:
    """Every prompt through every contender: `replies[prompt_index][contender_index]`."""

    contenders: list[dict[str, Any]]
    prompts: list[str]
    replies: list[list[Reply]]
    system_prompt: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0
    finished: bool = True
    """False when the run was stopped early; the replies not run are missing their text and carry "Stopped."."""

    @property
    def labels(self) -> list[str]:
        return [c["label"] for c in self.contenders]

    @property
    def retries(self) -> int:
        return sum(r.retries for row in self.replies for r in row)

    @property
    def errors(self) -> int:
        return sum(1 for row in self.replies for r in row if r.error)

    def column(self, index: int) -> list[Reply]:
        return [row[index] for row in self.replies]

    def rows(self) -> list[dict[str, Any]]:
        """One flat record per reply (a DataFrame's rows): prompt, contender, text, scores."""
        out = []
        for p, row in enumerate(self.replies):
            for c, reply in enumerate(row):
                out.append({
                    "prompt_index": p,
                    "prompt": self.prompts[p],
                    "contender": self.contenders[c]["label"],
                    "model": self.contenders[c]["model"],
                    "text": reply.text,
                    **reply.scores(),
                })
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "contenders": self.contenders,
            "prompts": self.prompts,
            "replies": [[r.to_dict() for r in row] for row in self.replies],
            "system_prompt": self.system_prompt,
            "settings": self.settings,
            "elapsed": self.elapsed,
            "finished": self.finished,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchResult:
        return cls(
            contenders=list(data["contenders"]),
            prompts=list(data["prompts"]),
            replies=[[Reply.from_dict(r) for r in row] for row in data["replies"]],
            system_prompt=data.get("system_prompt"),
            settings=dict(data.get("settings") or {}),
            elapsed=float(data.get("elapsed") or 0.0),
            finished=bool(data.get("finished", True)),
        )


def run_batch(
    contenders: Sequence[Contender],
    prompts: Sequence[str],
    concurrency: int = 4,
    *,
    system_prompt: str | None = None,
    temperature: float | None = DEFAULT_TEMPERATURE,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    seed: int | None = None,
    max_retries: int = 4,
    backoff: float = 1.0,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    checks: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    local_concurrency: int = LOCAL_BATCH,
    background: bool = False,
) -> BatchResult:
    """Run every prompt through every contender, at most `concurrency` calls at a time.

    A 429 (or a 5xx) is retried up to `max_retries` times on top of the SDK's own retries, waiting
    what the service asks (`retry-after`) or a jittered backoff; each reply counts its retries.
    An error that would repeat for every prompt (wrong key, unknown model, server unreachable)
    fails the rest of that model's column at once instead of calling again.
    `progress(done, total)` runs on the calling thread after each reply. `should_stop()` is asked
    as replies arrive; when it says True the calls not started are skipped.
    Calls to the local engine go `local_concurrency` at a time, on top of `concurrency` calls to hosted
    services: the engine batches requests that arrive together, so sending it several at once is what
    makes a 20-prompt score or comparison quick; more than it batches would only wait in its queue.
    `background` asks the local engine to serve these calls after any a person is waiting for
    (OpenAI's `service_tier="flex"`; sent to the local engine only).
    """
    contenders = list(contenders)
    prompts = [str(p) for p in prompts]
    if not contenders:
        raise ValueError("Choose at least one model to compare.")
    if not prompts:
        raise ValueError("The prompt set is empty.")
    system = system_prompt if system_prompt is not None else DEFAULT_SYSTEM_PROMPT
    params = _Params(temperature, max_tokens, seed)
    local_params = _Params(temperature, max_tokens, seed, "flex" if background else None)
    for contender in contenders:  # build clients once, before the threads share them
        with contextlib.suppress(Exception):
            contender.get_client()
    total = len(prompts) * len(contenders)
    replies: list[list[Reply | None]] = [[None] * len(contenders) for _ in prompts]
    stop = threading.Event()
    started = time.perf_counter()

    fatal: dict[int, str] = {}

    def work(p: int, c: int) -> Reply:
        if stop.is_set():
            return Reply(label=contenders[c].label, model=contenders[c].model, error="Stopped.")
        if c in fatal:  # the same error would come back: say it without calling again
            return Reply(label=contenders[c].label, model=contenders[c].model, error=fatal[c])
        messages = build_messages(contenders[c], system, prompts[p])
        return _call(contenders[c], messages, local_params if contenders[c].is_local else params,
                     question=prompts[p], stop=stop,
                     max_retries=max_retries, backoff=backoff, sleep=sleep, checks=checks,
                     on_fatal=lambda message: fatal.setdefault(c, message))

    done = 0
    # One pool for the local engine and one for hosted services, so a call waiting for its turn on one
    # never holds a thread the other could use.
    local_pool = ThreadPoolExecutor(max_workers=max(1, int(local_concurrency)), thread_name_prefix="batch-local")
    hosted_pool = ThreadPoolExecutor(max_workers=max(1, int(concurrency)), thread_name_prefix="batch")
    pools = (local_pool, hosted_pool)
    futures = {(local_pool if contenders[c].is_local else hosted_pool).submit(work, p, c): (p, c)
               for p in range(len(prompts)) for c in range(len(contenders))}
    try:
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for future in finished:
                p, c = futures[future]
                replies[p][c] = _result(future, contenders[c])
                done += 1
                if progress is not None:
                    progress(done, total)
            if should_stop is not None and not stop.is_set() and should_stop():
                stop.set()
    except BaseException:
        stop.set()
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    for pool in pools:
        pool.shutdown(wait=True)
    filled = [
        [r if r is not None else Reply(label=contenders[c].label, model=contenders[c].model, error="Stopped.")
         for c, r in enumerate(row)]
        for row in replies
    ]
    return BatchResult(
        contenders=[c.describe() for c in contenders],
        prompts=prompts,
        replies=filled,
        system_prompt=system,
        settings={"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "concurrency": concurrency},
        elapsed=time.perf_counter() - started,
        finished=not stop.is_set(),
    )
