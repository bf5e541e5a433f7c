"""Grow a dataset from its seeds: a chat model drafts new rows, and every draft is checked before it may enter.

Why here and not in a page: the Dataset page's Generate panel and `python -m lib generate` run the same
steps, and none of them needs Streamlit.

1. `plan` picks what to ask about: the elements the dataset does not cover yet (atomic-number order or
   random), or topics/questions the user gives; questions are worded like the seeds' ("Tell me about X").
2. `writer_messages` builds the writer's prompt: the dataset's own system prompt, a few of its rows as
   examples and a short instruction the user can read and edit. With several rows per call the writer is
   asked for a JSON list, and `parse_reply` reads whatever comes back (garbage included).
3. `estimate` gives calls, tokens, dollars (the price table; the local engine is free) and time before
   anything is spent.
4. `Run` calls the writer and yields each `Draft` as it lands, already checked by `check_row` (OpenAI's
   validation, limerick form, element facts with the true value, near-copies, privacy). A fault stops the
   run with a plain message in `Run.error`; drafts already yielded are kept (`DraftStore` persists them).
5. `revise` sends a failing draft back once with the checker's complaint; `recheck` re-checks an edited one.
6. `accept` appends drafts to the dataset (the caller saves it as a new version) and remembers each row's
   origin outside the JSONL, in the workspace's provenance file (`origins` reads it back).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.checks import elements, facts, quality
from lib.dataprep import check as dataset_check
from lib.dataprep import dataset as ds
from lib.dataprep import tokens
from lib.dataprep.workspace import Workspace, atomic_write_text
from lib.evaluation.comparison import LOCAL_BATCH
from lib.services import errors, pricing

DEFAULT_QUESTION = "Tell me about {element}"
DEFAULT_INSTRUCTION = (
    "Write a five-line limerick, AABBA rhyme, that answers the question. Every fact in it (atomic number, "
    "discovery year, melting point, group, state) must be true. Answer with the limerick only, in the same "
    "style as the examples."
)
DEFAULT_HOSTED_WRITER = "gpt-4.1-mini"
LOCAL_NOTE = (
    "The local engine's 135M model writes weak drafts: expect most of them to be rejected by the checks. "
    "A hosted model (OpenAI or Azure OpenAI, with a key) writes far better ones."
)
CHECKS: dict[str, str] = {  # name -> what a person calls it
    "reply": "usable reply",
    "format": "OpenAI format",
    "limerick": "limerick form",
    "facts": "element facts",
    "duplicate": "not a copy",
    "privacy": "privacy",
}
MAX_EXAMPLES_SHOWN = 3
SEED_ROWS_READ = 200  # rows read to pick the examples shown and the seeds' layout: enough, and quick at 10,000
ROW_TOKENS_SLACK = 1.3  # drafts run a little longer than the seeds' answers
# Time until a run of one's own is measured (seconds per call, completion tokens per second).
GUESSED_SPEED = {"local": (0.5, 15.0), "hosted": (1.0, 60.0)}


# --------------------------------------------------------------------------------------------- plan


def _read_question_and_answer(example: Any) -> tuple[str, str]:
    question, answer = quality.question_answer(example)
    return question or "", answer or ""


# Remembered per example: the Generate panel plans and estimates on every run of the Dataset page.
_question_and_answer = dataset_check.PerExample(_read_question_and_answer)


@functools.lru_cache(maxsize=65_536)
def _template_of(question: str) -> str | None:
    """`question` with its element replaced by `{element}`, None when it names no element."""
    element = facts.find_element(question) if question else None
    if element is None:
        return None
    for name in (element.name, element.symbol):
        match = re.search(rf"\b{re.escape(name)}\b", question, re.IGNORECASE)
        if match:
            return question[: match.start()] + "{element}" + question[match.end():]
    return None


def question_template(examples: Sequence[Any]) -> str:
    """The seeds' wording with the element replaced by `{element}` ("Tell me about {element}")."""
    found: Counter[str] = Counter()
    for example in examples:
        template = _template_of(_question_and_answer(example)[0])
        if template is not None:
            found[template] += 1
    return found.most_common(1)[0][0] if found else DEFAULT_QUESTION


def parse_topics(text: str) -> list[str]:
    """Topics typed or pasted by a person: one a line, or separated by commas when on one line."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) == 1 and "," in lines[0] and not lines[0].endswith("?"):
        lines = [part.strip() for part in lines[0].split(",") if part.strip()]
    return lines


def plan(
    examples: Sequence[Any],
    count: int,
    *,
    about: Sequence[str] | None = None,
    order: str = "number",
    seed: int | None = None,
) -> list[str]:
    """The questions to draft answers for.

    Without `about`: `count` elements no row covers yet, in atomic-number order ("number") or at random.
    With `about`: those topics, in the order given (element names or symbols are worded like the seeds;
    anything else that reads as a question is kept as written), cut to `count` when it is given.
    """
    if count < 1:
        raise ValueError("Ask for at least one row.")
    template = question_template(examples)
    if about:
        questions = []
        for topic in about:
            topic = topic.strip()
            if not topic:
                continue
            element = elements.find(topic)
            if element is not None:
                questions.append(template.format(element=element.name))
            elif topic.endswith("?") or len(topic.split()) > 3:
                questions.append(topic)
            else:
                questions.append(template.format(element=topic))
        return questions[:count]
    asked = [_question_and_answer(example)[0] for example in examples]
    left = facts.uncovered_elements(asked, order=order, seed=seed, limit=count)
    return [template.format(element=e.name) for e in left]


# ------------------------------------------------------------------------------------------- prompt


@dataclass
class Settings:
    """How the writer is asked."""

    model: str = field(metadata={"help": "The model to send requests to (on Azure, the deployment name)"})
    provider: str = field(default="local", metadata={"help": "local, openai, azure or url: for price and speed"})
    instruction: str = field(default=DEFAULT_INSTRUCTION, metadata={"help": "What the writer is told to write"})
    rows_per_call: int = field(default=1, metadata={"help": "Rows asked for in one call (above 1: a JSON list)"})
    examples_shown: int = field(default=MAX_EXAMPLES_SHOWN, metadata={"help": "Seed rows shown to the writer"})
    temperature: float = field(default=0.9, metadata={"help": "Higher: more varied drafts"})
    max_tokens: int = field(default=120, metadata={"help": "Most tokens the writer may write per row"})

    def __post_init__(self) -> None:
        if not (self.model or "").strip():
            raise ValueError("Name the model that writes the drafts.")
        if not 1 <= int(self.rows_per_call) <= 20:
            raise ValueError("Rows per call must be between 1 and 20.")
        if not 1 <= int(self.max_tokens) <= 4000:
            raise ValueError("Tokens per row must be between 1 and 4,000.")
        self.model = self.model.strip()
        self.rows_per_call = int(self.rows_per_call)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def default_writer(kind: str) -> tuple[str, str]:
    """(model, note) to start with: a capable hosted model when the provider has one, else the local engine's."""
    if kind == "openai":
        return DEFAULT_HOSTED_WRITER, ""
    if kind == "local":
        return pricing.LOCAL_DEFAULT_MODEL, LOCAL_NOTE
    if kind == "azure":
        return "", "Enter the name of a chat deployment in your Azure resource (for example one of gpt-4.1-mini)."
    return "", "Enter a chat model this server offers."


def default_rows_per_call(kind: str) -> int:
    """Several rows per call save money where the writer can follow a JSON format; a small local model cannot."""
    return 1 if kind == "local" else 5


def _separator(examples: Sequence[Any]) -> str:
    answers = [_question_and_answer(e)[1] for e in examples[:SEED_ROWS_READ]]
    dashed = sum(1 for a in answers if a.count(" - ") >= 3)
    return " - " if answers and dashed * 2 >= len(answers) else "\n"


@functools.lru_cache(maxsize=4096)
def _is_limerick(question: str, answer: str) -> bool:
    return quality.score_example(ds.make_example(question, answer, None)).is_limerick


def _shown(examples: Sequence[Any], k: int) -> list[tuple[str, str]]:
    """The first `k` seed rows that pass the limerick check, else the first `k` with an answer."""
    pairs = [qa for qa in map(_question_and_answer, examples[:SEED_ROWS_READ]) if qa[0].strip() and qa[1].strip()]
    good: list[tuple[str, str]] = []
    for qa in pairs:
        if len(good) >= k:
            break
        if _is_limerick(*qa):
            good.append(qa)
    return (good or pairs)[: max(0, k)]


def writer_messages(
    system_prompt: str, examples: Sequence[Any], questions: Sequence[str], settings: Settings
) -> list[dict[str, str]]:
    """The writer's prompt: one question answered in plain text, or several as a JSON list."""
    shown = _shown(examples, settings.examples_shown)
    instruction = settings.instruction.strip()
    if len(questions) == 1 and settings.rows_per_call == 1:
        messages = [{"role": "system", "content": f"{system_prompt}\n\n{instruction}".strip()}]
        for question, answer in shown:
            messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return [*messages, {"role": "user", "content": questions[0]}]
    system = (
        "You write training examples for a chatbot. Its system prompt is: "
        f"\"{system_prompt}\". {instruction}"
    )
    sample = json.dumps([{"question": q, "answer": a} for q, a in shown], ensure_ascii=False, indent=1)
    user = (
        f"Examples of questions and the answers wanted:\n{sample}\n\n"
        f"Write the answers to these {len(questions)} questions:\n{json.dumps(list(questions), ensure_ascii=False)}\n\n"
        'Reply with a JSON list only: one object {"question": ..., "answer": ...} per question, in the same order.'
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _tidy(answer: str, separator: str) -> str:
    """The writer's text in the seeds' layout: lines joined as the seeds join them, quotes and fences off."""
    text = (answer or "").strip().strip("`").strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return separator.join(lines) if separator == " - " else "\n".join(lines)


def parse_reply(text: str, questions: Sequence[str], *, as_json: bool) -> list[tuple[str, str, str | None]]:
    """(question, answer, problem) per question from the writer's reply; `problem` says why a row has no answer.

    Tolerant on purpose: code fences, prose around the list, a {"rows": [...]} wrapper, a list of plain
    strings, objects keyed "limerick" or "text". Rows are matched by question when the writer repeats
    it, else by position.
    """
    text = text or ""
    if not as_json:
        problem = None if text.strip() else "the writer sent an empty reply"
        return [(questions[0], text, problem)]
    items = _json_list(text)
    if items is None:
        why = "the writer's reply was not the JSON list it was asked for" if text.strip() else \
            "the writer sent an empty reply"
        return [(q, "", why) for q in questions]
    by_question: dict[str, str] = {}
    in_order: list[str] = []
    for item in items:
        if isinstance(item, str):
            in_order.append(item)
        elif isinstance(item, dict):
            answer = next((item[k] for k in ("answer", "limerick", "text", "assistant", "content")
                           if isinstance(item.get(k), str)), None)
            if answer is None:
                continue
            asked = item.get("question") or item.get("user")
            if isinstance(asked, str) and asked.strip():
                by_question[" ".join(asked.lower().split())] = answer
            in_order.append(answer)
    found = []
    for index, question in enumerate(questions):
        answer = by_question.get(" ".join(question.lower().split()))
        if answer is None and index < len(in_order) and not by_question:
            answer = in_order[index]
        if answer is None:
            found.append((question, "", "the writer's reply had no answer for this question"))
        else:
            found.append((question, answer, None if answer.strip() else "the writer sent an empty answer"))
    return found


def _json_list(text: str) -> list[Any] | None:
    cleaned = re.sub(r"```(?:json)?", "", text)
    candidates = [cleaned.strip()]
    start, end = cleaned.find("["), cleaned.rfind("]")
    if 0 <= start < end:
        candidates.append(cleaned[start:end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            value = next((v for v in value.values() if isinstance(v, list)), None)
        if isinstance(value, list):
            return value
    return None


# ------------------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message}


def row_digest(example: Any) -> str:
    """A row's identity for provenance: the studio's one content digest of a row (what is uploaded)."""
    return dataset_check.row_digest(example)


def check_row(example: Any, *, existing: Sequence[Any] = (), others: Sequence[Any] = ()) -> dict[str, Check]:
    """Every check a generated row must pass, each with a plain reason when it fails.

    The one place the generator calls the checkers, through the studio's shared per-row check
    (`dataset_check.check_rows`): OpenAI's format rules on the row alone, the limerick's form and the
    element facts (worded "the answer says 40, Strontium has 38"), exact or near copies of a dataset row
    or of another draft, and the privacy scan.
    """
    verdict = dataset_check.check_rows([example], [*existing, *others])[0]
    result: dict[str, Check] = {}
    wrong = [i.message for i in verdict.errors]
    result["format"] = Check(not wrong, " ".join(wrong))
    row = verdict.quality
    fact_problems = list(row.problems[len(row.problems) - row.contradicted:]) if row.contradicted else []
    form_problems = list(row.problems[: len(row.problems) - row.contradicted])
    result["limerick"] = Check(row.is_limerick, "" if row.is_limerick else
                               "; ".join(form_problems) or "not a well-formed limerick")
    result["facts"] = Check(not row.contradicted, "; ".join(fact_problems))
    copy_message = ""
    if verdict.duplicate_of is not None:
        _, which = verdict.duplicate_of
        source = f"row {which} of the dataset" if which <= len(existing) else "another draft"
        exact = verdict.similarity is None or verdict.similarity >= 100.0
        copy_message = f"a copy of {source}" if exact else \
            f"almost the same as {source} ({verdict.similarity:.0f}% alike)"
    result["duplicate"] = Check(verdict.duplicate_of is None, copy_message)
    found = [i for i in verdict.issues if i.code.startswith("privacy_")]
    result["privacy"] = Check(not found, " ".join(i.message for i in found))
    return result


# ------------------------------------------------------------------------------------------- drafts


@dataclass
class Draft:
    """One generated row and what the checks said about it."""

    question: str
    answer: str
    example: dict[str, Any]
    model: str
    provider: str = "local"
    checks: dict[str, Check] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at: float = field(default_factory=lambda: round(time.time(), 3))
    attempt: int = 0  # 1: the corrected draft of a row sent back
    status: str = "draft"  # "draft" | "accepted"
    raw: str = ""  # what the writer sent, when it could not be read

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, c in self.checks.items() if not c.ok]

    def verdict(self) -> str:
        """Plain words for the review table."""
        if self.passed:
            return "passes every check"
        return "; ".join(f"{CHECKS.get(n, n)}: {self.checks[n].message or 'failed'}" for n in self.failed)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["checks"] = {k: v.to_dict() for k, v in self.checks.items()}
        data["passed"] = self.passed
        data["verdict"] = self.verdict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Draft:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["checks"] = {k: Check(bool(v.get("ok")), str(v.get("message") or ""))
                            for k, v in (data.get("checks") or {}).items()}
        return cls(**values)


def make_draft(question: str, answer: str, *, system_prompt: str, model: str, provider: str,
               existing: Sequence[Any], others: Sequence[Any], problem: str | None = None,
               attempt: int = 0, raw: str = "") -> Draft:
    """A checked draft; `problem` (no usable reply) fails it without running the other checks."""
    example = ds.make_example(question, answer, system_prompt or None)
    draft = Draft(question, answer, example, model, provider, attempt=attempt, raw=raw)
    if problem:
        draft.checks = {"reply": Check(False, problem)}
    else:
        draft.checks = {"reply": Check(True), **check_row(example, existing=existing, others=others)}
    return draft


def recheck(draft: Draft, *, system_prompt: str, existing: Sequence[Any], others: Sequence[Any],
            question: str | None = None, answer: str | None = None) -> Draft:
    """The same draft after a person edited it, checked again from scratch."""
    question = draft.question if question is None else question
    answer = draft.answer if answer is None else answer
    fresh = make_draft(question, answer, system_prompt=system_prompt, model=draft.model, provider=draft.provider,
                       existing=existing, others=others, problem=None if answer.strip() else "the answer is empty",
                       attempt=draft.attempt)
    return dataclasses.replace(fresh, id=draft.id, created_at=draft.created_at, model=f"{draft.model} (edited)"
                               if not draft.model.endswith("(edited)") else draft.model)


# ---------------------------------------------------------------------------------------- estimate


@dataclass(frozen=True)
class Estimate:
    calls: int
    prompt_tokens: int
    completion_tokens: int
    dollars: float | None  # None: the price table has no price for this model
    seconds: float
    basis: str  # where the time comes from, in words

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        cost = "free" if self.dollars == 0 else (f"about ${self.dollars:.4f}" if self.dollars is not None
                                                 else "price unknown (the model is not in the price table)")
        return (f"{self.calls} call{'s' * (self.calls != 1)}, about {self.prompt_tokens:,} tokens in and "
                f"{self.completion_tokens:,} out, {cost}, about {_duration(self.seconds)} ({self.basis}).")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60} s"


def _hosted(kind: str) -> str:
    return "local" if kind == "local" else "hosted"


def _speed_file(workspace: Workspace) -> Path:
    return workspace.root / "generate" / "speed.json"


def measured_speed(workspace: Workspace | None, provider: str, model: str) -> tuple[float, float] | None:
    """(seconds per call, completion tokens per call) of the last run with this model, if any."""
    if workspace is None:
        return None
    try:
        data = json.loads(_speed_file(workspace).read_text(encoding="utf-8"))
        entry = data[f"{provider}|{model}"]
        return float(entry["seconds_per_call"]), max(1.0, float(entry["tokens_per_call"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_speed(workspace: Workspace, provider: str, model: str, calls: int, completion_tokens: int,
                   seconds: float) -> None:
    """Keep a finished run's pace, so the next estimate for this model is measured, not guessed."""
    if calls < 1 or seconds <= 0:
        return
    path = _speed_file(workspace)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[f"{provider}|{model}"] = {"seconds_per_call": round(seconds / calls, 3),
                                   "tokens_per_call": round(completion_tokens / calls, 1),
                                   "measured_at": round(time.time())}
    atomic_write_text(path, json.dumps(data, indent=1))


def _answer_tokens(examples: Sequence[Any], encoding: str) -> float:
    answers = [a for _, a in map(_question_and_answer, examples) if a.strip()]
    if not answers:
        return 60.0
    return sum(tokens.count_text(a, encoding) for a in answers) / len(answers)


def estimate(settings: Settings, questions: Sequence[str], examples: Sequence[Any], system_prompt: str,
             *, workspace: Workspace | None = None) -> Estimate:
    """Calls, tokens, dollars and time for drafting answers to `questions`, before spending anything."""
    n = len(questions)
    per_call = settings.rows_per_call
    calls = math.ceil(n / per_call) if n else 0
    encoding = tokens.encoding_name_for_model(settings.model)
    prompt_tokens = 0
    for start in range(0, n, per_call):
        batch = list(questions[start:start + per_call])
        prompt_tokens += tokens.count_messages(writer_messages(system_prompt, examples, batch, settings), encoding)
    per_row = min(settings.max_tokens, _answer_tokens(examples, encoding) * ROW_TOKENS_SLACK)
    json_overhead = 0 if per_call == 1 else 12 + max((tokens.count_text(q, encoding) for q in questions), default=0)
    completion_tokens = round(n * (per_row + json_overhead))
    if settings.provider == "local":
        dollars: float | None = 0.0
    else:
        dollars = pricing.inference_cost(settings.model, prompt_tokens, completion_tokens,
                                         fine_tuned=settings.model.startswith("ft:"))
    measured = measured_speed(workspace, settings.provider, settings.model)
    if measured and calls:
        # The last run's pace, scaled by how much more (or less) each call will write this time.
        per_call_s, tokens_per_call = measured
        seconds = calls * per_call_s * min(4.0, max(0.25, completion_tokens / calls / tokens_per_call))
        basis = "at the pace of your last run with this model"
    else:
        per_call_s, tokens_per_s = GUESSED_SPEED[_hosted(settings.provider)]
        seconds = calls * per_call_s + completion_tokens / tokens_per_s
        basis = "a rough guess until a first run"
    return Estimate(calls, prompt_tokens, completion_tokens, dollars, round(seconds, 1), basis)


# --------------------------------------------------------------------------------------------- run


class Run:
    """Drafts as they land: `for draft in Run(...)`. Stopping the loop early (Cancel) keeps what arrived.

    A fault (401, 403, 429 after the SDK's retries, 5xx, a timeout, no connection) ends the run with a
    plain sentence in `error`; the drafts already yielded stay with the caller and in `store`.
    `calls`, `completion_tokens` and `seconds` say what it really took.
    """

    def __init__(self, client: Any, settings: Settings, questions: Sequence[str], data: ds.Dataset, *,
                 store: DraftStore | None = None, workspace: Workspace | None = None,
                 pending: Sequence[Draft] = ()) -> None:
        self.client = client
        self.pending = [d.example for d in pending]  # earlier drafts not yet accepted: a copy of one is a copy
        self.settings = settings
        self.questions = list(questions)
        self.data = data
        self.store = store
        self.workspace = workspace
        self.drafts: list[Draft] = []
        self.error: errors.StudioError | None = None
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.seconds = 0.0
        self._count = threading.Lock()

    def __iter__(self) -> Iterator[Draft]:
        started = time.monotonic()
        per_call = self.settings.rows_per_call
        batches = iter([self.questions[s:s + per_call] for s in range(0, len(self.questions), per_call)])
        # The local engine batches requests that arrive together, so it is asked several rows at once;
        # a hosted writer is asked one call at a time (it already writes several rows per call).
        width = LOCAL_BATCH if self.settings.provider == "local" else 1
        pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="generate")
        asked: deque[tuple[list[str], Future]] = deque()

        def ask_next() -> None:
            batch = next(batches, None)
            if batch is not None:
                messages = writer_messages(self.data.system_prompt, self.data.examples, batch, self.settings)
                asked.append((batch, pool.submit(self._ask, messages)))

        try:
            for _ in range(width):
                ask_next()
            while asked:
                batch, future = asked.popleft()
                as_json = per_call > 1
                try:
                    text = future.result()
                except Exception as exc:  # the SDK's error (already retried where right), in plain words
                    self.error = errors.translate(exc)
                    return
                ask_next()
                separator = _separator(self.data.examples)
                for question, answer, problem in parse_reply(text, batch, as_json=as_json):
                    draft = make_draft(
                        question, _tidy(answer, separator), system_prompt=self.data.system_prompt,
                        model=self.settings.model, provider=self.settings.provider, existing=self.data.examples,
                        others=[*self.pending, *(d.example for d in self.drafts)], problem=problem,
                        raw=text[:500] if problem and text.strip() else "",
                    )
                    self.drafts.append(draft)
                    if self.store is not None:
                        self.store.put(draft)
                    yield draft
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # a cancelled run asks nothing more
            self.seconds = time.monotonic() - started
            if self.workspace is not None and self.calls and self.error is None:
                remember_speed(self.workspace, self.settings.provider, self.settings.model, self.calls,
                               self.completion_tokens, self.seconds)

    def _ask(self, messages: list[dict[str, str]]) -> str:
        settings = self.settings
        limit = settings.max_tokens * settings.rows_per_call + (40 * settings.rows_per_call if settings.rows_per_call > 1 else 0)
        response = self.client.chat.completions.create(
            model=settings.model, messages=messages, temperature=settings.temperature, max_tokens=limit,
        )
        choices = getattr(response, "choices", None) or []
        text = (getattr(choices[0].message, "content", None) or "") if choices else ""
        usage = getattr(response, "usage", None)
        encoding = tokens.encoding_name_for_model(settings.model)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0) or tokens.count_messages(messages, encoding)
        completion = int(getattr(usage, "completion_tokens", 0) or 0) or tokens.count_text(text, encoding)
        with self._count:  # calls run on several threads for the local engine
            self.calls += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion
        return text


def revise(client: Any, settings: Settings, draft: Draft, data: ds.Dataset, *, others: Sequence[Any] = ()) -> Draft:
    """Send a failing draft back to the writer with the checkers' complaint; one corrected draft comes back.

    Raises ValueError when the draft passes or was already corrected once, and `errors.StudioError` when
    the writer cannot be reached.
    """
    if draft.passed:
        raise ValueError("This draft passes every check: there is nothing to correct.")
    if draft.attempt >= 1:
        raise ValueError("This draft was already sent back once: edit it yourself, or leave it out.")
    single = dataclasses.replace(settings, rows_per_call=1)
    messages = writer_messages(data.system_prompt, data.examples, [draft.question], single)
    complaint = draft.verdict()
    messages += [
        {"role": "assistant", "content": draft.answer or "(nothing)"},
        {"role": "user", "content": f"A checker found problems with that answer: {complaint}. "
                                    "Write it again with those problems fixed, as a five-line limerick only."},
    ]
    run = Run(client, single, [draft.question], data)
    try:
        text = run._ask(messages)
    except Exception as exc:
        raise errors.translate(exc) from exc
    problem = None if text.strip() else "the writer sent an empty reply"
    fresh = make_draft(draft.question, _tidy(text, _separator(data.examples)), system_prompt=data.system_prompt,
                       model=settings.model, provider=settings.provider, existing=data.examples, others=others,
                       problem=problem, attempt=draft.attempt + 1)
    return dataclasses.replace(fresh, id=draft.id)


# ------------------------------------------------------------------------------------ persistence


class DraftStore:
    """Drafts of one dataset, saved in the workspace as each arrives: a refresh mid-run loses nothing shown."""

    def __init__(self, workspace: Workspace, dataset_name: str) -> None:
        key = hashlib.sha256((dataset_name or "untitled").encode("utf-8")).hexdigest()[:20]
        self.path = workspace.root / "generate" / f"drafts-{key}.json"
        self.dataset_name = dataset_name

    def load(self) -> list[Draft]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [Draft.from_dict(d) for d in data.get("drafts", []) if isinstance(d, dict)]
        except (OSError, ValueError, TypeError, AttributeError):
            return []

    def save(self, drafts: Sequence[Draft]) -> None:
        payload = {"dataset": self.dataset_name, "drafts": [d.to_dict() for d in drafts]}
        atomic_write_text(self.path, json.dumps(payload, ensure_ascii=False))

    def put(self, draft: Draft) -> None:
        """Add a draft, or replace the one with its id (a corrected or edited draft)."""
        drafts = self.load()
        for i, old in enumerate(drafts):
            if old.id == draft.id:
                drafts[i] = draft
                break
        else:
            drafts.append(draft)
        self.save(drafts)

    def clear(self) -> None:
        self.save([])


def _provenance_file(workspace: Workspace) -> Path:
    return workspace.root / "provenance.json"


def _read_provenance(workspace: Workspace) -> dict[str, Any]:
    try:
        data = json.loads(_provenance_file(workspace).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def accept(data: ds.Dataset, drafts: Sequence[Draft], *, workspace: Workspace | None = None,
           store: DraftStore | None = None) -> ds.Dataset:
    """The dataset with `drafts` appended as training rows (save it as a new version: undo is one version back).

    Each row's origin (writer model, provider, date, checks passed) goes to the workspace's provenance
    file keyed by the row's digest, never into the row: exports stay plain OpenAI JSONL.
    """
    chosen = [d for d in drafts if d.status != "accepted"]
    new = dataclasses.replace(data, examples=[*data.examples, *(d.example for d in chosen)],
                              split=[*data.splits(), *(["train"] * len(chosen))])
    if workspace is not None and chosen:
        known = _read_provenance(workspace)
        now = round(time.time())
        for d in chosen:
            known[row_digest(d.example)] = {
                "origin": "generated", "model": d.model, "provider": d.provider, "created_at": round(d.created_at),
                "accepted_at": now, "checks_passed": [n for n, c in d.checks.items() if c.ok],
                "corrected": d.attempt > 0,
            }
        atomic_write_text(_provenance_file(workspace), json.dumps(known, ensure_ascii=False, indent=1))
    if store is not None and chosen:
        ids = {d.id for d in chosen}
        kept = store.load()
        for d in kept:
            if d.id in ids:
                d.status = "accepted"
        store.save(kept)
    return new


def origins(workspace: Workspace, examples: Sequence[Any]) -> list[dict[str, Any] | None]:
    """Where each row came from: the provenance record of a generated row, None for a row a person wrote."""
    known = _read_provenance(workspace)
    return [known.get(row_digest(e)) for e in examples]


def origin_label(record: dict[str, Any] | None) -> str:
    """"written" or "generated by gpt-4.1-mini on 2026-11-28" for the table's origin column."""
    if not record:
        return "written"
    day = time.strftime("%Y-%m-%d", time.localtime(record.get("accepted_at") or record.get("created_at") or 0))
    return f"generated by {record.get('model', 'a model')} on {day}"
