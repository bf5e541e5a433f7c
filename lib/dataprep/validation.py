"""OpenAI's format rules for fine-tuning data, as the Cookbook checks them, with a plain sentence per problem.

The seven error codes and the way they are counted come from the Cookbook notebook
`Chat_finetuning_data_prep.ipynb` (reference §1a): the checks run per message, so one message can count
under several codes (a message without "content" counts as `message_missing_key` and `missing_content`),
and `error_counts` equals what the notebook prints for the same file. The allow-lists are extended as
the API accepts today (reference Appendix A): the `tool` role, `tool_calls`, `tool_call_id`, `refusal`,
top-level `tools` / `parallel_tool_calls` / `functions`; a message that calls a tool or function may
have no content. Rules the notebook does not have get their own codes: `invalid_weight`,
`too_few_examples` (OpenAI needs 10 lines), and for DPO pairs `missing_input`, `missing_output`,
`output_not_assistant`, `too_many_outputs`, `identical_outputs`. Warnings never make a dataset invalid.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lib.dataprep.near_duplicates import SCORE, NearDuplicateIndex, near_pairs

Severity = Literal["error", "warning"]

MIN_EXAMPLES = 10  # "Your file must have at least 10 lines" (reference §3a)
RECOMMENDED_EXAMPLES = (50, 100)  # improvements typically at 50–100 (reference §3a)
COOKBOOK_KEYS = ("role", "content", "name", "function_call", "weight")
ALLOWED_MESSAGE_KEYS = (*COOKBOOK_KEYS, "tool_calls", "tool_call_id", "refusal")
COOKBOOK_ROLES = ("system", "user", "assistant", "function")
ALLOWED_ROLES = (*COOKBOOK_ROLES, "tool")
ALLOWED_EXAMPLE_KEYS = ("messages", "tools", "parallel_tool_calls", "functions")
ALLOWED_DPO_KEYS = ("input", "preferred_output", "non_preferred_output")
NEAR_DUPLICATE_SCORE = SCORE  # rapidfuzz ratio (0–100) of the conversation text (lib.dataprep.near_duplicates)

# The seven Cookbook codes, in the order the notebook checks them.
COOKBOOK_CODES = (
    "data_type",
    "missing_messages_list",
    "message_missing_key",
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
)


@dataclass(frozen=True)
class Issue:
    line: int | None
    field: str
    code: str
    severity: Severity
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "code": self.code, "severity": self.severity,
                "message": self.message}


@dataclass
class Report:
    format: str
    examples: int
    issues: list[Issue] = field(default_factory=list)
    error_counts: dict[str, int] = field(default_factory=dict)
    warning_counts: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def for_line(self, line: int) -> list[Issue]:
        return [i for i in self.issues if i.line == line]

    def summary(self) -> str:
        """One sentence for the top of the page or the command line."""
        kind = {"dpo": "preference pairs (DPO)", "legacy": "examples (converted from prompt/completion)"}.get(
            self.format, "chat examples"
        )
        errors, warnings = len(self.errors), len(self.warnings)
        state = "ready to upload" if self.valid else "not ready to upload"
        counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        return f"{self.examples} {kind}: {state} ({counts})."

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "examples": self.examples,
            "valid": self.valid,
            "problems": [i.to_dict() for i in self.issues],
            "error_counts": dict(self.error_counts),
            "warning_counts": dict(self.warning_counts),
        }


def _finish(fmt: str, n: int, issues: list[Issue]) -> Report:
    order = {"error": 0, "warning": 1}
    issues = sorted(issues, key=lambda i: (-1 if i.line is None else i.line, order[i.severity]))
    errors: dict[str, int] = defaultdict(int)
    warnings: dict[str, int] = defaultdict(int)
    for issue in issues:
        (errors if issue.severity == "error" else warnings)[issue.code] += 1
    return Report(format=fmt, examples=n, issues=issues, error_counts=dict(errors), warning_counts=dict(warnings))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false value"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _describe(index: int, message: Any) -> str:
    role = message.get("role") if isinstance(message, dict) else None
    return f"message {index + 1} ({role})" if isinstance(role, str) and role else f"message {index + 1}"


def _has_text_parts(content: Any) -> bool:
    """Content given as parts (vision data): a non-empty list of text / image_url parts."""
    if not isinstance(content, list) or not content:
        return False
    for part in content:
        if not isinstance(part, dict):
            return False
        if part.get("type") == "text" and isinstance(part.get("text"), str) and part["text"]:
            continue
        if part.get("type") == "image_url" and isinstance(part.get("image_url"), dict) and part["image_url"].get("url"):
            continue
        return False
    return True


def _check_message(message: Any, index: int, row: int, prefix: str) -> list[Issue]:
    """The notebook's per-message checks, extended; one Issue per count the notebook would make."""
    path = f"{prefix}[{index}]"
    who = _describe(index, message)
    issues: list[Issue] = []

    def add(code: str, where: str, text: str) -> None:
        issues.append(Issue(row, where, code, "error", text))

    if not isinstance(message, dict):
        add("message_missing_key", path,
            f"Row {row}'s message {index + 1} is a {_kind(message)}, not an object: write it as "
            '{"role": "user", "content": "…"}.')
        return issues
    calls = bool(message.get("tool_calls")) or bool(message.get("function_call"))
    refusal = isinstance(message.get("refusal"), str) and bool(message.get("refusal"))
    missing = [k for k in ("role", "content") if k not in message and not (k == "content" and (calls or refusal))]
    if message.get("role") == "tool" and "tool_call_id" not in message:
        missing.append("tool_call_id")
    if missing:
        names = " and ".join(f'"{k}"' for k in missing)
        add("message_missing_key", f"{path}.{missing[0]}" if len(missing) == 1 else path,
            f"Row {row}'s {who} has no {names}: add {'it' if len(missing) == 1 else 'them'}.")
    unknown = [k for k in message if k not in ALLOWED_MESSAGE_KEYS]
    if unknown:
        names = ", ".join(f'"{k}"' for k in unknown)
        add("message_unrecognized_key", f"{path}.{unknown[0]}",
            f"Row {row}'s {who} has a key OpenAI does not accept ({names}): rename it to role or content, "
            "or remove it.")
    role = message.get("role")
    if role not in ALLOWED_ROLES:
        if "role" not in message:
            text = f"Row {row}'s message {index + 1} has no role: set it to system, user or assistant."
        else:
            text = (f"Row {row}'s message {index + 1} has the role {json.dumps(role, ensure_ascii=False)}: "
                    "use system, user, assistant or tool.")
        add("unrecognized_role", f"{path}.role", text)
    content = message.get("content")
    if calls or refusal:
        bad_content = content is not None and not isinstance(content, str) and not _has_text_parts(content)
    else:
        bad_content = (not content or not isinstance(content, str)) and not _has_text_parts(content)
    if bad_content:
        if role == "assistant" and (content is None or content == ""):
            text = (f"Row {row}'s answer (message {index + 1}) is empty: write the reply you want the model to learn, "
                    "or delete the row.")
        elif content is None or content == "":
            text = f"Row {row}'s {who} has no text: write its content, or delete the message."
        else:
            text = (f"Row {row}'s {who} content is a {_kind(content)}, not text: write it as text "
                    "in quotes.")
        add("missing_content", f"{path}.content", text)
    if "weight" in message:
        weight = message["weight"]
        if role != "assistant":
            add("invalid_weight", f"{path}.weight",
                f"Row {row}'s {who} has a weight, but only assistant messages can have one: remove it.")
        elif isinstance(weight, bool) or weight not in (0, 1):
            add("invalid_weight", f"{path}.weight",
                f"Row {row}'s {who} has the weight {json.dumps(weight, ensure_ascii=False)}: use 1 to train "
                "on this answer or 0 to skip it.")
    return issues


def _check_messages(messages: list[Any], row: int, prefix: str) -> list[Issue]:
    issues: list[Issue] = []
    for index, message in enumerate(messages):
        issues.extend(_check_message(message, index, row, prefix))
    return issues


def _roles(messages: list[Any]) -> list[Any]:
    return [m.get("role") for m in messages if isinstance(m, dict)]


def _text_of(messages: list[Any], skip_system: bool = True) -> str:
    parts = []
    for m in messages:
        if not isinstance(m, dict) or (skip_system and m.get("role") == "system"):
            continue
        content = m.get("content")
        parts.append(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, sort_keys=True))
    return "\n".join(" ".join(p.lower().split()) for p in parts)


def _canonical(example: Any) -> str:
    return json.dumps(example, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _clean_message(message: Any) -> bool:
    """A plain system/user/assistant message with text and only role/content/name: nothing to report.
    Most rows are made of these, so `row_issues` skips the full per-message checks for them."""
    return (type(message) is dict and message.get("role") in _PLAIN_ROLES and type(message.get("content")) is str
            and bool(message["content"]) and message.keys() <= _PLAIN_KEYS)


_PLAIN_ROLES = frozenset(("system", "user", "assistant"))
_PLAIN_KEYS = frozenset(("role", "content", "name"))


def row_issues(example: Any, row: int) -> tuple[list[Issue], list[Any] | None]:
    """The rules that look at one chat example alone, and its message list (None when it has none usable).

    `validate` adds what needs the whole dataset (copies, system prompt outliers, token limit, count);
    `lib.dataprep.check` calls this per changed row only."""
    if not isinstance(example, dict):
        return [Issue(row, "line", "data_type", "error",
                      f"Row {row} is a {_kind(example)}, not an object: each line must be one "
                      'object like {"messages": [...]}.')], None
    messages = example.get("messages")
    if not messages or not isinstance(messages, list):
        if "messages" not in example:
            hint = (' (it has "prompt" and "completion": import it as the legacy format)'
                    if "prompt" in example and "completion" in example else "")
            text = f'Row {row} has no "messages" list{hint}: put the conversation in "messages".'
        elif isinstance(messages, list):
            text = f'Row {row}\'s "messages" list is empty: add the user\'s question and the assistant\'s answer.'
        else:
            text = f'Row {row}\'s "messages" is a {_kind(messages)}, not a list: write it as [{{...}}, {{...}}].'
        return [Issue(row, "messages", "missing_messages_list", "error", text)], None
    issues: list[Issue] = []
    if not all(map(_clean_message, messages)):
        issues.extend(_check_messages(messages, row, "messages"))
    for key in example:
        if key not in ALLOWED_EXAMPLE_KEYS:
            issues.append(Issue(row, key, "example_unrecognized_key", "warning",
                                f'Row {row} has a key OpenAI does not expect next to "messages" ("{key}"): '
                                "remove it."))
    roles = _roles(messages)
    if "assistant" not in roles:
        issues.append(Issue(row, "messages", "example_missing_assistant_message", "error",
                            f"Row {row} has no assistant message: add the answer you want the model to give."))
    if "system" not in roles:
        issues.append(Issue(row, "messages", "missing_system_message", "warning",
                            f"Row {row} has no system message: add the system prompt the other rows use "
                            "(the Dataset page's “Apply a system prompt to every row” does it)."))
    if "user" not in roles:
        issues.append(Issue(row, "messages", "missing_user_message", "warning",
                            f"Row {row} has no user message: add the question this answer replies to."))
    for index, m in enumerate(messages):
        if isinstance(m, dict) and m.get("role") == "assistant" and isinstance(m.get("content"), str) \
                and m["content"] and not m["content"].strip():
            issues.append(Issue(row, f"messages[{index}].content", "empty_answer", "warning",
                                f"Row {row}'s answer (message {index + 1}) is only spaces: write the reply, "
                                "or delete the row."))
    return issues, messages


def validate(
    examples: Sequence[Any],
    *,
    format: str = "chat",
    token_counts: Sequence[int | None] | None = None,
    token_limit: int | None = None,
    line_numbers: Sequence[int] | None = None,
    model: str | None = None,
) -> Report:
    """Check a dataset as OpenAI will. `line_numbers` maps each example to the line a person sees (the
    file's own line numbers when it had blank lines); by default the row number. `token_counts` and
    `token_limit` (the model's training context) add a warning for examples that will be cut."""
    if format == "dpo":
        return validate_dpo(examples, line_numbers=line_numbers)
    lines = list(line_numbers) if line_numbers is not None and len(line_numbers) == len(examples) else None
    issues: list[Issue] = []
    conversations: dict[int, list[Any]] = {}
    for i, example in enumerate(examples):
        found, messages = row_issues(example, lines[i] if lines else i + 1)
        issues.extend(found)
        if messages is not None:
            conversations[i] = messages
    issues.extend(dataset_issues(examples, conversations, lines=lines, token_counts=token_counts,
                                 token_limit=token_limit, model=model))
    return _finish("legacy" if format == "legacy" else "chat", len(examples), issues)


def dataset_issues(
    examples: Sequence[Any],
    conversations: dict[int, list[Any]],
    *,
    lines: Sequence[int] | None = None,
    token_counts: Sequence[int | None] | None = None,
    token_limit: int | None = None,
    model: str | None = None,
    keys: Sequence[str] | None = None,
    texts: Sequence[str | None] | None = None,
    index: NearDuplicateIndex | None = None,
    segments: Sequence[tuple[str, ...] | None] | None = None,
) -> list[Issue]:
    """The chat rules that need the whole dataset: system prompt outliers, exact and near copies, rows
    over the token limit, too few examples. `conversations` maps positions to their message lists (from
    `row_issues`); `keys` (one content key per example), `texts` (`conversation_text` per example, None
    where it has no conversation) and a kept `index` let `lib.dataprep.check` reuse what it computed for
    the rows that did not change; `segments` (each text's `near_duplicates.segments`) what a one-off
    check cut already."""
    issues = _system_prompt_outliers(conversations, lines)
    issues.extend(_duplicates(examples, conversations, lines, keys=keys, texts=texts, index=index,
                              segments=segments))
    if token_counts is not None and token_limit:
        where = f"{model}'s" if model else "the model's"
        for i, count in enumerate(token_counts[: len(examples)]):
            if count is not None and count > token_limit:
                row = lines[i] if lines else i + 1
                issues.append(Issue(row, "messages", "over_token_limit", "warning",
                                    f"Row {row} has {count:,} tokens, more than {where} limit of {token_limit:,}: "
                                    "the end will be cut off in training. Shorten it or split it in two."))
    issues.extend(_too_few(len(examples), "examples"))
    return issues


def _too_few(n: int, what: str) -> list[Issue]:
    if n >= MIN_EXAMPLES:
        return []
    return [Issue(None, "dataset", "too_few_examples", "error",
                  f"The dataset has {n} {what}; OpenAI needs at least {MIN_EXAMPLES}: add {MIN_EXAMPLES - n} more.")]


def _system_prompt_outliers(conversations: dict[int, list[Any]], lines: list[int] | None) -> list[Issue]:
    """Flag a row whose system prompt differs from the one most rows share (usually a slip of the keyboard).
    Datasets that mix several prompts on purpose (no prompt used by most rows) are left alone."""
    prompts: dict[int, tuple[int, str]] = {}
    for i, messages in conversations.items():
        for index, m in enumerate(messages):
            if isinstance(m, dict) and m.get("role") == "system" and isinstance(m.get("content"), str):
                prompts[i] = (index, m["content"])
                break
    counts = Counter(content for _, content in prompts.values())
    if len(counts) < 2:
        return []
    common, used = counts.most_common(1)[0]
    total = len(prompts)
    if used < 2 or used <= total / 2:
        return []
    issues = []
    for i, (index, content) in prompts.items():
        if content != common and counts[content] <= max(1, total // 10):
            row = lines[i] if lines else i + 1
            preview = content if len(content) <= 60 else content[:57] + "…"
            issues.append(Issue(row, f"messages[{index}].content", "system_prompt_differs", "warning",
                                f"Row {row}'s system prompt differs from the one the other {used} rows use "
                                f"(“{preview}”): if that is a slip, apply the common prompt to this row."))
    return issues


def conversation_text(messages: list[Any]) -> str:
    """What near copies are compared on: the conversation without its system prompt, lower case, spacing
    collapsed (two rows that differ only there have the same text)."""
    return _text_of(messages)


def _duplicates(examples: Sequence[Any], conversations: dict[int, list[Any]], lines: list[int] | None, *,
                keys: Sequence[str] | None = None, texts: Sequence[str | None] | None = None,
                index: NearDuplicateIndex | None = None,
                segments: Sequence[tuple[str, ...] | None] | None = None) -> list[Issue]:
    """Exact copies, then near copies: the same conversation up to a few characters (system prompt left
    out). Candidates come from `lib.dataprep.near_duplicates`, so 100,000 rows take about a second."""
    def row_of(i: int) -> int:
        return lines[i] if lines else i + 1

    issues: list[Issue] = []
    if texts is None:
        texts = [None] * len(examples)
        for i, messages in conversations.items():
            texts[i] = _text_of(messages)
    else:
        texts = list(texts)
    repeated = Counter(texts)  # exact copies have the same text: only those rows need a full comparison
    first_seen: dict[str, int] = {}
    for i, example in enumerate(examples):
        if texts[i] is None or repeated[texts[i]] < 2:
            continue
        key = keys[i] if keys is not None else _canonical(example)
        if key in first_seen:
            texts[i] = None
            issues.append(Issue(row_of(i), "line", "duplicate_example", "warning",
                                f"Row {row_of(i)} is an exact copy of row {row_of(first_seen[key])}: delete one; "
                                "copies make the model repeat that answer more than the others."))
        else:
            first_seen[key] = i
    if index is None:
        found = near_pairs(texts, segments if segments is not None and len(segments) == len(texts) else None)
    else:
        index.update(t for t in texts if t is not None)
        found = index.pairs(texts)
    for j, (i, score) in sorted(found.items()):
        if texts[i] == texts[j]:
            text = f"Row {row_of(j)} has the same question and answer as row {row_of(i)} (only the system prompt or spacing differs)"
        else:
            text = f"Row {row_of(j)} is almost the same as row {row_of(i)} ({score:.0f}% alike)"
        issues.append(Issue(row_of(j), "messages", "near_duplicate", "warning",
                            f"{text}: delete one, or make them say different things."))
    return issues


# ---------------------------------------------------------------------------------------------- DPO


def validate_dpo(examples: Sequence[Any], *, line_numbers: Sequence[int] | None = None) -> Report:
    """Preference pairs: {"input": {"messages": [...]}, "preferred_output": [assistant message],
    "non_preferred_output": [assistant message]}; the two outputs must differ."""
    lines = list(line_numbers) if line_numbers is not None and len(line_numbers) == len(examples) else None
    issues: list[Issue] = []
    first_seen: dict[str, int] = {}
    for i, example in enumerate(examples):
        row = lines[i] if lines else i + 1
        if not isinstance(example, dict):
            issues.append(Issue(row, "line", "data_type", "error",
                                f"Row {row} is a {_kind(example)}, not an object: each line must be one object "
                                'like {"input": ..., "preferred_output": ..., "non_preferred_output": ...}.'))
            continue
        for key in example:
            if key not in ALLOWED_DPO_KEYS:
                issues.append(Issue(row, key, "example_unrecognized_key", "warning",
                                    f'Row {row} has a key a preference pair does not use ("{key}"): remove it.'))
        inp = example.get("input")
        if not isinstance(inp, dict):
            issues.append(Issue(row, "input", "missing_input", "error",
                                f'Row {row} has no "input" object: put the conversation so far in '
                                '{"input": {"messages": [...]}}.'))
        else:
            messages = inp.get("messages")
            if not messages or not isinstance(messages, list):
                issues.append(Issue(row, "input.messages", "missing_messages_list", "error",
                                    f'Row {row}\'s input has no "messages" list: add at least the user\'s question.'))
            else:
                issues.extend(_check_messages(messages, row, "input.messages"))
                roles = _roles(messages)
                if "user" not in roles:
                    issues.append(Issue(row, "input.messages", "missing_user_message", "warning",
                                        f"Row {row}'s input has no user message: add the question both answers reply to."))
                if "system" not in roles:
                    issues.append(Issue(row, "input.messages", "missing_system_message", "warning",
                                        f"Row {row}'s input has no system message: add the system prompt the other "
                                        "rows use."))
                if roles and roles[-1] == "assistant":
                    issues.append(Issue(row, "input.messages", "input_ends_with_answer", "warning",
                                        f"Row {row}'s input ends with an assistant message: the two outputs are the "
                                        "answer, so end the input with the user's question."))
        outputs: dict[str, Any] = {}
        for key, label in (("preferred_output", "preferred"), ("non_preferred_output", "non-preferred")):
            value = example.get(key)
            if not isinstance(value, list) or not value:
                issues.append(Issue(row, key, "missing_output", "error",
                                    f'Row {row} has no {label} answer: write it as "{key}": '
                                    '[{"role": "assistant", "content": "…"}].'))
                continue
            if len(value) > 1:
                issues.append(Issue(row, key, "too_many_outputs", "error",
                                    f"Row {row}'s {label} output has {len(value)} messages: keep only the one "
                                    "assistant answer."))
            for index, message in enumerate(value):
                path = f"{key}[{index}]"
                if isinstance(message, dict) and "role" in message and message["role"] != "assistant":
                    issues.append(Issue(row, f"{path}.role", "output_not_assistant", "error",
                                        f"Row {row}'s {label} answer must have the role assistant, not "
                                        f"{json.dumps(message.get('role'), ensure_ascii=False)}."))
                issues.extend(i for i in _check_message(message, index, row, key) if i.code != "invalid_weight")
            outputs[key] = value
        if len(outputs) == 2 and _canonical(outputs["preferred_output"]) == _canonical(outputs["non_preferred_output"]):
            issues.append(Issue(row, "non_preferred_output", "identical_outputs", "error",
                                f"Row {row}'s preferred and non-preferred answers are the same: change one, so "
                                "the model can learn which is better."))
        key = _canonical(example)
        if key in first_seen:
            issues.append(Issue(row, "line", "duplicate_example", "warning",
                                f"Row {row} is an exact copy of row {first_seen[key]}: delete one."))
        else:
            first_seen[key] = row
    issues.extend(_too_few(len(examples), "preference pairs"))
    return _finish("dpo", len(examples), issues)


# ------------------------------------------------------------------------------------------ helpers


def build_report(format: str, n_examples: int, issues: list[Issue]) -> Report:
    """A Report from issues found piece by piece (`lib.dataprep.check`): sorted and counted as `validate` does."""
    return _finish(format, n_examples, issues)


def too_few(n: int, what: str = "examples") -> list[Issue]:
    """The one dataset error: fewer than MIN_EXAMPLES examples (empty when there are enough)."""
    return _too_few(n, what)


UploadRole = Literal["training_file", "validation_file"]


def upload_errors(report: Report, role: UploadRole = "training_file") -> list[Issue]:
    """The errors that make OpenAI refuse a file uploaded as `role`: every error, except that a
    validation file may hold fewer than MIN_EXAMPLES examples. The pages' "ready to train"
    (`lib.dataprep.check.training_blockers`) and the local engine's file check both use this rule."""
    return [i for i in report.errors if not (role == "validation_file" and i.code == "too_few_examples")]


_ADVICE: dict[str, str] = {
    "data_type": "Some lines are not objects. Each line must be one example: {\"messages\": [...]}. Delete "
                 "those rows or rewrite them in the table.",
    "missing_messages_list": "Some rows have no conversation. Put the system prompt, the question and the "
                             "answer in the row's cells.",
    "message_missing_key": "Some messages lack a role or content. Every message needs both.",
    "message_unrecognized_key": "Some messages have keys OpenAI rejects. Keep role and content (and weight on "
                                "answers); remove the rest.",
    "unrecognized_role": "Some messages have a role OpenAI does not know. Use system, user or assistant.",
    "missing_content": "Some messages are empty. Fill in every question and every answer: an empty answer "
                       "teaches the model to say nothing.",
    "example_missing_assistant_message": "Some rows have no answer. Add the reply you want the model to give.",
    "invalid_weight": "A weight must be 1 (train on this answer) or 0 (skip it), and only answers have one.",
    "too_few_examples": "",
    "missing_system_message": "Some rows have no system prompt. Give every row the same one: the model learns "
                              "to behave this way when it sees that prompt.",
    "missing_user_message": "Some rows have no question. Add the question each answer replies to.",
    "empty_answer": "Some answers are only spaces. Write the reply, or delete the row.",
    "system_prompt_differs": "A row's system prompt differs from the rest. If it is a slip, apply the common "
                             "prompt to all rows.",
    "duplicate_example": "Some rows are exact copies. Delete the copies: each question should appear once.",
    "near_duplicate": "Some rows are almost the same. Delete one of each pair, or vary them: variety teaches "
                      "more than repetition.",
    "over_token_limit": "Some rows are longer than the model can train on; their end will be cut. Shorten them.",
    "example_unrecognized_key": "Some rows have extra keys next to \"messages\". Remove them.",
    "privacy_email": "Some rows contain e-mail addresses. Remove personal data before training: a model can "
                     "repeat what it was trained on.",
    "privacy_phone": "Some rows contain phone numbers. Remove them before training.",
    "privacy_secret": "Some rows contain what looks like a password or API key. Remove it and revoke the key.",
    "missing_input": "Some preference pairs have no input conversation. Add the user's question under input.",
    "missing_output": "Some preference pairs lack an answer. Each needs a preferred and a non-preferred answer.",
    "output_not_assistant": "Preferred and non-preferred answers must have the role assistant.",
    "too_many_outputs": "Each preferred and non-preferred output holds exactly one assistant answer.",
    "identical_outputs": "Some pairs have two identical answers. Make the non-preferred one worse in the way "
                         "you want the model to avoid.",
    "input_ends_with_answer": "End each pair's input with the user's question; the answers go in the outputs.",
}


def coach(report: Report, n_examples: int, *, good_example: str | None = None) -> list[str]:
    """Plain-language advice, most useful first: how many examples are needed, the most common problem and
    how to fix it, then what a good example looks like."""
    advice: list[str] = []
    low, high = RECOMMENDED_EXAMPLES
    if n_examples < MIN_EXAMPLES:
        advice.append(f"You have {n_examples} example{'s' * (n_examples != 1)}. OpenAI needs at least "
                      f"{MIN_EXAMPLES} to start training: add {MIN_EXAMPLES - n_examples} more. "
                      f"It recommends starting with {low}–{high}.")
    elif n_examples < low:
        advice.append(f"You have {n_examples} examples: enough to start. OpenAI recommends {low}–{high} for "
                      "clear improvements, so plan to add more once you have seen a first result.")
    else:
        advice.append(f"You have {n_examples} examples: a good size to start with.")
    counts = Counter(i.code for i in report.issues if i.code != "too_few_examples")
    severity = {i.code: i.severity for i in report.issues}
    ranked = sorted(counts, key=lambda c: (severity[c] != "error", -counts[c], c))
    for code in ranked:
        rows = sorted({i.line for i in report.issues if i.code == code and i.line is not None})
        where = ""
        if rows:
            shown = ", ".join(map(str, rows[:5])) + (" …" if len(rows) > 5 else "")
            where = f" (row{'s' * (len(rows) != 1)} {shown})"
        text = _ADVICE.get(code) or next(i.message for i in report.issues if i.code == code)
        label = "Fix first" if severity[code] == "error" else "Worth a look"
        advice.append(f"{label}{where}: {text}")
    example = good_example or (
        "a system prompt every row shares (“Elle is a factual chatbot…”), one question (“Tell me about "
        "Helium”) and the exact answer you want back: a five-line limerick, AABBA rhyme, with facts you have "
        "checked"
    )
    advice.append(f"A good example has {example}. Write answers the way you want the model to write, "
                  "and keep their style the same from row to row.")
    if report.valid and n_examples >= MIN_EXAMPLES:
        advice.append("The format is right: estimate the cost next.")
    return advice
