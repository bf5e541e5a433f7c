"""One check of the current dataset, shared by every page and the command line.

It holds everything the studio says about a dataset: OpenAI's format rules for the whole table and for
each split as it will be uploaded (training file, validation file), token counts, limerick and fact
verdicts, privacy findings, exact and near copies; and the one rule for "ready to train"
(`training_blockers`), so Home, Dataset, Estimate, Train and `python -m lib check` cannot disagree.

A `DatasetChecker` remembers what it checked: each row by its content digest, and the near-duplicate
index (`lib.dataprep.near_duplicates`), which an edit updates rather than rebuilds. So after an edit only the
changed rows are checked again; what needs the whole dataset (copies, the split counts) is put
together from the rows' remembered results. A row's result names its row number, so a row that moves
(a row deleted above it) is checked again too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lib.checks import quality
from lib.dataprep import halves, near_duplicates, privacy, tokens, validation
from lib.dataprep.dataset import Dataset
from lib.dataprep.validation import Issue, Report

Progress = Callable[[int, int], None]
_MAX_ROWS = 400_000  # remembered row results (and digests) before the caches start again


# ------------------------------------------------------------------------------------------ digests

_DIGESTS: dict[int, tuple[Any, str]] = {}  # id(example) -> (example, digest): examples are never changed in place


def row_digest(example: Any) -> str:
    """The content digest of one example (its canonical JSON). Examples are values in the studio: every
    edit makes a new object (lib.dataprep.table, lib.dataprep.dataset copy), so a digest is remembered per object."""
    kept = _DIGESTS.get(id(example))
    if kept is not None and kept[0] is example:
        return kept[1]
    text = json.dumps(example, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    value = hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
    if len(_DIGESTS) >= _MAX_ROWS:
        _DIGESTS.clear()
    _DIGESTS[id(example)] = (example, value)
    return value


class PerExample:
    """`compute(example)`, remembered per example object (the same rule as `row_digest`: examples are
    values, every edit makes a new object), so after a one-row edit only that row is computed again."""

    def __init__(self, compute: Callable[[Any], Any], limit: int = _MAX_ROWS):
        self._compute, self._limit = compute, limit
        self._kept: dict[int, tuple[Any, Any]] = {}

    def __call__(self, example: Any) -> Any:
        kept = self._kept.get(id(example))
        if kept is not None and kept[0] is example:
            return kept[1]
        value = self._compute(example)
        if len(self._kept) >= self._limit:
            self._kept.clear()
        self._kept[id(example)] = (example, value)
        return value


def examples_digest(examples: Sequence[Any]) -> str:
    """The digest of a list of examples, in order (what a cache of per-list results is keyed by)."""
    return hashlib.blake2b("".join(map(row_digest, examples)).encode("ascii"), digest_size=16).hexdigest()


def digest(dataset: Dataset) -> str:
    """The one content digest of a dataset: its examples, their split and its format. Every cache of a
    check (the pages', the command line's) is keyed by this."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{dataset.format}\n{examples_digest(dataset.examples)}\n".encode())
    h.update("".join("v" if s == "validation" else "t" for s in dataset.splits()).encode())
    return h.hexdigest()


# -------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class RowCheck:
    """What one row is on its own: format issues, privacy findings, the text copies are compared on."""

    issues: tuple[Issue, ...]
    privacy: tuple[Issue, ...]
    messages: list[Any] | None  # the conversation, None when the row has none usable
    text: str | None  # lib.dataprep.validation.conversation_text, None without a conversation


@dataclass(frozen=True)
class DatasetCheck:
    """Everything the studio says about one dataset content (see the module docstring)."""

    digest: str
    format: str
    examples: int
    report: Report  # every row: the format rules and copies (the Dataset page's list); privacy apart
    train: Report  # the training split alone, as it will be uploaded (row numbers of the whole table)
    held_out: Report  # the validation split alone (row numbers of the whole table)
    privacy: list[Issue]
    tokens: list[int]  # per example, the Cookbook count in `encoding` (empty: a one-off check without a model)
    encoding: str
    train_rows: list[int]  # row numbers of the training split
    held_out_rows: list[int]
    quality_rows: list[quality.RowQuality] | None = None  # limerick and facts per row (None: not asked)
    summary: quality.Summary | None = None
    answer_tokens: list[int] = field(default_factory=list)  # per example, the answers' tokens (one-off checks)

    def with_privacy(self) -> Report:
        """`report` with the privacy findings added (the command line's report)."""
        if not self.privacy:
            return self.report
        return validation.build_report(self.report.format, self.report.examples, self.report.issues + self.privacy)

    @property
    def blockers(self) -> list[Issue]:
        return training_blockers(self)

    @property
    def ready(self) -> bool:
        """Ready to train: the one rule every page and the command line show (`training_blockers`)."""
        return not self.blockers

    def headline(self) -> str:
        """One sentence for the top of a page."""
        if self.ready:
            return f"Ready to train: {len(self.train_rows)} training examples" + (
                f" and {len(self.held_out_rows)} held out for validation." if self.held_out_rows else ".")
        n = len(self.blockers)
        return f"Not ready to train: {n} error{'s' if n != 1 else ''} to fix."


def training_blockers(check: DatasetCheck) -> list[Issue]:
    """What keeps this dataset from training, in the order to fix it; empty when it is ready.

    The rule OpenAI applies to the two uploaded files (`lib.dataprep.validation.upload_errors`): the training
    split must pass on its own (its own count too), the validation split must pass but may be small."""
    return [*validation.upload_errors(check.train, "training_file"),
            *validation.upload_errors(check.held_out, "validation_file")]


@dataclass
class CheckStats:
    """How much work the checker did (tests count it; the benchmark prints it)."""

    rows_checked: int = 0
    rows_scored: int = 0  # limerick and facts


# ------------------------------------------------------------------------------------------ checker


@dataclass
class DatasetChecker:
    """Checks datasets, remembering each row's result by content and keeping the near-duplicate index.

    One per browser session (ui.checks) or one per command; `check` is cheap when little changed."""

    stats: CheckStats = field(default_factory=CheckStats)
    index: near_duplicates.NearDuplicateIndex = field(default_factory=near_duplicates.NearDuplicateIndex)
    _rows: dict[tuple[str, int, str], RowCheck] = field(default_factory=dict)
    _quality: dict[str, quality.RowQuality] = field(default_factory=dict)
    _tokens: dict[tuple[str, str], int] = field(default_factory=dict)  # (digest, encoding) -> Cookbook count
    _last: DatasetCheck | None = None

    def row(self, example: Any, row: int, fmt: str, key: str | None = None) -> RowCheck:
        """One row's own checks, remembered by (content digest, row number, format)."""
        cache_key = (key or row_digest(example), row, fmt)
        found = self._rows.get(cache_key)
        if found is None:
            found = _check_row(example, row, fmt)
            self.stats.rows_checked += 1
            if len(self._rows) >= _MAX_ROWS:
                self._rows.clear()
            self._rows[cache_key] = found
        return found

    def quality_of(self, example: Any, row: int, key: str) -> quality.RowQuality:
        found = self._quality.get(key)
        if found is None:
            found = quality.score_example(example, row)
            self.stats.rows_scored += 1
            if len(self._quality) >= _MAX_ROWS:
                self._quality.clear()
            self._quality[key] = found
        return found if found.line == row else dataclasses.replace(found, line=row)

    def token_counts(self, examples: Sequence[Any], keys: Sequence[str], encoding: str) -> list[int]:
        """Cookbook token counts per example; only rows not counted before are counted."""
        missing = [k for k, key in enumerate(keys) if (key, encoding) not in self._tokens]
        if missing:
            if len(self._tokens) + len(missing) > _MAX_ROWS:
                self._tokens.clear()
                missing = list(range(len(keys)))
            counts, _ = tokens.count_examples([examples[k] for k in missing], encoding)
            for k, count in zip(missing, counts, strict=True):
                self._tokens[(keys[k], encoding)] = count
        return [self._tokens[(key, encoding)] for key in keys]

    def unscored(self, examples: Sequence[Any]) -> int:
        """Rows whose limerick and facts are not known yet (the page shows a progress bar for many)."""
        return sum(1 for ex in examples if row_digest(ex) not in self._quality)

    def check(
        self,
        dataset: Dataset,
        *,
        model: str | None = None,
        token_counts: Sequence[int] | None = None,
        file_lines: bool = False,
        with_quality: bool = True,
        progress: Progress | None = None,
    ) -> DatasetCheck:
        """The whole check of `dataset`. `model` picks the encoding and the token limit (default: the
        o200k_base encoding, no limit); `token_counts` reuses counts already made (the command line's
        estimate). `file_lines`: the file's own line numbers, as the command line shows them."""
        key = digest(dataset)
        last = self._last
        if (last is not None and last.digest == key and (last.quality_rows is not None or not with_quality)
                and not file_lines and model is None and token_counts is None):
            return last
        result = _check(self, dataset, key, model=model, token_counts=token_counts, file_lines=file_lines,
                        with_quality=with_quality, progress=progress, keys=None)
        if not file_lines and model is None and token_counts is None:
            self._last = result
        return result


def _check_row(example: Any, row: int, fmt: str) -> RowCheck:
    return RowCheck(*_row_parts(example, row, fmt))


def _row_parts(example: Any, row: int, fmt: str) -> tuple[tuple[Issue, ...], tuple[Issue, ...], Any, str | None]:
    """A `RowCheck`'s fields: (format issues, privacy findings, message list, text copies are compared on)."""
    if fmt == "dpo":
        found = validation.validate_dpo([example], line_numbers=[row])
        issues = tuple(i for i in found.issues if i.code not in ("too_few_examples", "duplicate_example"))
        return issues, tuple(privacy.scan_example(example, row)), None, None
    issues, messages = validation.row_issues(example, row)
    text = validation.conversation_text(messages) if messages is not None else None
    return tuple(issues), tuple(privacy.scan_example(example, row)), messages, text


@dataclass
class _Rows:
    """Every row's own results, by column (what `_check` reads, whether remembered or just worked out)."""

    issues: list[tuple[Issue, ...]]
    privacy: list[tuple[Issue, ...]]
    messages: list[list[Any] | None]
    texts: list[str | None]
    segments: list[tuple[str, ...] | None] | None = None  # cut already (one-off checks)

    @classmethod
    def of(cls, rows: Sequence[RowCheck]) -> _Rows:
        return cls([r.issues for r in rows], [r.privacy for r in rows], [r.messages for r in rows],
                   [r.text for r in rows])


def _one_off_rows(examples: Sequence[Any], lines: list[int], fmt: str,
                  encoding: str | None) -> tuple[_Rows, list[int], list[int]]:
    """Every row's own checks, the segments near copies are found by, and, with an `encoding`, its
    token counts (total, answer): the per-row work of a one-off check, half of it in a forked child
    when the dataset is large. The child sends back no message lists (the rows here hold them
    already), only what it worked out."""
    def work(start: int, stop: int) -> tuple[list[Any], ...]:  # columns: they cross from the child quickest
        part = examples[start:stop]
        totals, answers = tokens.count_examples(part, encoding) if encoding else ([0] * len(part),) * 2
        issues, private, usable, texts, cuts = [], [], [], [], []
        cut = near_duplicates.segments
        for k, example in enumerate(part):
            found, flagged, messages, text = _row_parts(example, lines[start + k], fmt)
            issues.append(found)
            private.append(flagged)
            usable.append(messages is not None)
            texts.append(text)
            cuts.append(cut(text) if text is not None else None)
        return issues, private, usable, texts, cuts, totals, answers

    def join(first: tuple[list[Any], ...], second: tuple[list[Any], ...]) -> tuple[list[Any], ...]:
        return tuple(a + b for a, b in zip(first, second, strict=True))

    issues, private, usable, texts, cuts, totals, answers = halves.in_two(work, len(examples), join)
    messages = [_messages_of(ex, fmt) if has else None for ex, has in zip(examples, usable, strict=True)]
    rows = _Rows(issues, private, messages, texts, cuts)
    return rows, (totals if encoding else []), (answers if encoding else [])


def _messages_of(example: Any, fmt: str) -> list[Any] | None:
    """The message list `_check_row` found in `example` (the same object, looked up again)."""
    return None if fmt == "dpo" else example.get("messages")


def _check(
    checker: DatasetChecker | None,
    dataset: Dataset,
    key: str,
    *,
    model: str | None,
    token_counts: Sequence[int] | None,
    file_lines: bool,
    with_quality: bool,
    progress: Progress | None,
    keys: Sequence[str] | None,
) -> DatasetCheck:
    examples = dataset.examples
    fmt = dataset.format if dataset.format in ("chat", "legacy", "dpo") else "chat"
    n = len(examples)
    lines = dataset.line_numbers() if file_lines else list(range(1, n + 1))
    splits = dataset.splits()
    encoding = tokens.encoding_name_for_model(model) if model else tokens.DEFAULT_ENCODING
    answer_counts: list[int] = []
    if checker is not None:
        keys = [row_digest(ex) for ex in examples]
        rows = _Rows.of([checker.row(ex, line, fmt, k) for ex, line, k in zip(examples, lines, keys, strict=True)])
    else:  # a one-off check: count with the rows, on two cores when it is large (lib.dataprep.halves)
        count = model is not None and not (token_counts is not None and len(token_counts) == n)
        rows, counted, answer_counts = _one_off_rows(examples, lines, fmt, encoding if count else None)
        if count:
            token_counts = counted
    if token_counts is not None and len(token_counts) == n:
        counts = list(token_counts)
    elif checker is not None and keys is not None:
        counts = checker.token_counts(examples, keys, encoding)
    else:  # a one-off check without a model (the command line without --model) does not count
        counts = []
    limit = None
    if model:
        from lib.services import pricing

        info = pricing.model_info(model)
        limit = info.token_limit if info else None
    row_issues = [i for found in rows.issues for i in found]
    private = [i for found in rows.privacy for i in found]
    if fmt == "dpo":
        whole = validation.validate_dpo(examples, line_numbers=lines).issues
    else:
        conversations = {i: m for i, m in enumerate(rows.messages) if m is not None}
        whole = row_issues + validation.dataset_issues(
            examples, conversations, lines=lines, token_counts=counts, token_limit=limit, model=model, keys=keys,
            texts=rows.texts, index=checker.index if checker is not None else None, segments=rows.segments)
    what = "preference pairs" if fmt == "dpo" else "examples"
    report_fmt = "dpo" if fmt == "dpo" else ("legacy" if fmt == "legacy" else "chat")
    reports = {}
    positions = {}
    for name in ("train", "validation"):
        chosen = [i for i, s in enumerate(splits) if s == name]
        positions[name] = [lines[i] for i in chosen]
        issues = [i for p in chosen for i in rows.issues[p]]
        if name == "train":  # a validation file may be small (lib.dataprep.validation.upload_errors)
            issues += _too_few_for_training(len(chosen), n - len(chosen), what)
        reports[name] = validation.build_report(report_fmt, len(chosen), issues)
    quality_rows = summary = None
    if with_quality:
        quality_rows = _quality_rows(checker, examples, lines, keys, progress)
        summary = quality.summary(quality_rows)
    return DatasetCheck(
        digest=key, format=fmt, examples=n, report=validation.build_report(report_fmt, n, whole),
        train=reports["train"], held_out=reports["validation"], privacy=private, tokens=counts, encoding=encoding,
        train_rows=positions["train"], held_out_rows=positions["validation"], quality_rows=quality_rows,
        summary=summary, answer_tokens=answer_counts,
    )


def _too_few_for_training(n_train: int, n_held_out: int, what: str) -> list[Issue]:
    """`lib.dataprep.validation.too_few` for the training split, saying so when rows are held out for validation."""
    found = validation.too_few(n_train, what)
    if not found or not n_held_out:
        return found
    need = validation.MIN_EXAMPLES - n_train
    return [dataclasses.replace(found[0], message=(
        f"Only {n_train} {what} are left for training ({n_held_out} are held out for validation); OpenAI needs "
        f"at least {validation.MIN_EXAMPLES}: add {need} more, or hold out fewer on the Dataset page's "
        "“Split and export” tab."))]


def _quality_rows(checker: DatasetChecker | None, examples: Sequence[Any], lines: list[int],
                  keys: Sequence[str] | None, progress: Progress | None) -> list[quality.RowQuality]:
    total = len(examples)
    every = max(1, total // 100)
    out = []
    for k, example in enumerate(examples):
        if checker is not None and keys is not None:
            out.append(checker.quality_of(example, lines[k], keys[k]))
        else:
            out.append(quality.score_example(example, lines[k]))
        if progress is not None and ((k + 1) % every == 0 or k + 1 == total):
            progress(k + 1, total)
    return out


def check(dataset: Dataset, *, model: str | None = None, token_counts: Sequence[int] | None = None,
          file_lines: bool = False, with_quality: bool = False) -> DatasetCheck:
    """A one-off check (the command line): nothing is remembered, nothing is hashed."""
    return _check(None, dataset, "", model=model, token_counts=token_counts, file_lines=file_lines,
                  with_quality=with_quality, progress=None, keys=None)


# ------------------------------------------------------------------------------- new rows (drafts)


@dataclass(frozen=True)
class RowVerdict:
    """One new row checked against a dataset: is it fit to add?"""

    index: int  # 0-based position in the new rows
    issues: tuple[Issue, ...]  # format issues of the row alone, copies, privacy (line = index + 1)
    quality: quality.RowQuality
    tokens: int
    duplicate_of: tuple[str, int] | None  # ("existing", row) or ("new", 1-based index in the new rows)
    similarity: float | None  # 100.0 for the same conversation (system prompt aside), else 95–100

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def ok(self) -> bool:
        """Fit to add: no format error, not a copy, nothing private."""
        return not self.errors and self.duplicate_of is None and not any(
            i.code.startswith("privacy_") for i in self.issues)


_SHARED = DatasetChecker()  # remembers rows and the index between calls of check_rows


def check_rows(new_rows: Sequence[Any], existing: Sequence[Any] = (), *, format: str = "chat") -> list[RowVerdict]:
    """Check rows about to be added (drafts) against the rows already there and against each other.

    The same rules as `check`: format, privacy, limerick and facts, exact and near copies. A row that
    copies an existing row or an earlier new row says which (`duplicate_of`)."""
    checker = _SHARED
    fmt = format if format in ("chat", "legacy", "dpo") else "chat"
    everything = [*existing, *new_rows]
    offset = len(existing)
    rows = [checker.row(ex, k + 1, fmt) for k, ex in enumerate(new_rows)]
    texts: list[str | None] = [None] * len(everything)
    for k, ex in enumerate(existing):
        texts[k] = checker.row(ex, k + 1, fmt).text
    for k, r in enumerate(rows):
        texts[offset + k] = r.text
    exact: dict[str, int] = {}
    for k, ex in enumerate(everything):
        exact.setdefault(row_digest(ex), k)
    checker.index.update(t for t in texts if t is not None)
    pairs = checker.index.pairs(texts)
    counts, _ = tokens.count_examples(list(new_rows))
    out = []
    for k, (ex, r) in enumerate(zip(new_rows, rows, strict=True)):
        line = k + 1
        issues = list(r.issues) + list(r.privacy)
        dup: tuple[str, int] | None = None
        score: float | None = None
        first = exact[row_digest(ex)]
        if first < offset + k:
            dup, score = _where(first, offset), 100.0
            issues.append(Issue(line, "line", "duplicate_example", "warning",
                                f"New row {line} is an exact copy of {_name(dup)}: leave it out."))
        elif offset + k in pairs:
            i, score = pairs[offset + k]
            dup = _where(i, offset)
            issues.append(Issue(line, "messages", "near_duplicate", "warning",
                                f"New row {line} is almost the same as {_name(dup)} ({score:.0f}% alike): "
                                "leave it out, or make it say something different."))
        out.append(RowVerdict(k, tuple(issues), checker.quality_of(ex, line, row_digest(ex)), counts[k], dup, score))
    return out


def _where(position: int, offset: int) -> tuple[str, int]:
    return ("existing", position + 1) if position < offset else ("new", position - offset + 1)


def _name(where: tuple[str, int]) -> str:
    return f"row {where[1]} of the dataset" if where[0] == "existing" else f"new row {where[1]}"
