"""The engine's HTTP API: OpenAI's paths and shapes under /v1, so `OpenAI(base_url=...)` drives it.

`create_app(settings)` builds the same app for the tests and the command line. ROUTES is the one
list of paths, each mapped to an `Engine` method; the request types are in `lib.engine.params`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
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

import anyio
import anyio.to_thread
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from lib import paths
from lib.engine import errors, guard, models, objects, speed
from lib.engine.export import ExportCreateParams, Exports
from lib.engine.inference import Call, Completion, ModelProxy, Target
from lib.engine.params import ChatCompletionParams, JobCreateParams
from lib.engine.protocol import ENGINE_HEADER, TRAINING_TIME_PATH
from lib.engine.scheduler import WAITING, Scheduler
from lib.engine.store import Store, new_id, now

log = logging.getLogger("lib.engine")
FILE_PURPOSES = ("fine-tune", "assistants", "batch", "vision", "user_data", "evals")
VERSION = "0.1.0"


@dataclass
class Settings:
    """How one engine runs. Every field has a default, so `Settings()` is a working local engine."""

    data_dir: Path = field(default_factory=paths.engine_dir, metadata={"help": "SQLite database and files."})
    api_key: str | None = field(default=None, repr=False,
                                metadata={"help": "When set, requests must carry it (Bearer)."})
    secret: str | None = field(default=None, repr=False, metadata={
        "help": "Proves this engine's identity: /health?challenge=HEX answers HMAC-SHA256(secret, challenge)."})
    host: str = field(default="127.0.0.1", metadata={"help": "The address it listens on (a name it answers to)."})
    allowed_hosts: tuple[str, ...] = field(default=(), metadata={
        "help": "More names clients reach it by (the Host header); '*' allows any."})
    max_json_bytes: int = field(default=2 * 1024 * 1024, metadata={"help": "Largest JSON request body."})
    max_upload_bytes: int = field(default=512 * 1024 * 1024, metadata={"help": "Largest upload (OpenAI: 512 MB)."})
    max_waiting_jobs: int = field(default=20, metadata={"help": "Jobs waiting to train before answering 429."})
    max_waiting_chats: int = field(default=16, metadata={
        "help": "Chat requests generating or waiting before a new one answers 429."})
    prewarm: bool = field(default=True, metadata={"help": "Start the next training process in advance."})
    extra_models: tuple[str, ...] = field(default=(), metadata={"help": "More base models (Hub ids or paths)."})
    launcher: str | None = field(default=None, metadata={
        "help": "Run each job under this launcher, e.g. 'accelerate launch --num_processes 4' (multi-GPU)."})

    def __post_init__(self):
        self.data_dir = Path(self.data_dir).expanduser()
        if self.max_upload_bytes < 1:
            raise ValueError("max_upload_bytes must be at least 1")
        if self.max_json_bytes < 1:
            raise ValueError("max_json_bytes must be at least 1")
        if self.max_waiting_jobs < 1:
            raise ValueError("max_waiting_jobs must be at least 1")
        if self.max_waiting_chats < 1:
            raise ValueError("max_waiting_chats must be at least 1")


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
    ("GET", TRAINING_TIME_PATH, "training_time"),
    ("POST", "/v1/exports", "create_export"),  # an extension: take a fine-tuned model home (lib.engine.export)
    ("GET", "/v1/exports", "list_exports"),
    ("GET", "/v1/exports/{export_id}", "retrieve_export"),
    ("GET", "/v1/exports/{export_id}/content", "export_content"),
]


# Handlers that only read or change the database run on threads of their own, so chat and uploads, which
# hold the shared threads for as long as a reply or an upload takes, never make the job routes wait.
CONTROL_ROUTES = frozenset({"list_models", "retrieve_model", "delete_model", "list_files", "retrieve_file",
                            "delete_file", "list_jobs", "retrieve_job", "cancel_job", "pause_job", "resume_job",
                            "list_events", "list_checkpoints", "create_export", "list_exports",
                            "retrieve_export"})
CONTROL_THREADS = 8


class Engine:
    """The handlers, with the state they share: the store, the scheduler and the model proxy."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.data_dir)
        self.scheduler = Scheduler(self.store, prewarm=settings.prewarm, launcher=settings.launcher)
        self.proxy = ModelProxy(max_waiting=settings.max_waiting_chats)
        self.exports = Exports(self.store)
        self.started_at = time.time()
        self.store.remove_partial_uploads()  # left by an engine killed in the middle of an upload

    # -- health and models ------------------------------------------------------------------------
    async def health(self, challenge: str | None = Query(None, pattern="^[0-9a-fA-F]{1,128}$")) -> dict:
        """On the event loop with no blocking work, so it answers however busy chat keeps the threads.

        It needs no key, so it shows nothing private (no pid, no jobs). With a challenge and a secret
        (FTS_ENGINE_SECRET) it proves this is the engine the app started: see /work/notes/engine-proof.md.
        """
        body: dict[str, Any] = {"status": "ok", "version": VERSION,
                                "uptime_seconds": round(time.time() - self.started_at, 1)}
        if challenge and self.settings.secret:
            body["proof"] = hmac.new(self.settings.secret.encode(), challenge.encode(), hashlib.sha256).hexdigest()
        return body

    def base_model_ids(self) -> list[str]:
        ids = [m for m in models.BUILTIN if models.available(m)]
        for extra in (*self.settings.extra_models, *models.cached_hub_models()):
            if extra not in ids:
                ids.append(extra)
        return ids

    def _base_model(self, model_id: str) -> str | None:
        """The canonical id when `model_id` is a base model this engine offers, else None.

        Only ids it lists count: an arbitrary folder on the server is never probed or loaded.
        """
        canonical = models.canonical_id(model_id)
        if canonical in models.BUILTIN:
            return canonical if models.available(canonical) else None
        if canonical in self.settings.extra_models or canonical in models.cached_hub_models():
            return canonical
        return None

    def list_models(self) -> dict:
        data = [objects.base_model_object(m) for m in self.base_model_ids()]
        data += [objects.fine_tuned_model_object(row) for row in self.store.list_models()]
        return {"object": "list", "data": data}

    def retrieve_model(self, model_id: str) -> dict:
        row = self.store.get_model(model_id)
        if row:
            return objects.fine_tuned_model_object(row)
        canonical = self._base_model(model_id)
        if canonical is not None:
            return objects.base_model_object(canonical)
        raise errors.NotFound(f"The model '{model_id}' does not exist.", param="model", code="model_not_found")

    def delete_model(self, model_id: str) -> dict:
        row = self.store.get_model(model_id)
        if row is None:
            raise errors.NotFound(f"The model '{model_id}' does not exist or is not a fine-tuned model.",
                                  param="model", code="model_not_found")
        self.store.delete_model(model_id)
        self.proxy.forget(model_id)
        self.store.remove_model_files(row["path"])
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
                        raise errors.PayloadTooLarge(guard.too_large_message(limit), param="file")
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
        if self._base_model(model) is None:
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
        options: dict[str, Any] = {"training": training}
        rank = (params.metadata or {}).get("lora_rank")
        if rank is not None:  # engine extension: the LoRA rank, for a sweep over adapter sizes
            if not str(rank).isdigit() or not 1 <= int(rank) <= 256:
                raise errors.BadRequest("metadata.lora_rank must be a whole number from 1 to 256.",
                                        param="metadata.lora_rank")
            options["lora_rank"] = int(rank)
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
            "status": "validating_files", "options_json": json.dumps(options),
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
        self._job(job_id)
        if not self.scheduler.cancel(job_id):  # the status now, not before the refusal: it may have just moved
            raise errors.Conflict(f"Job {job_id} {_finished(self._job(job_id)['status'])}; it cannot be cancelled.",
                                  param="fine_tuning_job_id", code="job_not_cancellable")
        return objects.job_object(self._job(job_id))

    def pause_job(self, job_id: str) -> dict:
        self._job(job_id)
        if not self.scheduler.pause(job_id):
            raise errors.Conflict(f"Job {job_id} is {self._job(job_id)['status']}; only a queued or running job can "
                                  "be paused.",
                                  param="fine_tuning_job_id", code="job_not_pausable")
        return objects.job_object(self._job(job_id))

    def resume_job(self, job_id: str) -> dict:
        self._job(job_id)
        if not self.scheduler.resume(job_id):
            raise errors.Conflict(f"Job {job_id} is {self._job(job_id)['status']}; only a paused job can be "
                                  "resumed.",
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
        canonical = self._base_model(model_id)
        if model_id.startswith("ft:") or canonical is None:
            raise errors.NotFound(f"The model '{model_id}' does not exist or you do not have access to it.",
                                  param="model", code="model_not_found")
        return Target(model_id, canonical)

    async def chat_completions(self, params: ChatCompletionParams, request: Request):
        """Generation runs in the engine's generation thread; this waits for it without holding a thread
        between tokens, and drops the request's rows as soon as the client hangs up, streamed or not."""
        target = await anyio.to_thread.run_sync(self._target, params.model)
        messages = [m.model_dump() for m in params.messages]
        call = self.proxy.start(target, messages, n=params.choices(), max_tokens=params.token_limit(),
                                temperature=params.temperature, top_p=params.top_p, seed=params.seed,
                                stop=params.stop_list(), logprobs=params.logprobs_count(),
                                background=params.service_tier == "flex")
        watcher = asyncio.ensure_future(_cancel_when_gone(request, call))
        completion_id = "chatcmpl-" + secrets.token_hex(12)
        created = now()
        if not params.stream:
            try:
                results = [await _finished_reply(reader) for reader in call.readers]
            finally:
                watcher.cancel()
                call.cancel()
            return {
                "id": completion_id, "object": "chat.completion", "created": created, "model": params.model,
                "system_fingerprint": f"fts-local-{VERSION}",
                "choices": [{"index": i, "message": {"role": "assistant", "content": r.text, "refusal": None},
                             "logprobs": _logprobs(r.logprobs), "finish_reason": r.finish_reason}
                            for i, r in enumerate(results)],
                "usage": _usage(results),
            }
        include_usage = bool(params.stream_options and params.stream_options.include_usage)
        try:  # the first piece before the headers: a prompt too long still gets its 400
            first = await _next_piece(call.readers[0])
        except BaseException:
            watcher.cancel()
            call.cancel()
            raise

        def chunk(index: int, delta: dict, finish: str | None = None, usage: dict | None = None,
                  choices: bool = True, logprobs: list | None = None) -> str:
            body = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                    "model": params.model, "system_fingerprint": f"fts-local-{VERSION}",
                    "choices": [{"index": index, "delta": delta, "logprobs": _logprobs(logprobs),
                                 "finish_reason": finish}] if choices else []}
            if include_usage:
                body["usage"] = usage
            return f"data: {json.dumps(body)}\n\n"

        async def events():
            try:
                done = []
                for index, reader in enumerate(call.readers):
                    yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
                    piece = first if index == 0 else await _next_piece(reader)
                    logprobs = None
                    while piece is not None:
                        kind, value = piece
                        if kind == "logprobs":
                            logprobs = value
                        elif kind == "delta":
                            yield chunk(index, {"content": value}, logprobs=logprobs)
                            logprobs = None
                        else:
                            yield chunk(index, {}, value.finish_reason)
                            done.append(value)
                        piece = await _next_piece(reader)
                if include_usage:
                    yield chunk(0, {}, usage=_usage(done), choices=False)
                yield "data: [DONE]\n\n"
            except Exception:
                log.exception("Generation failed for %s", params.model)
                error = errors.EngineError("Generation failed; the details are in the engine's log.")
                yield f"data: {json.dumps(error.body())}\n\n"
            finally:  # done, or the client went away (this generator is then cancelled or closed)
                watcher.cancel()
                call.cancel()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # -- exports: adapter, merged model, GGUF, Ollama (built on a worker thread) ------------------------
    def create_export(self, params: ExportCreateParams) -> dict:
        return self.exports.create(params)

    def list_exports(self) -> dict:
        return objects.page(self.exports.list(), False)

    def retrieve_export(self, export_id: str) -> dict:
        return self.exports.retrieve(export_id)

    def export_content(self, export_id: str):
        path, filename = self.exports.content(export_id)
        return FileResponse(path, media_type="application/zip", filename=filename)

    # -- how long a job would take here ------------------------------------------------------------
    def training_time(self, model: str = models.DEFAULT_MODEL, tokens: int = Query(..., ge=0),
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
        if self._base_model(model) is None:
            raise errors.NotFound(f"The model '{model}' is not available here.", param="model",
                                  code="model_not_found")
        return speed.training_time(model, tokens, examples, epochs_value, data_dir=self.settings.data_dir,
                                   calibrate=calibrate)


def _usage(results: list) -> dict:
    """OpenAI counts the prompt once and the completion tokens of every choice."""
    prompt = results[0].prompt_tokens if results else 0
    completion = sum(r.completion_tokens for r in results)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _logprobs(content: list[dict] | None) -> dict | None:
    return None if content is None else {"content": content, "refusal": None}


async def _next_piece(reader) -> tuple[str, Any] | None:
    """The reader's next piece, waited for in a worker thread, or None when it has finished."""
    return await anyio.to_thread.run_sync(next, reader, None)


async def _finished_reply(reader) -> Completion:
    result = Completion()
    while (piece := await _next_piece(reader)) is not None:
        if piece[0] == "done":
            result = piece[1]
    return result


async def _cancel_when_gone(request: Request, call: Call) -> None:
    """The body is read, so the next ASGI message is the client hanging up: then stop its generation."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    call.cancel()


def _finished(status: str) -> str:
    return {"succeeded": "has already succeeded", "failed": "has already failed",
            "cancelled": "has already been cancelled"}.get(status, f"is {status}")


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

    # No /docs or /redoc: their pages load JavaScript from a CDN. /openapi.json stays.
    app = FastAPI(title="Fine-Tune Studio local engine", version=VERSION, lifespan=lifespan,
                  description="OpenAI-compatible fine-tuning and chat for open models, on this machine.",
                  docs_url=None, redoc_url=None)
    app.state.engine = engine
    errors.install(app)
    app.add_middleware(guard.Guard, api_key=settings.api_key,
                       hosts=guard.allowed_hosts(settings.host, settings.allowed_hosts),
                       upload_limit=settings.max_upload_bytes, json_limit=settings.max_json_bytes,
                       headers={ENGINE_HEADER: VERSION})  # the header lets the studio's messages name the engine
    control = anyio.CapacityLimiter(CONTROL_THREADS)
    for method, path, name in ROUTES:
        handler = getattr(engine, name)
        if name in CONTROL_ROUTES:
            handler = _on_threads_of_their_own(handler, control)
        app.add_api_route(path, handler, methods=[method], name=name)
    return app


def _on_threads_of_their_own(handler, limiter):
    """Run a sync handler on `limiter`'s threads instead of the pool that chat and uploads keep busy."""
    @functools.wraps(handler)
    async def run(*args, **kwargs):
        return await anyio.to_thread.run_sync(functools.partial(handler, *args, **kwargs), limiter=limiter)
    return run
