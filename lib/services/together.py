"""Together AI as a training provider, behind the same client the pages already use.

Together's chat is OpenAI-compatible (https://api.together.xyz/v1), but its fine-tuning jobs are its own
shape: `/v1/fine-tunes` (create, list, retrieve, `/{id}/events`, `/{id}/cancel`), its own statuses
(pending, queued, running, compressing, uploading, completed, cancel_requested, cancelled, error,
user_error) and hyperparameter names (`n_epochs`, `batch_size`, `learning_rate`, `training_type`
{"type": "Lora"|"Full"}, `training_method` {"method": "sft"|"dpo"}), and files are uploaded to
`/v1/files/upload` with `purpose=fine-tune`. Sources: Together's API reference (docs.together.ai/reference,
"Create job", "List job events", "Cancel job"; 2025-2026) and its Python SDK's `types/finetune.py`
(togethercomputer/together-python).

`TogetherClient` is an `openai.OpenAI` whose `client.fine_tuning.jobs` and `client.files` speak Together's
routes and answer with OpenAI's types, so `lib.services.jobs` (launch, events, cancel) and `lib.services.job_monitor` work unchanged.
Requests go through the SDK's own `get`/`post`, so the key is sent only to the configured Together host.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import openai
from openai.types import FileObject
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

from lib.services import errors, providers

TOGETHER_BASE_URL = "https://api.together.xyz/v1"
#: Together's default learning rate (API reference, `learning_rate` default 0.00001); OpenAI's
#: `learning_rate_multiplier` is applied to it.
DEFAULT_LEARNING_RATE = 1e-5

#: Together's job statuses → the studio's (OpenAI's) job states.
STATUS: dict[str, str] = {
    "pending": "validating_files",
    "queued": "queued",
    "running": "running",
    "compressing": "running",
    "uploading": "running",
    "cancel_requested": "running",
    "completed": "succeeded",
    "cancelled": "cancelled",
    "error": "failed",
    "user_error": "failed",
}
#: What the studio's event list says for the statuses OpenAI has no word for.
STATUS_WORDS = {
    "compressing": "Together is compressing the trained model",
    "uploading": "Together is uploading the trained model",
    "cancel_requested": "Cancelling: Together stops the job at its next step",
}


def _timestamp(value: Any) -> int:
    """Together sends ISO times; OpenAI's types want Unix seconds."""
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value:
        try:
            return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return 0
    return 0


def to_job(data: Mapping[str, Any]) -> FineTuningJob:
    """A Together fine-tune (its JSON) as OpenAI's `FineTuningJob`; the raw status is kept in `metadata`."""
    raw = str(data.get("status") or "pending")
    status = STATUS.get(raw, "running")
    lr = data.get("learning_rate")
    error = None
    if status == "failed":
        message = str(data.get("message") or data.get("error") or "")
        if raw == "user_error" and not message:
            message = "Together found a problem in the training data or settings."
        error = {"code": raw, "message": message or "Together reported an error.", "param": None}
    model_name = data.get("output_name") or data.get("model_output_name")
    job = {
        "id": str(data.get("id") or data.get("job_id") or ""),
        "object": "fine_tuning.job",
        "created_at": _timestamp(data.get("created_at")),
        "finished_at": _timestamp(data.get("updated_at")) if status in ("succeeded", "failed", "cancelled") else None,
        "error": error,
        "fine_tuned_model": model_name if status == "succeeded" else None,
        "hyperparameters": {
            "n_epochs": data.get("n_epochs") or "auto",
            "batch_size": data.get("batch_size") if isinstance(data.get("batch_size"), int) else "auto",
            "learning_rate_multiplier": (lr / DEFAULT_LEARNING_RATE) if isinstance(lr, int | float) else "auto",
        },
        "model": str(data.get("model") or ""),
        "organization_id": "together",
        "result_files": [],
        "seed": 0,
        "status": status,
        "trained_tokens": data.get("token_count") if status == "succeeded" else None,
        "training_file": str(data.get("training_file") or ""),
        "validation_file": data.get("validation_file") or None,
        "metadata": {"together_status": raw},
    }
    return FineTuningJob.model_validate(job)


def to_event(job_id: str, index: int, data: Mapping[str, Any]) -> FineTuningJobEvent:
    """A Together job event as OpenAI's event (Together's have no id: the job id and position make one)."""
    level = str(data.get("level") or "info").lower()
    level = {"warning": "warn"}.get(level, level if level in ("info", "warn", "error") else "info")
    return FineTuningJobEvent.model_validate({
        "id": f"{job_id}-event-{index}",
        "object": "fine_tuning.job.event",
        "created_at": _timestamp(data.get("created_at")),
        "level": level,
        "message": str(data.get("message") or data.get("type") or ""),
        "type": "message",
    })


def create_body(
    model: str, training_file: str, validation_file: str | None = None, **params: Any
) -> dict[str, Any]:
    """jobs.create's OpenAI-style arguments as Together's request body (LoRA unless `training_type` says Full)."""
    method = params.get("method") or {"type": "supervised"}
    kind = method.get("type", "supervised")
    hyper = dict(((method.get(kind) or {}).get("hyperparameters")) or params.get("hyperparameters") or {})
    body: dict[str, Any] = {"model": model, "training_file": training_file,
                            "training_type": {"type": params.get("training_type", "Lora")}}
    if validation_file:
        body["validation_file"] = validation_file
        body["n_evals"] = 1
    if isinstance(hyper.get("n_epochs"), int):
        body["n_epochs"] = hyper["n_epochs"]
    if isinstance(hyper.get("batch_size"), int):
        body["batch_size"] = hyper["batch_size"]
    multiplier = hyper.get("learning_rate_multiplier")
    if isinstance(multiplier, int | float):
        body["learning_rate"] = DEFAULT_LEARNING_RATE * float(multiplier)
    if kind == "dpo":
        body["training_method"] = {"method": "dpo"}
        if isinstance(hyper.get("beta"), int | float):
            body["training_method"]["dpo_beta"] = hyper["beta"]
    else:
        body["training_method"] = {"method": "sft"}
    if params.get("suffix"):
        body["suffix"] = params["suffix"]
    return body


class _Page:
    """Enough of the SDK's page for lib.services.jobs: `data`, `has_more`, one page only."""

    def __init__(self, data: list[Any]) -> None:
        self.data = data
        self.has_more = False

    def has_next_page(self) -> bool:
        return False

    def __iter__(self):
        return iter(self.data)


class _Checkpoints:
    def list(self, job_id: str, **_: Any) -> _Page:  # noqa: A003 - the SDK's verb
        return _Page([])  # Together's checkpoints are downloads, not models to chat with


class _Jobs:
    """`client.fine_tuning.jobs` over Together's `/fine-tunes` routes."""

    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client
        self.checkpoints = _Checkpoints()

    def create(self, *, model: str, training_file: str, validation_file: str | None = None, **params: Any):
        body = create_body(model, training_file, validation_file, **params)
        return to_job(self._client.post("/fine-tunes", body=body, cast_to=object))

    def retrieve(self, job_id: str) -> FineTuningJob:
        return to_job(self._client.get(f"/fine-tunes/{job_id}", cast_to=object))

    def list(self, **_: Any) -> _Page:  # noqa: A003
        answer = self._client.get("/fine-tunes", cast_to=object) or {}
        return _Page([to_job(item) for item in answer.get("data") or []])

    def cancel(self, job_id: str) -> FineTuningJob:
        return to_job(self._client.post(f"/fine-tunes/{job_id}/cancel", cast_to=object))

    def list_events(self, job_id: str, **kwargs: Any) -> _Page:
        """Newest first, like OpenAI's (Together sends them oldest first, all at once)."""
        answer = self._client.get(f"/fine-tunes/{job_id}/events", cast_to=object) or {}
        events = [to_event(job_id, i, e) for i, e in enumerate(answer.get("data") or [])]
        return _Page(list(reversed(events)))

    def pause(self, job_id: str) -> FineTuningJob:
        raise errors.NotSupported("Together AI cannot pause jobs. The job goes on; you can cancel it instead.")

    resume = pause


class _FineTuning:
    def __init__(self, client: openai.OpenAI) -> None:
        self.jobs = _Jobs(client)


class _Files:
    """`client.files` for training data: upload to `/files/upload`, read back, wait (Together checks on upload)."""

    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    @staticmethod
    def _object(data: Mapping[str, Any]) -> FileObject:
        return FileObject.model_validate({
            "id": str(data.get("id") or ""), "object": "file", "bytes": int(data.get("bytes") or 0),
            "created_at": _timestamp(data.get("created_at")), "filename": str(data.get("filename") or ""),
            "purpose": "fine-tune", "status": "processed",
        })

    def create(self, *, file: Any, purpose: str = "fine-tune") -> FileObject:
        name = file[0] if isinstance(file, tuple) else "training.jsonl"
        answer = self._client.post(
            "/files/upload", body={"purpose": purpose, "file_name": name}, files={"file": file}, cast_to=object,
            options={"headers": {"Content-Type": "multipart/form-data"}},
        )
        return self._object(answer)

    def retrieve(self, file_id: str) -> FileObject:
        return self._object(self._client.get(f"/files/{file_id}", cast_to=object))

    def wait_for_processing(self, file_id: str, **_: Any) -> FileObject:
        return self.retrieve(file_id)

    def content(self, file_id: str) -> Any:
        return self._client.get(f"/files/{file_id}/content", cast_to=openai._legacy_response.HttpxBinaryResponseContent)


class TogetherClient(openai.OpenAI):
    """An OpenAI client for Together: chat as is, fine-tuning jobs and files through Together's own routes."""

    @cached_property
    def fine_tuning(self) -> _FineTuning:  # type: ignore[override]
        return _FineTuning(self)

    @cached_property
    def files(self) -> _Files:  # type: ignore[override]
        return _Files(self)


class TogetherProvider(providers.Provider):
    kind = "together"
    label = "Together AI"
    help = ("Together AI trains open models (LoRA or full, supervised or preference) from OpenAI chat JSONL; "
            "billed per trained token by Together. Its fine-tuned models answer on a dedicated endpoint.")
    needs_key = True
    can_pause = False

    def address(self, config: providers.ProviderConfig) -> str:
        return config.base_url or TOGETHER_BASE_URL

    def make_client(self, config: providers.ProviderConfig) -> openai.OpenAI:
        if not config.api_key:
            raise errors.MissingSetting(
                "No Together AI key: type it in the sidebar (kept for this session only) or set TOGETHER_API_KEY."
            )
        return TogetherClient(base_url=self.address(config), api_key=config.api_key, timeout=config.timeout,
                              max_retries=config.max_retries)

    def config_from_env(self, env: Mapping[str, str]) -> providers.ProviderConfig:
        return providers.ProviderConfig(kind="together", api_key=env.get("TOGETHER_API_KEY") or None)  # type: ignore[arg-type]


providers.register(TogetherProvider())
