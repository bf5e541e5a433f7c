"""Fine-tuning jobs on any provider: upload the file, create, list, cancel, pause and resume, and what a job cost.

The notebook's cells ("upload, create, retrieve, list_events, refresh this code till you get the
message") as functions with REST verbs:

    job = launch(client, jsonl_bytes, model="gpt-4.1-mini-2025-04-14", progress=bar)

Following a job to its end is `lib.services.job_monitor`; its result file and what its curves say,
`lib.services.job_results`. Every call goes through the openai SDK; its exceptions come out as
`lib.services.errors.StudioError`s.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lib.checks import facts_card
from lib.services import errors, pricing
from lib.services.export import human_size
from lib.services.sdk_objects import field_of, plain_dict

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
    "actual_cost",
    "check_params",
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
            progress(min(1.0, done / total), f"Uploading {filename}: {human_size(done)} of {human_size(total)}")

    if progress is not None:
        progress(0.0, f"Uploading {filename} ({human_size(len(data))})")
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


def trained_with_facts_card(client: openai.OpenAI, model: str | None) -> bool:
    """Whether `model`, a job's final model or one of its checkpoints (`<final>:ckpt-step-N`), was trained on
    rows carrying the facts card, so it should be asked with one: its job's metadata says so. Asked of the
    provider (OpenAI's metadata filter), so it holds after a refresh and for jobs launched from the command line."""
    if not model or not model.startswith("ft:"):
        return False
    for job in list_jobs(client, limit=100, metadata={facts_card.METADATA_KEY: "on"}):
        final = field_of(job, "fine_tuned_model")
        if final and (model == final or model.startswith(f"{final}:ckpt-step-")):
            return facts_card.is_on(plain_dict(field_of(job, "metadata")) or {})
    return False


def job_row(job: Any, *, provider: str | None = None) -> dict[str, Any]:
    """One row of the job history, in plain values: what the table shows and filters on.

    `dataset` / `dataset_version` come from the job's metadata (pass `metadata={"dataset": ...,
    "dataset_version": ...}` to `launch` to link a job to the dataset it was trained on).
    """
    metadata = field_of(job, "metadata") or {}
    return {
        "id": field_of(job, "id"),
        "status": field_of(job, "status"),
        "model": field_of(job, "model"),
        "fine_tuned_model": field_of(job, "fine_tuned_model"),
        "created_at": field_of(job, "created_at"),
        "finished_at": field_of(job, "finished_at"),
        "trained_tokens": field_of(job, "trained_tokens"),
        "cost": actual_cost(job, provider=provider),
        "suffix": field_of(job, "suffix") or field_of(job, "user_provided_suffix"),
        "dataset": metadata.get("dataset"),
        "dataset_version": metadata.get("dataset_version"),
        "error": (field_of(field_of(job, "error"), "message") or None),
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
        found = [plain_dict(c) for c in client.fine_tuning.jobs.checkpoints.list(job_id, limit=100)]
    return sorted(found, key=lambda c: c.get("step_number") or 0)


# --- cost -------------------------------------------------------------------------------------------


def actual_cost(job: Any, *, provider: str | None = None) -> float | None:
    """What the job cost in US dollars: `trained_tokens` × the model's training price (lib.services.pricing).

    0.0 on the local engine; None while `trained_tokens` is unknown or the model has no known price.
    """
    if provider == "local":
        return 0.0
    tokens = field_of(job, "trained_tokens")
    model = field_of(job, "model")
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
