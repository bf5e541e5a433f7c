"""Take a fine-tuned model home: ask the engine that holds its weights to pack it, follow, download.

The local engine (or a remote one) builds the export where the weights are (`POST /v1/exports`, see
`lib.engine.export`); this module reaches it over HTTP like any other provider call, with the client
`providers.make_client` gives (the same address and key). Hosted services (OpenAI, Azure OpenAI,
Together) never hand out weights: `no_weights_message` says so and what to do instead.

    exp = start(config, "ftjob-abc", "gguf", "q8_0")
    exp = wait(config, exp.id, on_progress=lambda e: print(e.progress))
    download(config, exp, Path("model.zip"))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.services import errors, providers

FORMATS: dict[str, str] = {
    "gguf": "GGUF (one file that llama.cpp and Ollama run)",
    "ollama": "Ollama (the GGUF file plus a Modelfile with the chat template and system prompt)",
    "merged": "Merged model (a Hugging Face folder that transformers loads on its own)",
    "adapter": "LoRA adapter (the small set of changed weights, loaded on top of the base model)",
}
QUANTS: dict[str, str] = {
    "f16": "f16: 16-bit numbers, the same replies, half the size of f32",
    "q8_0": "q8_0: 8-bit numbers, about half the size of f16, nearly the same replies",
    "f32": "f32: full 32-bit numbers, the largest file",
}
WITH_QUANT = ("gguf", "ollama")
# Services that train and serve models but never hand out the weights.
HOSTED = ("openai", "azure", "together")
POLL_SECONDS = 0.5
# The engine's codes for a model or job it does not have (any other 404 means the route is missing).
ENGINE_NOT_FOUND = ("model_not_found", "fine_tuning_job_not_found")


@dataclass
class Export:
    """One export as the engine reports it."""

    id: str
    model: str
    format: str
    quant: str | None
    status: str  # queued | running | succeeded | failed
    progress: float = 0.0
    stage: str = ""
    bytes: int | None = None
    filename: str | None = None
    files: list[str] = field(default_factory=list)
    seconds: float | None = None
    error: dict | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Export:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")

    @property
    def size(self) -> str:
        return human_size(self.bytes or 0)


def human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def can_export(config: providers.ProviderConfig) -> bool:
    """Whether this provider can give the weights (the local engine, or a server of our engine by URL)."""
    return config.kind not in HOSTED


def no_weights_message(config: providers.ProviderConfig) -> str:
    where = providers.get_provider(config.kind).label or config.kind
    return (f"{where} keeps fine-tuned models on its servers and never hands out their weights, so they cannot be "
            "downloaded. Train the same dataset on the local engine (Train page → Bring home, or `python -m lib "
            "bring-home`) to get a model you can take home and run with llama.cpp or Ollama.")


def _client(config: providers.ProviderConfig):
    if not can_export(config):
        raise errors.NotSupported(no_weights_message(config))
    return providers.make_client(config)


def _call(config: providers.ProviderConfig, method: str, path: str, body: dict | None = None) -> dict:
    import openai

    client = _client(config)
    try:
        if method == "post":
            return client.post(path, cast_to=object, body=body)
        return client.get(path, cast_to=object)
    except openai.NotFoundError as exc:
        if method == "post" and getattr(exc, "code", None) not in ENGINE_NOT_FOUND:  # no such route there
            raise errors.NotSupported("This server does not make exports; only the studio's local engine "
                                      "does.") from None
        raise _refused(exc) from None
    except openai.APIStatusError as exc:
        raise _refused(exc) from None
    except openai.OpenAIError as exc:
        raise errors.translate(exc) from None


def _refused(exc) -> errors.StudioError:
    """The engine's own sentence for what it refused (it names the model or job); else the usual translation."""
    body = exc.body if isinstance(exc.body, dict) else {}
    said = body.get("message") if isinstance(body.get("message"), str) else None
    kind = {400: errors.BadRequest, 404: errors.NotFound, 409: errors.BadRequest}.get(exc.status_code)
    if said and kind:
        return kind(said, status=exc.status_code, code=getattr(exc, "code", None))
    return errors.translate(exc)


def start(config: providers.ProviderConfig, model: str, fmt: str = "gguf", quant: str = "f16") -> Export:
    """Ask the engine to build an export of `model` (a fine-tuned model, checkpoint or job id)."""
    if fmt not in FORMATS:
        raise errors.BadRequest(f"Unknown format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    if quant not in QUANTS:
        raise errors.BadRequest(f"Unknown number format {quant!r}: choose one of {', '.join(QUANTS)}.")
    return Export.from_dict(_call(config, "post", "/exports", {"model": model, "format": fmt, "quant": quant}))


def retrieve(config: providers.ProviderConfig, export_id: str) -> Export:
    return Export.from_dict(_call(config, "get", f"/exports/{export_id}"))


def wait(config: providers.ProviderConfig, export_id: str, *, on_progress: Callable[[Export], None] | None = None,
         timeout: float = 3600, sleep: Callable[[float], None] = time.sleep) -> Export:
    """Poll until the export is built; raises StudioError with the engine's own words when it failed."""
    deadline = time.monotonic() + timeout
    while True:
        current = retrieve(config, export_id)
        if on_progress:
            on_progress(current)
        if current.status == "succeeded":
            return current
        if current.status == "failed":
            message = (current.error or {}).get("message") or "The export failed."
            raise errors.StudioError(message, code=(current.error or {}).get("code"))
        if time.monotonic() > deadline:
            raise errors.Timeout(f"The export was still being built after {timeout:.0f} seconds; it goes on in "
                                 "the engine: try the download again later.")
        sleep(POLL_SECONDS)


def _stream(config: providers.ProviderConfig, exp: Export):
    """The zip's response, body not yet read: the SDK's streamed binary response (as its
    `with_streaming_response` gives), with its auth, retries and errors."""
    import openai

    client = _client(config)
    headers = {"Accept": "application/zip", "X-Stainless-Raw-Response": "stream"}
    try:
        return client.get(f"/exports/{exp.id}/content", cast_to=openai.HttpxBinaryResponseContent,
                          options={"headers": headers})
    except openai.OpenAIError as exc:
        raise errors.translate(exc) from None


def download(config: providers.ProviderConfig, exp: Export, out: Path) -> Path:
    """Save the export's zip at `out` (a folder gets the engine's file name); written whole or not at all."""
    out = Path(out)
    if out.is_dir():
        out = out / (exp.filename or f"{exp.id}.zip")
    partial = out.with_name(out.name + ".part")
    response = _stream(config, exp)
    try:
        with partial.open("wb") as handle:
            for chunk in response.iter_bytes(1024 * 1024):
                handle.write(chunk)
        partial.replace(out)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    except Exception as exc:  # the connection broke in the middle
        partial.unlink(missing_ok=True)
        raise errors.ConnectionFailed(f"The download stopped ({type(exc).__name__}); try again.") from None
    finally:
        response.close()
    return out


def content(config: providers.ProviderConfig, exp: Export) -> bytes:
    """The export's zip in memory (for a browser download button)."""
    response = _stream(config, exp)
    try:
        return response.read()
    except Exception as exc:
        raise errors.ConnectionFailed(f"The download stopped ({type(exc).__name__}); try again.") from None
    finally:
        response.close()
