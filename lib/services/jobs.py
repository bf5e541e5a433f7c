"""Fine-tuning jobs on any provider: upload, create, follow, cancel, and read what came out.

The notebook's cells ("upload, create, retrieve, list_events, refresh this code till you get the
message") as functions with REST verbs, plus `JobMonitor`, a plain object the Train page calls from
an auto-refreshing fragment and the command line calls in a loop:

    job = launch(client, jsonl_bytes, model="gpt-4.1-mini-2025-04-14", progress=bar)
    monitor = JobMonitor(client, job.id)
    state = monitor.poll()          # again when monitor.due(); state.to_dict() survives a refresh

Every call goes through the openai SDK; its exceptions come out as `lib.services.errors.StudioError`s.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lib.services import errors, pricing
from lib.services.metrics import StepMetrics

if TYPE_CHECKING:
    import openai
    from openai.types import FileObject
    from openai.types.fine_tuning import FineTuningJob

__all__ = [
    "Status",
    "TERMINAL",
    "Progress",
    "upload",
    "create",
    "launch",
    "retrieve",
    "list_jobs",
    "job_row",
    "cancel",
    "pause",
    "resume",
    "list_events",
    "list_checkpoints",
    "download_result",
    "decode_result_file",
    "parse_result_csv",
    "ResultFile",
    "actual_cost",
    "read_curves",
    "check_params",
    "JobMonitor",
    "MonitorState",
]

# Spelled as on the wire. OpenAI's enum has the first six; "paused" exists since pause/resume, and
# Azure has shown "pending". Anything unknown counts as still in progress.
Status = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled", "paused"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
WAITING: frozenset[str] = frozenset({"validating_files", "queued", "pending", "created"})

# progress(fraction 0..1, plain sentence): what upload/launch report, for a progress bar.
Progress = Callable[[float, str], None]

# OpenAI's limits for jobs.create (reference §2b: openai-python job_create_params.py, openapi.yaml).
N_EPOCHS_RANGE = (1, 50)
BATCH_SIZE_RANGE = (1, 256)
SUFFIX_MAX = 64
BETA_MAX = 2.0
METADATA_MAX_PAIRS, METADATA_KEY_MAX, METADATA_VALUE_MAX = 16, 64, 512
METHODS = ("supervised", "dpo")


def _dump(obj: Any) -> dict[str, Any]:
    """A JSON-safe dict of an SDK object (or a dict already)."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    return dict(vars(obj))


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


class _ProgressReader(io.BytesIO):
    """Bytes the HTTP client reads in chunks, reporting how far it got."""

    def __init__(self, data: bytes, report: Callable[[int, int], None]) -> None:
        super().__init__(data)
        self._total = len(data)
        self._report = report

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if chunk:
            self._report(self.tell(), self._total)
        return chunk


# --- files ------------------------------------------------------------------------------------------


def upload(
    client: openai.OpenAI,
    path_or_bytes: str | Path | bytes,
    filename: str | None = None,
    progress: Progress | None = None,
    *,
    wait: bool = True,
    poll_interval: float = 1.0,
    max_wait_seconds: float = 30 * 60,
) -> FileObject:
    """Upload a JSONL training or validation file (`purpose="fine-tune"`) and wait until it is processed.

    `progress(fraction, text)` hears about the bytes sent. A file the provider rejects while
    processing raises `BadRequest` with its reason.
    """
    if isinstance(path_or_bytes, bytes | bytearray):
        data = bytes(path_or_bytes)
        filename = filename or "training.jsonl"
    else:
        path = Path(path_or_bytes)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise errors.StudioError(f"Could not read {path}: {exc.strerror or exc}.") from exc
        filename = filename or path.name
    if not data.strip():
        raise errors.BadRequest(f"{filename} is empty: add examples on the Dataset page first.", param="file")

    def report(done: int, total: int) -> None:
        if progress is not None and total:
            progress(min(1.0, done / total), f"Uploading {filename}: {_size(done)} of {_size(total)}")

    if progress is not None:
        progress(0.0, f"Uploading {filename} ({_size(len(data))})")
    with errors.translated():
        uploaded = client.files.create(
            file=(filename, _ProgressReader(data, report), "application/jsonl"), purpose="fine-tune"
        )
    if progress is not None:
        progress(1.0, f"Uploaded {filename} as {uploaded.id}")
    if wait:
        uploaded = wait_for_processing(client, uploaded.id, poll_interval=poll_interval, max_wait_seconds=max_wait_seconds)
    return uploaded


def wait_for_processing(
    client: openai.OpenAI, file_id: str, *, poll_interval: float = 1.0, max_wait_seconds: float = 30 * 60
) -> FileObject:
    """The SDK's `files.wait_for_processing`, with its failure and a rejected file put in plain words."""
    with errors.translated():
        try:
            processed = client.files.wait_for_processing(
                file_id, poll_interval=poll_interval, max_wait_seconds=max_wait_seconds
            )
        except RuntimeError as exc:  # the SDK gives up with a RuntimeError
            raise errors.Timeout(
                f"The uploaded file {file_id} was still being processed after {max_wait_seconds:.0f} s. "
                "Nothing was lost: try launching again in a few minutes."
            ) from exc
    if getattr(processed, "status", None) == "error":
        why = (getattr(processed, "status_details", None) or "no reason given").rstrip(".")
        lines = errors.lines_named(why)
        where = f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}" if lines else "it"
        raise errors.BadRequest(
            f"The provider rejected the uploaded file {processed.filename}: {why}. Fix {where} on the "
            "Dataset page and launch again.",
            param="training_file",
            detail=why,
        )
    return processed


# --- jobs -------------------------------------------------------------------------------------------


def _whole(value: Any, name: str, low: int, high: int, what: str) -> int | Literal["auto"]:
    if value is None or value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise errors.BadRequest(f"{what} must be a whole number from {low} to {high}, or auto (not {value!r}).", param=name)
    if not low <= value <= high:
        raise errors.BadRequest(f"{what} must be from {low} to {high}, or auto (you chose {value:g}).", param=name)
    return int(value)


def check_params(
    *,
    method: str = "supervised",
    n_epochs: int | str | None = "auto",
    batch_size: int | str | None = "auto",
    learning_rate_multiplier: float | str | None = "auto",
    beta: float | str | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Check the job settings against OpenAI's ranges before sending anything; returns the
    `jobs.create` keyword arguments (`method={...}`, `suffix`, `seed`, `metadata`).

    Raises `BadRequest` naming the field (`param`) and the allowed range.
    """
    if method not in METHODS:
        raise errors.BadRequest(f"Method must be supervised or dpo (not {method!r}).", param="method")
    hyper: dict[str, Any] = {
        "n_epochs": _whole(n_epochs, "n_epochs", *N_EPOCHS_RANGE, "Epochs"),
        "batch_size": _whole(batch_size, "batch_size", *BATCH_SIZE_RANGE, "Batch size"),
    }
    lr = learning_rate_multiplier
    if lr is None or lr == "auto":
        hyper["learning_rate_multiplier"] = "auto"
    elif isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise errors.BadRequest(
            f"The learning rate multiplier must be a number above 0, or auto (not {lr!r}).",
            param="learning_rate_multiplier",
        )
    else:
        hyper["learning_rate_multiplier"] = float(lr)
    if beta is not None and beta != "auto":
        if method != "dpo":
            raise errors.BadRequest("Beta only applies to preference (DPO) training.", param="beta")
        if isinstance(beta, bool) or not isinstance(beta, int | float) or not 0 < beta <= BETA_MAX:
            raise errors.BadRequest(
                f"Beta must be above 0 and at most {BETA_MAX:g}, or auto (not {beta!r}).", param="beta"
            )
        hyper["beta"] = float(beta)
    elif method == "dpo" and beta == "auto":
        hyper["beta"] = "auto"
    params: dict[str, Any] = {"method": {"type": method, method: {"hyperparameters": hyper}}}
    if suffix is not None and str(suffix).strip():
        suffix = str(suffix).strip()
        if len(suffix) > SUFFIX_MAX:
            raise errors.BadRequest(
                f"The suffix can be at most {SUFFIX_MAX} characters (yours has {len(suffix)}).", param="suffix"
            )
        params["suffix"] = suffix
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise errors.BadRequest(f"The seed must be a whole number (not {seed!r}).", param="seed")
        params["seed"] = seed
    if metadata:
        if len(metadata) > METADATA_MAX_PAIRS:
            raise errors.BadRequest(f"At most {METADATA_MAX_PAIRS} metadata pairs are allowed.", param="metadata")
        for key, value in metadata.items():
            if len(str(key)) > METADATA_KEY_MAX or len(str(value)) > METADATA_VALUE_MAX:
                raise errors.BadRequest(
                    f"Metadata keys are at most {METADATA_KEY_MAX} characters and values at most "
                    f"{METADATA_VALUE_MAX} ({key!r} is too long).",
                    param="metadata",
                )
        params["metadata"] = {str(k): str(v) for k, v in metadata.items()}
    return params


def create(
    client: openai.OpenAI,
    model: str,
    training_file: str,
    validation_file: str | None = None,
    method: str = "supervised",
    n_epochs: int | str = "auto",
    batch_size: int | str = "auto",
    learning_rate_multiplier: float | str = "auto",
    beta: float | str | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> FineTuningJob:
    """Create a fine-tuning job on uploaded files, after checking the settings locally.

    Sends `method={"type": ..., <type>: {"hyperparameters": {...}}}` (the non-deprecated form).
    On OpenAI an organisation past the wind-down gets `TrainingNotAvailable`.
    """
    if not model:
        raise errors.BadRequest("Choose a model to fine-tune.", param="model")
    params = check_params(
        method=method,
        n_epochs=n_epochs,
        batch_size=batch_size,
        learning_rate_multiplier=learning_rate_multiplier,
        beta=beta,
        suffix=suffix,
        seed=seed,
        metadata=metadata,
    )
    if validation_file:
        params["validation_file"] = validation_file
    with errors.translated():
        return client.fine_tuning.jobs.create(model=model, training_file=training_file, **params)


def launch(
    client: openai.OpenAI,
    dataset_jsonl_bytes: bytes | str,
    *,
    model: str,
    validation_jsonl_bytes: bytes | str | None = None,
    filename: str = "training.jsonl",
    progress: Progress | None = None,
    **params: Any,
) -> FineTuningJob:
    """Upload the training data (and the validation data, if any), wait until processed, create the job.

    The settings (`n_epochs`, `suffix`, ...) are checked before anything is uploaded. `progress`
    hears every stage on one 0..1 scale: upload, processing, then creating the job.
    """
    check_params(**params)  # fail before the upload, not after

    def stage(low: float, high: float) -> Progress | None:
        if progress is None:
            return None
        return lambda fraction, text: progress(low + (high - low) * fraction, text)

    def encode(data: bytes | str) -> bytes:
        return data.encode("utf-8") if isinstance(data, str) else data

    has_validation = validation_jsonl_bytes is not None and len(validation_jsonl_bytes) > 0
    upload_end = 0.6 if has_validation else 0.85
    training = upload(client, encode(dataset_jsonl_bytes), filename, stage(0.0, upload_end), wait=False)
    validation = None
    if has_validation:
        stem = filename.rsplit(".", 1)[0]
        validation = upload(
            client, encode(validation_jsonl_bytes or b""), f"{stem}-validation.jsonl", stage(0.6, 0.85), wait=False
        )
    if progress is not None:
        progress(0.88, "Waiting for the provider to process the file…")
    wait_for_processing(client, training.id)
    if validation is not None:
        wait_for_processing(client, validation.id)
    if progress is not None:
        progress(0.95, f"Creating the fine-tuning job on {model}…")
    job = create(client, model, training.id, validation.id if validation else None, **params)
    if progress is not None:
        progress(1.0, f"Job {job.id} created ({job.status.replace('_', ' ')}).")
    return job


def retrieve(client: openai.OpenAI, job_id: str) -> FineTuningJob:
    """The job as it is now."""
    with errors.translated():
        return client.fine_tuning.jobs.retrieve(job_id)


def list_jobs(
    client: openai.OpenAI, *, limit: int | None = None, metadata: Mapping[str, str] | None = None
) -> list[FineTuningJob]:
    """Every job of this provider (all pages), newest first; at most `limit` when given."""
    found: list[FineTuningJob] = []
    kwargs: dict[str, Any] = {"limit": 100}
    if metadata:
        kwargs["metadata"] = dict(metadata)
    with errors.translated():
        page = client.fine_tuning.jobs.list(**kwargs)
        seen: set[str] = set()
        while True:
            fresh = [job for job in page.data if job.id not in seen]
            seen.update(job.id for job in fresh)
            found.extend(fresh)
            if (limit and len(found) >= limit) or not fresh or not page.has_next_page():
                break
            page = page.get_next_page()
    found.sort(key=lambda job: job.created_at or 0, reverse=True)
    return found[:limit] if limit else found


def job_row(job: Any, *, provider: str | None = None) -> dict[str, Any]:
    """One row of the job history, in plain values: what the table shows and filters on.

    `dataset` / `dataset_version` come from the job's metadata (pass `metadata={"dataset": ...,
    "dataset_version": ...}` to `launch` to link a job to the dataset it was trained on).
    """
    metadata = _get(job, "metadata") or {}
    return {
        "id": _get(job, "id"),
        "status": _get(job, "status"),
        "model": _get(job, "model"),
        "fine_tuned_model": _get(job, "fine_tuned_model"),
        "created_at": _get(job, "created_at"),
        "finished_at": _get(job, "finished_at"),
        "trained_tokens": _get(job, "trained_tokens"),
        "cost": actual_cost(job, provider=provider),
        "suffix": _get(job, "suffix") or _get(job, "user_provided_suffix"),
        "dataset": metadata.get("dataset"),
        "dataset_version": metadata.get("dataset_version"),
        "error": (_get(_get(job, "error"), "message") or None),
    }


def cancel(client: openai.OpenAI, job_id: str) -> FineTuningJob:
    """Stop the job now. A job that already ended is returned as it is (nothing to cancel)."""
    with errors.translated():
        try:
            return client.fine_tuning.jobs.cancel(job_id)
        except Exception as exc:
            import openai

            if isinstance(exc, openai.BadRequestError | openai.ConflictError):
                job = client.fine_tuning.jobs.retrieve(job_id)
                if job.status in TERMINAL:
                    return job
            raise


def _pause_or_resume(client: openai.OpenAI, job_id: str, verb: Literal["pause", "resume"]) -> FineTuningJob:
    import openai

    with errors.translated():
        try:
            return getattr(client.fine_tuning.jobs, verb)(job_id)
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status not in (404, 405, 501):
                raise
            try:
                client.fine_tuning.jobs.retrieve(job_id)
            except openai.NotFoundError:
                raise exc from None
            who = errors.service_at(exc.request.url)[0]
            raise errors.NotSupported(
                f"{who[0].upper() + who[1:]} cannot {verb} jobs. The job goes on; you can cancel it instead.",
                status=status,
            ) from exc


def pause(client: openai.OpenAI, job_id: str) -> FineTuningJob:
    """Pause a running job where the provider can (`NotSupported` where it cannot)."""
    return _pause_or_resume(client, job_id, "pause")


def resume(client: openai.OpenAI, job_id: str) -> FineTuningJob:
    """Resume a paused job where the provider can (`NotSupported` where it cannot)."""
    return _pause_or_resume(client, job_id, "resume")


def list_events(
    client: openai.OpenAI, job_id: str, *, since: str | None = None, page_size: int = 100
) -> list[Any]:
    """The job's events newer than event `since` (all of them when None), oldest first.

    The API lists events newest first and its `after=` cursor pages towards older ones, so this
    reads the newest page and follows `after=` until it reaches `since`.
    """
    newest_first: list[Any] = []
    seen: set[str] = set()
    after: str | None = None
    with errors.translated():
        while True:
            kwargs: dict[str, Any] = {"limit": page_size}
            if after:
                kwargs["after"] = after
            page = client.fine_tuning.jobs.list_events(job_id, **kwargs)
            reached = False
            fresh = 0
            for event in page.data:
                if since is not None and event.id == since:
                    reached = True
                    break
                if event.id in seen:
                    continue
                seen.add(event.id)
                newest_first.append(event)
                fresh += 1
            more = page.has_more if page.has_more is not None else len(page.data) >= page_size
            if reached or not more or not fresh or not page.data:
                break
            after = page.data[-1].id
    newest_first.reverse()
    # Ties in created_at keep the server's order.
    return sorted(newest_first, key=lambda e: e.created_at or 0)


def list_checkpoints(client: openai.OpenAI, job_id: str) -> list[dict[str, Any]]:
    """The job's checkpoints (each usable as a model), by step."""
    with errors.translated():
        found = [_dump(c) for c in client.fine_tuning.jobs.checkpoints.list(job_id, limit=100)]
    return sorted(found, key=lambda c: c.get("step_number") or 0)


# --- the result file ----------------------------------------------------------------------------------


@dataclass
class ResultFile:
    """A job's result CSV: its text (for a download button) and its rows, numbers parsed."""

    file_id: str
    csv: str
    columns: list[str]
    rows: list[dict[str, float | int | None]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode_result_file(raw: bytes | str) -> str:
    """The CSV text of a result file, which OpenAI sometimes serves base64-encoded."""
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    compact = b"".join(data.split())
    if compact and b"," not in compact and len(compact) % 4 == 0:
        try:
            decoded = base64.b64decode(compact, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pass
        else:
            if "," in decoded or "\n" in decoded:
                return decoded.lstrip("\ufeff")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _number(text: str) -> float | int | None:
    text = (text or "").strip()
    if not text or text.lower() in ("nan", "none", "null"):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse_result_csv(text: str) -> tuple[list[str], list[dict[str, float | int | None]]]:
    """(columns, rows) of a result CSV, whatever its columns (OpenAI's and Azure's differ); empty cells are None."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return [], []
    columns = [h.strip() for h in header]
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        rows.append({name: _number(values[i]) if i < len(values) else None for i, name in enumerate(columns)})
    return columns, rows


def download_result(client: openai.OpenAI, job: Any) -> ResultFile | None:
    """Download and parse the job's result file (None while the job has none)."""
    result_files = _get(job, "result_files") or []
    if not result_files:
        return None
    file_id = result_files[0] if isinstance(result_files[0], str) else _get(result_files[0], "id")
    with errors.translated():
        raw = client.files.content(file_id).read()
    text = decode_result_file(raw)
    columns, rows = parse_result_csv(text)
    return ResultFile(file_id, text, columns, rows)


# --- cost -------------------------------------------------------------------------------------------


def actual_cost(job: Any, *, provider: str | None = None) -> float | None:
    """What the job cost in US dollars: `trained_tokens` × the model's training price (lib.services.pricing).

    0.0 on the local engine; None while `trained_tokens` is unknown or the model has no known price.
    """
    if provider == "local":
        return 0.0
    tokens = _get(job, "trained_tokens")
    model = _get(job, "model")
    if tokens is None or not model:
        return None
    price = _training_price_per_million(str(model))
    if price is None:
        return None
    return round(tokens * price / 1_000_000, 6)


def _training_price_per_million(model: str) -> float | None:
    """The model's training price in $ per 1M tokens from lib.services.pricing's dated table (None when unknown)."""
    value = getattr(pricing.model_info(model), "training_per_1m", None)
    return float(value) if isinstance(value, int | float) else None


# --- reading the curves -------------------------------------------------------------------------------


def _series(metrics: list[Any], *names: str) -> list[tuple[int, float]]:
    points = []
    for row in metrics:
        step = _get(row, "step")
        for name in names:
            value = _get(row, name)
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and step is not None:
                points.append((int(step), float(value)))
                break
    return sorted(points)


def _mean(points: list[tuple[int, float]]) -> float:
    return statistics.fmean(v for _, v in points)


def read_curves(metrics: list[Any], *, n_examples: int | None = None) -> str:
    """What the loss curves say, in plain words: still learning, levelled off, or memorising.

    Reads the validation loss (falling: still learning; flat: little more to gain; rising while the
    training loss falls: memorising). Without validation numbers it says what training loss alone can tell.
    """
    train = _series(metrics, "train_loss")
    valid = _series(metrics, "valid_loss")
    if len(valid) < 3:  # some providers report validation only at epoch ends
        valid = _series(metrics, "full_valid_loss")
    if len(train) < 3 and len(valid) < 3:
        return "Too early to tell: the curves need a few more training steps."
    if len(valid) < 3:
        third = max(1, len(train) // 3)
        first, last = _mean(train[:third]), _mean(train[-third:])
        if last < first * 0.9:
            trend = f"Training loss fell from {first:.2f} to {last:.2f}: the model is learning your examples."
        else:
            trend = f"Training loss has stayed around {last:.2f}: the model is not learning much from these examples yet."
        return trend + (
            " Without validation examples there is no telling whether it will do as well on new questions: "
            "set a few examples aside for validation to find out."
        )
    third = max(1, len(valid) // 3)
    v_first = _mean(valid[:third])
    v_recent = _mean(valid[-third:])
    v_before = _mean(valid[-2 * third : -third]) if len(valid) >= 2 * third + 1 else v_first
    best_step, v_best = min(valid, key=lambda p: p[1])
    last_step = valid[-1][0]
    t_recent = _mean(train[-max(1, len(train) // 3) :]) if train else None
    t_at_best = _mean([p for p in train if p[0] <= best_step][-3:] or train[:1]) if train else None
    rising = v_recent > v_best * 1.10 and best_step < last_step
    train_falling = t_recent is not None and t_at_best is not None and t_recent < t_at_best * 0.95
    if rising and train_falling:
        size = f" With only {n_examples} examples that happens quickly." if n_examples and n_examples < 100 else ""
        return (
            f"Validation loss has risen from {v_best:.2f} (step {best_step}) to {v_recent:.2f} while training loss "
            f"kept falling ({t_recent:.2f}): it is memorising: fewer epochs or more examples.{size} "
            f"The checkpoint nearest step {best_step} is probably the better model."
        )
    if rising:
        return (
            f"Validation loss has gone up from {v_best:.2f} (step {best_step}) to {v_recent:.2f}: the model is "
            "getting worse on new questions. Try fewer epochs or a lower learning rate."
        )
    if v_recent < v_before * 0.95 and v_recent < v_first * 0.95:
        return (
            f"Validation loss is still falling ({v_first:.2f} → {v_recent:.2f}): the model is still learning. "
            "More epochs could still help."
        )
    if v_recent < v_first * 0.9:
        return (
            f"Validation loss fell from {v_first:.2f} and has levelled off around {v_recent:.2f}: "
            "more epochs would add little; more, or more varied, examples would help more."
        )
    return (
        f"Validation loss has stayed flat around {v_recent:.2f}: there is little more to gain from training "
        "longer. More, or more varied, examples would help more."
    )


# --- the monitor --------------------------------------------------------------------------------------

def metrics_row(event: Any) -> dict[str, Any] | None:
    """One row of the monitor's curves (`StepMetrics.to_dict()`) from a metrics event, or from its
    "Step 40/100: training loss=0.42" message; None for an event without metrics."""
    record = StepMetrics.from_event(event)
    return None if record is None else record.to_dict()


@dataclass
class MonitorState:
    """Everything the Train page shows about one job; JSON-safe (`to_dict` / `from_dict`)."""

    job_id: str
    status: str = "validating_files"
    job: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    new_events: list[dict[str, Any]] = field(default_factory=list)  # from the last poll
    metrics: list[dict[str, Any]] = field(default_factory=list)  # by step
    timeline: list[dict[str, Any]] = field(default_factory=list)  # [{"status", "at"}]
    step: int | None = None
    total_steps: int | None = None
    progress: float | None = None  # 0..1
    eta_seconds: float | None = None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    cost: float | None = None
    result: dict[str, Any] | None = None  # ResultFile.to_dict()
    error: dict[str, Any] | None = None  # JobFailed.to_dict() for a failed job
    warning: str | None = None  # a passing problem in the last poll (the next poll retries)
    curves: str | None = None  # read_curves(metrics)
    last_event_id: str | None = None
    next_poll_in: float | None = 1.0  # seconds; None once the job has ended and everything is fetched
    polled_at: float | None = None
    done: bool = False

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class JobMonitor:
    """Follows one job: `poll()` reads the job and its new events and returns the updated `MonitorState`.

    No threads: the caller decides when to poll (`due()` says when the next poll is worth it:
    backing off 1 → 2 → 4 → 10 s while the job waits in line, every `fast` seconds while it runs).
    A passing failure (429, 5xx, timeout, lost connection) is kept in `state.warning` and retried on
    the next poll; anything else raises the `StudioError`.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        job_id: str,
        *,
        provider: str | None = None,
        fast: float = 1.0,
        slow_max: float = 10.0,
        page_size: int = 100,
        state: MonitorState | None = None,
        job: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`job`: the job as `launch`/`create` returned it, so the timeline starts at its first status."""
        self.client = client
        self.provider = provider
        self.fast = fast
        self.slow_max = slow_max
        self.page_size = page_size
        self.clock = clock
        self.state = state or MonitorState(job_id=job_id)
        self._seen = {e["id"] for e in self.state.events}
        self._extras_done = self.state.done
        if job is not None and not self.state.timeline:
            self._apply_job(job)

    # --- resuming after a refresh
    def to_dict(self) -> dict[str, Any]:
        return self.state.to_dict()

    @classmethod
    def from_dict(cls, client: openai.OpenAI, data: Mapping[str, Any], **kwargs: Any) -> JobMonitor:
        """Resume from `to_dict()`; from just `{"job_id": ...}` it reads the job's events again from the start."""
        state = MonitorState.from_dict(data)
        if not state.events:
            state.last_event_id = None  # nothing kept: read every event again
        return cls(client, state.job_id, state=state, **kwargs)

    @property
    def job_id(self) -> str:
        return self.state.job_id

    def due(self, now: float | None = None) -> bool:
        """Whether a poll is worth making now."""
        if self.state.done:
            return False
        if self.state.polled_at is None or self.state.next_poll_in is None:
            return True
        now = self.clock() if now is None else now
        return now - self.state.polled_at >= self.state.next_poll_in

    def maybe_poll(self) -> MonitorState:
        """`poll()` when due, else the current state."""
        return self.poll() if self.due() else self.state

    def poll(self) -> MonitorState:
        state = self.state
        previous = state.status
        state.new_events = []
        try:
            job = retrieve(self.client, state.job_id)
            self._apply_job(job)
            self._read_events()
            if state.terminal and not self._extras_done:
                self._finish(job)
        except errors.StudioError as exc:
            if not exc.retryable:
                raise
            state.warning = exc.message
            state.polled_at = self.clock()
            state.next_poll_in = min(self.slow_max, max(exc.retry_after or 0, (state.next_poll_in or 1) * 2))
            return state
        state.warning = None
        state.polled_at = self.clock()
        state.next_poll_in = self._interval(previous)
        state.done = state.terminal and self._extras_done
        if state.done:
            state.next_poll_in = None
        return state

    # --- actions, keeping the state in step
    def cancel(self) -> MonitorState:
        self._apply_job(cancel(self.client, self.job_id))
        return self.state

    def pause(self) -> MonitorState:
        self._apply_job(pause(self.client, self.job_id))
        return self.state

    def resume(self) -> MonitorState:
        self._apply_job(resume(self.client, self.job_id))
        return self.state

    # --- inside
    def _interval(self, previous: str) -> float | None:
        state = self.state
        if state.terminal:
            return 0.0 if not self._extras_done else None
        if state.status == "running":
            return self.fast
        if state.status != previous or state.next_poll_in is None:
            return 1.0
        return min(self.slow_max, max(1.0, (state.next_poll_in or 1.0) * 2))

    def _apply_job(self, job: Any) -> None:
        state = self.state
        state.job = _dump(job)
        status = str(_get(job, "status") or state.status)
        if not state.timeline:
            state.timeline.append({"status": "created", "at": _get(job, "created_at")})
        if not state.timeline or state.timeline[-1]["status"] != status:
            at = _get(job, "finished_at") if status in TERMINAL else None
            state.timeline.append({"status": status, "at": at or round(self.clock())})
        state.status = status
        state.fine_tuned_model = _get(job, "fine_tuned_model")
        state.trained_tokens = _get(job, "trained_tokens")
        state.cost = actual_cost(job, provider=self.provider)
        if status == "failed":
            state.error = errors.JobFailed.from_job(job).to_dict()
        if status == "succeeded":
            state.progress = 1.0
            state.eta_seconds = 0.0
        elif status in TERMINAL:
            state.eta_seconds = None
        estimated = _get(job, "estimated_finish")
        if status == "running" and state.eta_seconds is None and estimated:
            state.eta_seconds = max(0.0, float(estimated) - self.clock())

    def _read_events(self) -> None:
        state = self.state
        fresh = [
            e for e in list_events(self.client, state.job_id, since=state.last_event_id, page_size=self.page_size)
            if e.id not in self._seen
        ]
        if not fresh:
            return
        for event in fresh:
            self._seen.add(event.id)
            as_dict = {
                "id": event.id,
                "created_at": event.created_at,
                "level": event.level,
                "message": event.message,
                "type": _get(event, "type"),
                "data": _get(event, "data"),
            }
            state.events.append(as_dict)
            state.new_events.append(as_dict)
            row = metrics_row(event)
            if row is not None:
                self._add_metrics(row)
        state.last_event_id = fresh[-1].id
        self._update_progress()

    def _add_metrics(self, row: dict[str, Any]) -> None:
        metrics = self.state.metrics
        for existing in metrics:
            if existing["step"] == row["step"]:
                existing.update({k: v for k, v in row.items() if v is not None})
                return
        metrics.append(row)
        metrics.sort(key=lambda r: r["step"])

    def _update_progress(self) -> None:
        state = self.state
        if not state.metrics:
            return
        last = state.metrics[-1]
        state.step = last["step"]
        totals = [r["total_steps"] for r in state.metrics if r.get("total_steps")]
        state.total_steps = totals[-1] if totals else state.total_steps
        if state.total_steps:
            state.progress = 1.0 if state.status == "succeeded" else min(1.0, state.step / state.total_steps)
        state.curves = read_curves(state.metrics)
        if state.status in TERMINAL or not state.total_steps:
            return
        timed = [(r["created_at"], r["step"]) for r in state.metrics[-20:] if r.get("created_at") is not None]
        if len(timed) >= 2 and timed[-1][0] > timed[0][0] and timed[-1][1] > timed[0][1]:
            # Steps per second from the server's own timestamps (differences only, so clock skew
            # between here and the server does not matter).
            rate = (timed[-1][1] - timed[0][1]) / (timed[-1][0] - timed[0][0])
            state.eta_seconds = max(0.0, (state.total_steps - state.step) / rate)

    def _finish(self, job: Any) -> None:
        """Once the job has ended: its final events, checkpoints and result file, each fetched once."""
        state = self.state
        notes = []
        if state.status == "succeeded":
            try:
                state.checkpoints = list_checkpoints(self.client, state.job_id)
            except errors.StudioError as exc:
                if exc.retryable:
                    raise
                notes.append(f"Checkpoints unavailable: {exc.message}")
        if _get(job, "result_files"):
            try:
                result = download_result(self.client, job)
            except errors.StudioError as exc:
                if exc.retryable:
                    raise
                notes.append(f"Result file unavailable: {exc.message}")
            else:
                state.result = result.to_dict() if result else None
                if result and result.rows:
                    self._metrics_from_result(result)
        self._read_events()
        self._extras_done = True
        if notes:
            state.warning = " ".join(notes)

    def _metrics_from_result(self, result: ResultFile) -> None:
        """Fill steps the events missed (providers thin out metrics events on long jobs) from the result CSV."""
        known = {r["step"] for r in self.state.metrics}
        for values in result.rows:
            record = StepMetrics.from_mapping(values, total_steps=self.state.total_steps)
            if record is None or record.step in known:
                continue
            self.state.metrics.append(record.to_dict())
        self.state.metrics.sort(key=lambda r: r["step"])
        self.state.curves = read_curves(self.state.metrics)
