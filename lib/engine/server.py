"""The engine's HTTP API: OpenAI's paths and shapes under /v1, so `OpenAI(base_url=...)` drives it.

`create_app(settings)` builds the same app for the tests and the command line. ROUTES is the one
list of paths, each mapped to an `Engine` method; the request types are in `lib.engine.params`.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from lib import paths
from lib.engine import errors, models, objects, speed
from lib.engine.inference import ModelProxy, Target
from lib.engine.params import ChatCompletionParams, JobCreateParams
from lib.engine.scheduler import WAITING, Scheduler
from lib.engine.store import Store, new_id, now
from lib.errors import ENGINE_HEADER

log = logging.getLogger("lib.engine")
FILE_PURPOSES = ("fine-tune", "assistants", "batch", "vision", "user_data", "evals")
VERSION = "0.1.0"


@dataclass
class Settings:
    """How one engine runs. Every field has a default, so `Settings()` is a working local engine."""

    data_dir: Path = field(default_factory=paths.engine_dir, metadata={"help": "SQLite database and files."})
    api_key: str | None = field(default=None, metadata={"help": "When set, requests must carry it (Bearer)."})
    max_upload_bytes: int = field(default=512 * 1024 * 1024, metadata={"help": "Largest upload (OpenAI: 512 MB)."})
    max_waiting_jobs: int = field(default=20, metadata={"help": "Jobs waiting to train before answering 429."})
    prewarm: bool = field(default=True, metadata={"help": "Start the next training process in advance."})
    extra_models: tuple[str, ...] = field(default=(), metadata={"help": "More base models (Hub ids or paths)."})
    launcher: str | None = field(default=None, metadata={
        "help": "Run each job under this launcher, e.g. 'accelerate launch --num_processes 4' (multi-GPU)."})

    def __post_init__(self):
        self.data_dir = Path(self.data_dir).expanduser()
        if self.max_upload_bytes < 1:
            raise ValueError("max_upload_bytes must be at least 1")
        if self.max_waiting_jobs < 1:
            raise ValueError("max_waiting_jobs must be at least 1")


ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/health", "health"),
    ("GET", "/v1/models", "list_models"),
    ("GET", "/v1/models/{model_id:path}", "retrieve_model"),
    ("DELETE", "/v1/models/{model_id:path}", "delete_model"),
    ("POST", "/v1/files", "create_file"),
    ("GET", "/v1/files", "list_files"),
    ("GET", "/v1/files/{file_id}", "retrieve_file"),
    ("DELETE", "/v1/files/{file_id}", "delete_file"),
    ("GET", "/v1/files/{file_id}/content", "file_content"),
    ("POST", "/v1/fine_tuning/jobs", "create_job"),
    ("GET", "/v1/fine_tuning/jobs", "list_jobs"),
    ("GET", "/v1/fine_tuning/jobs/{job_id}", "retrieve_job"),
    ("POST", "/v1/fine_tuning/jobs/{job_id}/cancel", "cancel_job"),
    ("POST", "/v1/fine_tuning/jobs/{job_id}/pause", "pause_job"),
    ("POST", "/v1/fine_tuning/jobs/{job_id}/resume", "resume_job"),
    ("GET", "/v1/fine_tuning/jobs/{job_id}/events", "list_events"),
    ("GET", "/v1/fine_tuning/jobs/{job_id}/checkpoints", "list_checkpoints"),
    ("POST", "/v1/chat/completions", "chat_completions"),
    ("GET", "/v1/engine/estimate", "estimate"),
]


class Engine:
    """The handlers, with the state they share: the store, the scheduler and the model proxy."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.data_dir)
        self.scheduler = Scheduler(self.store, prewarm=settings.prewarm, launcher=settings.launcher)
        self.proxy = ModelProxy()
        self.started_at = time.time()

    # -- health and models ------------------------------------------------------------------------
    def health(self) -> dict:
        running = self.store.list_jobs(("running",))
        return {"status": "ok", "version": VERSION, "uptime_seconds": round(time.time() - self.started_at, 1),
                "running_job": running[0]["id"] if running else None,
                "queued_jobs": len(self.store.list_jobs(WAITING)), "pid": os.getpid()}

    def base_model_ids(self) -> list[str]:
        ids = [m for m in models.BUILTIN if models.available(m)]
        for extra in (*self.settings.extra_models, *models.cached_hub_models()):
            if extra not in ids:
                ids.append(extra)
        return ids

    def list_models(self) -> dict:
        data = [objects.base_model_object(m) for m in self.base_model_ids()]
        data += [objects.fine_tuned_model_object(row) for row in self.store.list_models()]
        return {"object": "list", "data": data}

    def retrieve_model(self, model_id: str) -> dict:
        row = self.store.get_model(model_id)
        if row:
            return objects.fine_tuned_model_object(row)
        canonical = models.canonical_id(model_id)
        if canonical in self.base_model_ids() or models.available(canonical):
            return objects.base_model_object(canonical)
        raise errors.NotFound(f"The model '{model_id}' does not exist.", param="model", code="model_not_found")

    def delete_model(self, model_id: str) -> dict:
        row = self.store.get_model(model_id)
        if row is None:
            raise errors.NotFound(f"The model '{model_id}' does not exist or is not a fine-tuned model.",
                                  param="model", code="model_not_found")
        self.store.delete_model(model_id)
        self.proxy.forget(model_id)
        return {"id": model_id, "object": "model", "deleted": True}

    # -- files ------------------------------------------------------------------------------------
    def create_file(self, file: Annotated[UploadFile, File()], purpose: Annotated[str, Form()]) -> dict:
        if purpose not in FILE_PURPOSES:
            raise errors.BadRequest(f"'{purpose}' is not a valid purpose; use one of: {', '.join(FILE_PURPOSES)}.",
                                    param="purpose")
        filename = os.path.basename(file.filename or "upload.jsonl")
        if purpose == "fine-tune" and not filename.lower().endswith(".jsonl"):
            raise errors.BadRequest(f"Fine-tuning files must be JSONL (.jsonl); got '{filename}'.", param="file",
                                    code="invalid_file_format")
        file_id = new_id("file-")
        target = self.store.files_dir / file_id
        limit = self.settings.max_upload_bytes
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=self.store.files_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := file.file.read(1024 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise errors.PayloadTooLarge(_too_large(limit), param="file")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return objects.file_object(self.store.add_file(file_id, filename, purpose, size, target))

    def list_files(self, purpose: str | None = None, after: str | None = None,
                   limit: int = Query(10000, ge=1, le=10000), order: str = Query("desc", pattern="^(asc|desc)$")
                   ) -> dict:
        rows = self.store.list_files(purpose)
        if order == "asc":
            rows.reverse()
        items, has_more = _after(rows, after, limit)
        return objects.page([objects.file_object(r) for r in items], has_more)

    def _file(self, file_id: str) -> dict:
        row = self.store.get_file(file_id)
        if row is None:
            raise errors.NotFound(f"No such File object: {file_id}", param="file_id", code="file_not_found")
        return row

    def retrieve_file(self, file_id: str) -> dict:
        return objects.file_object(self._file(file_id))

    def delete_file(self, file_id: str) -> dict:
        self._file(file_id)
        job_id = self.store.file_in_use(file_id)
        if job_id:
            raise errors.Conflict(f"File {file_id} is used by job {job_id}, which has not finished; cancel the job "
                                  "first.", param="file_id", code="file_in_use")
        row = self.store.get_file(file_id)
        self.store.delete_file(file_id)
        Path(row["path"]).unlink(missing_ok=True)
        return {"id": file_id, "object": "file", "deleted": True}

    def file_content(self, file_id: str):
        row = self._file(file_id)
        media = "text/csv" if row["filename"].endswith(".csv") else "application/octet-stream"
        return FileResponse(row["path"], media_type=media, filename=row["filename"])

    # -- fine-tuning jobs ---------------------------------------------------------------------------
    def create_job(self, params: JobCreateParams) -> dict:
        model = params.model
        if model.startswith("ft:"):
            raise errors.BadRequest("The local engine cannot fine-tune a fine-tuned model yet; start from its base "
                                    "model.", param="model", code="model_not_available")
        if not models.available(model) and model not in self.settings.extra_models:
            raise errors.BadRequest(
                f"Model '{model}' is not available for fine-tuning here. Available: "
                f"{', '.join(self.base_model_ids())}.", param="model", code="model_not_available")
        for param in ("training_file", "validation_file"):
            file_id = getattr(params, param)
            if file_id is None:
                continue
            row = self.store.get_file(file_id)
            if row is None:
                raise errors.BadRequest(f"Invalid file ID: {file_id} does not exist.", param=param,
                                        code="invalid_file_id")
            if row["purpose"] != "fine-tune":
                raise errors.BadRequest(f"File {file_id} has purpose '{row['purpose']}', not 'fine-tune'.",
                                        param=param, code="invalid_file_purpose")
        if params.validation_file and params.validation_file == params.training_file:
            raise errors.BadRequest("The validation file must differ from the training file.",
                                    param="validation_file")
        hyper = params.resolved_hyperparameters()
        method_type = params.method_type
        if method_type == "supervised" and hyper.beta is not None:
            raise errors.BadRequest("beta is a DPO hyperparameter.", param="hyperparameters.beta")
        if len(self.store.list_jobs(WAITING)) >= self.settings.max_waiting_jobs:
            raise errors.QueueFull(f"{self.settings.max_waiting_jobs} jobs are already waiting to train; try again "
                                   "when one has finished.", headers={"Retry-After": "30"})
        training = hyper.training or (params.metadata or {}).get("training") or "lora"
        if training not in ("lora", "full"):
            raise errors.BadRequest("metadata.training must be 'lora' or 'full'.", param="metadata.training")
        values = {"n_epochs": hyper.n_epochs, "batch_size": hyper.batch_size,
                  "learning_rate_multiplier": hyper.learning_rate_multiplier}
        if method_type == "dpo":
            values["beta"] = hyper.beta if hyper.beta is not None else "auto"
        method = {"type": method_type, method_type: {"hyperparameters": dict(values)}}
        job_id = new_id("ftjob-")
        seed = params.seed if params.seed is not None else secrets.randbelow(2**31)
        events = [(f"Created fine-tuning job: {job_id}", "info"),
                  (f"Validating training file: {params.training_file}", "info")]
        if params.validation_file:
            events.append((f"Validating validation file: {params.validation_file}", "info"))
        if params.integrations:
            events.append(("Integrations are not supported by the local engine; ignored.", "warn"))
        row = self.store.add_job({
            "id": job_id, "created_at": now(), "model": model, "training_file": params.training_file,
            "validation_file": params.validation_file, "method_json": json.dumps(method),
            "hyperparameters_json": json.dumps(values), "suffix": params.suffix, "seed": seed,
            "metadata_json": json.dumps(params.metadata) if params.metadata is not None else None,
            "status": "validating_files", "options_json": json.dumps({"training": training}),
        }, events)
        self.scheduler.wake.set()
        return objects.job_object(row)  # as created: the scheduler may already have moved it on

    def list_jobs(self, after: str | None = None, limit: int = Query(20, ge=1, le=100),
                  request: Request = None) -> dict:
        rows = self.store.list_jobs()
        wanted = {k[len("metadata["):-1]: v for k, v in request.query_params.items()
                  if k.startswith("metadata[") and k.endswith("]")} if request else {}
        if wanted:
            rows = [r for r in rows if all(json.loads(r["metadata_json"] or "{}").get(k) == v
                                           for k, v in wanted.items())]
        items, has_more = _after(rows, after, limit)
        return objects.page([objects.job_object(r) for r in items], has_more)

    def _job(self, job_id: str) -> dict:
        row = self.store.get_job(job_id)
        if row is None:
            raise errors.NotFound(f"Could not find fine-tuning job {job_id}.", param="fine_tuning_job_id",
                                  code="fine_tuning_job_not_found")
        return row

    def retrieve_job(self, job_id: str) -> dict:
        return objects.job_object(self._job(job_id))

    def cancel_job(self, job_id: str) -> dict:
        row = self._job(job_id)
        if not self.scheduler.cancel(job_id):
            raise errors.Conflict(f"Job {job_id} has already {_finished(row['status'])}; it cannot be cancelled.",
                                  param="fine_tuning_job_id", code="job_not_cancellable")
        return objects.job_object(self._job(job_id))

    def pause_job(self, job_id: str) -> dict:
        row = self._job(job_id)
        if not self.scheduler.pause(job_id):
            raise errors.Conflict(f"Job {job_id} is {row['status']}; only a queued or running job can be paused.",
                                  param="fine_tuning_job_id", code="job_not_pausable")
        return objects.job_object(self._job(job_id))

    def resume_job(self, job_id: str) -> dict:
        row = self._job(job_id)
        if not self.scheduler.resume(job_id):
            raise errors.Conflict(f"Job {job_id} is {row['status']}; only a paused job can be resumed.",
                                  param="fine_tuning_job_id", code="job_not_paused")
        return objects.job_object(self._job(job_id))

    def list_events(self, job_id: str, after: str | None = None, limit: int = Query(20, ge=1, le=1000)) -> dict:
        self._job(job_id)
        rows, has_more = self.store.list_events(job_id, after, limit)
        return objects.page([objects.event_object(r) for r in rows], has_more)

    def list_checkpoints(self, job_id: str, after: str | None = None, limit: int = Query(10, ge=1, le=100)) -> dict:
        self._job(job_id)
        items, has_more = _after(self.store.list_checkpoints(job_id), after, limit)
        return objects.page([objects.checkpoint_object(r) for r in items], has_more)

    # -- chat -------------------------------------------------------------------------------------
    def _target(self, model_id: str) -> Target:
        row = self.store.get_model(model_id)
        if row is not None:
            if not Path(row["path"]).exists():
                raise errors.NotFound(f"The files of model '{model_id}' are gone.", param="model",
                                      code="model_not_found")
            if row["kind"] == "full":
                return Target(model_id, row["path"])
            return Target(model_id, row["base_model"], row["path"])
        canonical = models.canonical_id(model_id)
        if model_id.startswith("ft:") or not (models.available(canonical) or canonical in self.settings.extra_models):
            raise errors.NotFound(f"The model '{model_id}' does not exist or you do not have access to it.",
                                  param="model", code="model_not_found")
        return Target(model_id, canonical)

    def chat_completions(self, params: ChatCompletionParams):
        target = self._target(params.model)
        messages = [m.model_dump() for m in params.messages]
        kwargs: dict[str, Any] = dict(max_tokens=params.token_limit(), temperature=params.temperature,
                                      top_p=params.top_p, seed=params.seed, stop=params.stop_list())
        completion_id = "chatcmpl-" + secrets.token_hex(12)
        created = now()
        if not params.stream:
            result = self.proxy.complete(target, messages, **kwargs)
            return {
                "id": completion_id, "object": "chat.completion", "created": created, "model": params.model,
                "system_fingerprint": f"fts-local-{VERSION}",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text, "refusal": None},
                             "logprobs": None, "finish_reason": result.finish_reason}],
                "usage": _usage(result),
            }
        include_usage = bool(params.stream_options and params.stream_options.include_usage)
        pieces = self.proxy.stream(target, messages, **kwargs)

        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> str:
            body = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                    "model": params.model, "system_fingerprint": f"fts-local-{VERSION}",
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
                    if choices else []}
            if include_usage:
                body["usage"] = usage
            return f"data: {json.dumps(body)}\n\n"

        def events():
            try:
                yield chunk({"role": "assistant", "content": "", "refusal": None})
                for kind, value in pieces:
                    if kind == "delta":
                        yield chunk({"content": value})
                    else:
                        yield chunk({}, value.finish_reason)
                        if include_usage:
                            yield chunk({}, usage=_usage(value), choices=False)
                yield "data: [DONE]\n\n"
            except Exception:
                log.exception("Generation failed for %s", params.model)
                error = errors.EngineError("Generation failed; the details are in the engine's log.")
                yield f"data: {json.dumps(error.body())}\n\n"
            finally:
                pieces.close()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # -- estimate ---------------------------------------------------------------------------------
    def estimate(self, model: str = models.DEFAULT_MODEL, tokens: int = Query(..., ge=0),
                 examples: int = Query(..., ge=1), epochs: str = "auto", calibrate: bool = True) -> dict:
        if epochs != "auto":
            try:
                epochs_value: int | str = int(epochs)
            except ValueError:
                raise errors.BadRequest("epochs must be 'auto' or an integer between 1 and 50.",
                                        param="epochs") from None
            if not 1 <= epochs_value <= 50:
                raise errors.BadRequest("epochs must be 'auto' or an integer between 1 and 50.", param="epochs")
        else:
            epochs_value = "auto"
        if not models.available(model) and model not in self.settings.extra_models:
            raise errors.NotFound(f"The model '{model}' is not available here.", param="model",
                                  code="model_not_found")
        return speed.estimate(model, tokens, examples, epochs_value, data_dir=self.settings.data_dir,
                              calibrate=calibrate)


def _usage(result) -> dict:
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens}


def _too_large(limit: int) -> str:
    mb = limit / (1024 * 1024)
    size = f"{mb:.0f} MB" if mb >= 1 else f"{limit} bytes"
    return f"The file is larger than this engine's upload limit of {size}."


def _finished(status: str) -> str:
    return {"succeeded": "succeeded", "failed": "failed", "cancelled": "been cancelled"}.get(status, status)


def _after(rows: list[dict], after: str | None, limit: int) -> tuple[list[dict], bool]:
    """Cursor pagination like OpenAI's: the items after the one whose id is `after`."""
    if after:
        ids = [r["id"] for r in rows]
        rows = rows[ids.index(after) + 1:] if after in ids else []
    return rows[:limit], len(rows) > limit


def create_app(settings: Settings | None = None) -> FastAPI:
    """The engine as an ASGI app. The scheduler starts with the app and stops with it."""
    settings = settings or Settings()
    engine = Engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine.scheduler.start()
        try:
            yield
        finally:
            engine.scheduler.stop()

    app = FastAPI(title="Fine-Tune Studio local engine", version=VERSION, lifespan=lifespan,
                  description="OpenAI-compatible fine-tuning and chat for open models, on this machine.")
    app.state.engine = engine
    errors.install(app)

    def check_key(request: Request) -> None:
        if not settings.api_key:
            return
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise errors.Unauthorized("Incorrect API key provided. Use the key the engine was started with "
                                      "(--api-key).")

    @app.middleware("http")
    async def limit_upload(request: Request, call_next):
        if request.method == "POST" and request.url.path.rstrip("/") == "/v1/files":
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > settings.max_upload_bytes + 64 * 1024:
                error = errors.PayloadTooLarge(_too_large(settings.max_upload_bytes), param="file")
                return JSONResponse(error.body(), status_code=413, headers={ENGINE_HEADER: VERSION})
        response = await call_next(request)
        response.headers[ENGINE_HEADER] = VERSION  # lets the studio's messages name the engine
        return response

    for method, path, name in ROUTES:
        dependencies = [Depends(check_key)] if path.startswith("/v1/") else []
        app.add_api_route(path, getattr(engine, name), methods=[method], name=name, dependencies=dependencies)
    return app

