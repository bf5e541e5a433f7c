"""Take the model home: the engine packs a fine-tuned model (or a checkpoint) into one zip to download.

Formats (`FORMATS`):
- `adapter`: the LoRA adapter as peft saves it (`adapter_config.json`, `adapter_model.safetensors`),
  for `PeftModel.from_pretrained(base, folder)`. A fully fine-tuned model has none: every weight changed.
- `merged`: the adapter folded into the base weights, a plain Hugging Face folder (safetensors, config,
  tokenizer, chat template, generation config) that `AutoModelForCausalLM.from_pretrained` loads alone.
- `gguf`: one file for llama.cpp (and Ollama), written from the merged weights with the `gguf` package:
  f16, q8_0 or f32, with the tokenizer, chat template and the architecture metadata llama.cpp reads.
- `ollama`: the GGUF plus a `Modelfile` (template, system prompt, stop token) and the commands to run it.

The export is made where the weights are, by the engine, one at a time on a worker thread; its state
is a small JSON file beside the zip under `<data dir>/exports/<id>/`, so it survives a restart.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from lib.checks import facts_card
from lib.engine import errors, models
from lib.engine.store import Store, new_id, now

FORMATS = ("adapter", "merged", "gguf", "ollama")
QUANTS = ("f16", "q8_0", "f32")
Format = Literal["adapter", "merged", "gguf", "ollama"]
Quant = Literal["f16", "q8_0", "f32"]
Progress = Callable[[float, str], None]

# llama.cpp names the split rules of a BPE tokenizer ("pre-tokenizer"); SmolLM2's is "smollm".
SMOLLM_PRE = "smollm"
# Architectures whose weights map onto llama.cpp's "llama" graph (Q and K rows reordered for its rope).
LLAMA_TYPES = ("llama", "mistral")


class ExportCreateParams(BaseModel):
    """POST /v1/exports: what to export, and how."""

    model: str = Field(..., description="A fine-tuned model or checkpoint id, or a fine-tuning job id (ftjob-...).")
    format: Format = Field("gguf", description="adapter, merged, gguf or ollama.")
    quant: Quant = Field("f16", description="Number format of the GGUF weights: f16, q8_0 or f32.")


@dataclass(frozen=True)
class Source:
    """What an export reads: the engine's own record of a model."""

    model_id: str
    base_model: str
    kind: str  # "lora" | "full"
    path: Path
    job_id: str | None
    system_prompt: str | None
    facts_card: bool = False  # trained with each element's facts card: ask it the same way


# ---- finding the weights ------------------------------------------------------------------------------
def resolve(store: Store, model_or_job: str) -> Source:
    """The model a user named (a model or checkpoint id, or a job id: its fine-tuned model)."""
    model_id = model_or_job
    if model_or_job.startswith("ftjob-"):
        job = store.get_job(model_or_job)
        if job is None:
            raise errors.NotFound(f"Could not find fine-tuning job {model_or_job}.", param="model",
                                  code="fine_tuning_job_not_found")
        if job["status"] != "succeeded" or not job["fine_tuned_model"]:
            raise errors.Conflict(f"Job {model_or_job} is {job['status']}; only a job that succeeded has a model "
                                  "to export (a checkpoint of it can be exported by its id).", param="model",
                                  code="job_not_succeeded")
        model_id = job["fine_tuned_model"]
    row = store.get_model(model_id)
    if row is None:
        raise errors.NotFound(f"The model '{model_id}' is not a fine-tuned model or checkpoint of this engine; "
                              "only those can be exported.", param="model", code="model_not_found")
    if not Path(row["path"]).exists():
        raise errors.NotFound(f"The files of model '{model_id}' are gone.", param="model", code="model_not_found")
    job = store.get_job(row["job_id"]) if row["job_id"] else None
    metadata = json.loads(job["metadata_json"] or "null") if job else None
    return Source(model_id, row["base_model"], row["kind"], Path(row["path"]), row["job_id"],
                  system_prompt(store, row["job_id"]), facts_card.is_on(metadata if isinstance(metadata, dict) else None))


def system_prompt(store: Store, job_id: str | None) -> str | None:
    """The first system message of the job's training file: the prompt the model was taught to follow, less
    a facts card (that line belongs to one element's questions, not to every question)."""
    job = store.get_job(job_id) if job_id else None
    row = store.get_file(job["training_file"]) if job else None
    if row is None or not Path(row["path"]).is_file():
        return None
    with open(row["path"], encoding="utf-8-sig") as handle:
        for line in handle:
            try:
                example = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(example, dict):
                continue
            messages = example.get("messages") or (example.get("input") or {}).get("messages") or []
            for message in messages:
                if isinstance(message, dict) and message.get("role") in ("system", "developer"):
                    content = message.get("content")
                    if isinstance(content, str) and facts_card.PREFIX in content:
                        content = "\n".join(line for line in content.splitlines()
                                            if not line.startswith(facts_card.PREFIX)).strip()
                    if isinstance(content, str) and content:
                        return content
    return None


def export_name(model_id: str) -> str:
    """A file-system and Ollama friendly name: `ft:SmolLM2-135M-Instruct:local:elle:ab12` -> `smollm2-135m-...`."""
    parts = [p for p in model_id.split(":") if p and p not in ("ft", "local")]
    return re.sub(r"[^a-z0-9._-]+", "-", "-".join(parts).lower()).strip("-.") or "model"


# ---- the merged model ---------------------------------------------------------------------------------
def load_merged(source: Source):
    """(model, tokenizer) with the adapter folded into the base weights, in float32 on the CPU."""
    import torch

    if source.kind == "full":
        return models.load(str(source.path), dtype=torch.float32)
    from peft import PeftModel

    base, tokenizer = models.load(source.base_model, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(source.path)).merge_and_unload()
    model.eval()
    return model, tokenizer


def save_merged(model, tokenizer, folder: Path, source: Source) -> None:
    """A Hugging Face folder that stops where the engine stops: at the end-of-turn token."""
    eos = models.end_of_turn_ids(tokenizer, model)
    model.generation_config.eos_token_id = eos if len(eos) > 1 else eos[0]
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.config.name_or_path = source.model_id
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


# ---- GGUF ---------------------------------------------------------------------------------------------
def _rope_theta(config) -> float:
    params = getattr(config, "rope_parameters", None) or {}
    if params.get("rope_type", "default") not in ("default", None):
        raise errors.BadRequest(f"GGUF export does not handle this model's rope scaling ({params['rope_type']}) "
                                "yet; export the merged model instead.", param="format", code="export_unsupported")
    return float(params.get("rope_theta") or getattr(config, "rope_theta", None) or 10000.0)


def _llama_rope_order(weight, heads: int):
    """llama.cpp rotates neighbouring pairs of a head's dimensions; transformers rotates its two halves.
    Reorder each head's rows from [first half, second half] to interleaved pairs."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _tokenizer_metadata(writer, tokenizer, vocab_size: int, pre: str) -> None:
    import gguf

    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    if backend.get("model", {}).get("type") != "BPE":
        raise errors.BadRequest("GGUF export handles byte-level BPE tokenizers (like SmolLM2's) so far; export the "
                                "merged model instead.", param="format", code="export_unsupported")
    special = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    added = set(tokenizer.added_tokens_decoder)
    known = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
    tokens, types = [], []
    for i in range(vocab_size):
        token = known[i] if i < len(known) else None
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tokens.append(token)
        types.append(gguf.TokenType.CONTROL if i in special else
                     gguf.TokenType.USER_DEFINED if i in added else gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in backend["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for name, token_id in (("bos", tokenizer.bos_token_id), ("eos", tokenizer.eos_token_id),
                           ("unk", tokenizer.unk_token_id), ("pad", tokenizer.pad_token_id)):
        if token_id is not None:
            getattr(writer, f"add_{name}_token_id")(token_id)
    end_of_turn = [i for i in models.end_of_turn_ids(tokenizer) if i != tokenizer.eos_token_id]
    if end_of_turn:
        writer.add_eot_token_id(end_of_turn[0])
    writer.add_add_bos_token(bool(getattr(tokenizer, "add_bos_token", False)))
    writer.add_add_space_prefix(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)


def write_gguf(model, tokenizer, path: Path, quant: str, *, name: str, pre: str,
               progress: Progress | None = None) -> None:
    """Write `model` as a llama-architecture GGUF file llama.cpp, Ollama and transformers can load."""
    import gguf
    import numpy as np
    import torch

    config = model.config
    if config.model_type not in LLAMA_TYPES:
        raise errors.BadRequest(f"GGUF export handles Llama-architecture models (like SmolLM2) so far, not "
                                f"'{config.model_type}'; export the merged model instead.", param="format",
                                code="export_unsupported")
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[quant]
    arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA]
    writer = gguf.GGUFWriter(path, arch)
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_rope_dimension_count(head_dim)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    if head_dim != config.hidden_size // heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _tokenizer_metadata(writer, tokenizer, config.vocab_size, pre)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    state = model.state_dict()
    tied = bool(getattr(config, "tie_word_embeddings", False))
    items = [(k, v) for k, v in state.items() if not (tied and k == "lm_head.weight")]
    for done, (hf_name, tensor) in enumerate(items, 1):
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise errors.BadRequest(f"GGUF export does not know the weight '{hf_name}'; export the merged model "
                                    "instead.", param="format", code="export_unsupported")
        data = tensor.detach().to(torch.float32).cpu().numpy()
        if hf_name.endswith("self_attn.q_proj.weight"):
            data = _llama_rope_order(data, heads)
        elif hf_name.endswith("self_attn.k_proj.weight"):
            data = _llama_rope_order(data, kv_heads)
        if data.ndim == 1 or quant == "f32":  # norms stay float32, as llama.cpp expects
            writer.add_tensor(gguf_name, np.ascontiguousarray(data, dtype=np.float32))
        elif quant == "q8_0" and data.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0:
            packed = gguf.quants.quantize(np.ascontiguousarray(data), gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(gguf_name, packed, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(gguf_name, np.ascontiguousarray(data, dtype=np.float16))
        if progress:
            progress(0.8 * done / len(items), "Converting the weights")
    if progress:
        progress(0.85, "Writing the GGUF file")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def tokenizer_pre(source: Source) -> str:
    """llama.cpp's name for the tokenizer's split rules: the built-in models all use SmolLM2's."""
    return SMOLLM_PRE if models.canonical_id(source.base_model) in models.BUILTIN else "default"


# ---- Ollama -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChatTurn:
    """How the chat template wraps every message: `start + role + middle + content + end`."""

    start: str
    middle: str
    end: str
    default_system: str | None


def chat_turn(tokenizer) -> ChatTurn:
    """Read the wrapping off the model's own chat template by rendering marker messages, then check it
    renders a whole conversation exactly as the template does. Raises BadRequest when it cannot."""
    system, user, reply = "\x01SYSTEM\x01", "\x01USER\x01", "\x01REPLY\x01"

    def render(messages: list[dict], generation: bool = True) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

    unsupported = errors.BadRequest("The Ollama export does not know how to write this model's chat template; "
                                    "export the GGUF file and give Ollama a template yourself.", param="format",
                                    code="export_unsupported")
    if not tokenizer.chat_template:
        raise unsupported
    text = render([{"role": "system", "content": system}, {"role": "user", "content": user}])
    head, _, rest = text.partition(system)
    between, _, after = rest.partition(user)
    if "system" not in head:
        raise unsupported
    cut = head.rfind("system")
    start, middle = head[:cut], head[cut + len("system"):]
    user_head = start + "user" + middle
    if not between.endswith(user_head):
        raise unsupported
    end = between[: -len(user_head)]
    default = None
    alone = render([{"role": "user", "content": user}])
    if not alone.startswith(user_head):
        opening = start + "system" + middle
        if alone.startswith(opening) and end in alone:
            default = alone[len(opening): alone.index(end)]
        else:
            raise unsupported
    turn = ChatTurn(start, middle, end, default)
    conversation = [{"role": "system", "content": system}, {"role": "user", "content": user},
                    {"role": "assistant", "content": reply}, {"role": "user", "content": user}]
    if render(conversation) != render_turns(turn, conversation) or after != end + start + "assistant" + middle:
        raise unsupported
    return turn


def render_turns(turn: ChatTurn, messages: list[dict]) -> str:
    """The prompt text `ollama_template` produces for these messages (its meaning, in Python)."""
    body = "".join(turn.start + m["role"] + turn.middle + m["content"] + turn.end for m in messages)
    return body + turn.start + "assistant" + turn.middle


def ollama_template(turn: ChatTurn) -> str:
    """The chat template in Ollama's Go template syntax (Ollama puts SYSTEM first among the .Messages)."""
    return ("{{ range .Messages }}" + turn.start + "{{ .Role }}" + turn.middle + "{{ .Content }}" + turn.end
            + "{{ end }}" + turn.start + "assistant" + turn.middle)


def _quoted(text: str) -> str:
    return '"""' + text.replace('"""', '\\"\\"\\"') + '"""'


def modelfile(gguf_name: str, turn: ChatTurn, system: str | None, stops: list[str]) -> str:
    """An Ollama Modelfile: the weights, the template, the system prompt and where a reply ends."""
    lines = [f"FROM ./{gguf_name}", f"TEMPLATE {_quoted(ollama_template(turn))}"]
    system = system or turn.default_system  # without one, the template adds its own default: same prompt
    if system:
        lines.append(f"SYSTEM {_quoted(system)}")
    lines += [f'PARAMETER stop "{stop}"' for stop in stops]
    lines.append("PARAMETER temperature 0")
    return "\n".join(lines) + "\n"


def stop_tokens(tokenizer, turn: ChatTurn | None = None) -> list[str]:
    """The text of the tokens that end a reply (the end-of-turn token first)."""
    found: list[str] = []
    if turn and turn.end.strip():
        found.append(turn.end.strip())
    for token_id in models.end_of_turn_ids(tokenizer):
        token = tokenizer.convert_ids_to_tokens(token_id)
        if token and token not in found:
            found.append(token)
    return found


# ---- README -------------------------------------------------------------------------------------------
def readme(fmt: str, name: str, source: Source, files: list[str], quant: str) -> str:
    lines = [f"# {source.model_id}", "",
             f"Exported by Fine-Tune Studio's local engine from {source.model_id} "
             f"(base model {source.base_model}, {'LoRA' if source.kind == 'lora' else 'full'} fine-tuning).", ""]
    if source.facts_card:
        lines += ["It was trained with a facts card: each question's system message ended with one line of the "
                  "element's true facts, and it answers best when asked the same way, for example:", "",
                  f"    {facts_card.card_for('Tell me about Strontium')}", ""]
    if fmt == "adapter":
        lines += ["The LoRA adapter: the small set of weights the fine-tuning changed. Load it on top of the base "
                  "model with peft:", "", "```python",
                  "from peft import PeftModel", "from transformers import AutoModelForCausalLM, AutoTokenizer",
                  f'base = AutoModelForCausalLM.from_pretrained("{source.base_model}")',
                  f'model = PeftModel.from_pretrained(base, "{name}-adapter")',
                  f'tokenizer = AutoTokenizer.from_pretrained("{name}-adapter")', "```"]
    elif fmt == "merged":
        lines += ["The whole model with the fine-tuning folded in: a Hugging Face folder that transformers loads "
                  "on its own (no peft needed):", "", "```python",
                  "from transformers import AutoModelForCausalLM, AutoTokenizer",
                  f'model = AutoModelForCausalLM.from_pretrained("{name}")',
                  f'tokenizer = AutoTokenizer.from_pretrained("{name}")', "```"]
    else:
        gguf_name = next(f for f in files if f.endswith(".gguf"))
        lines += [f"`{gguf_name}` is the whole model in one GGUF file ({quant} weights), the format llama.cpp and "
                  "Ollama run.", "", "With llama.cpp:", "", "```bash",
                  f"llama-cli -m {gguf_name} -cnv"
                  + (f" -sys {shlex.quote(source.system_prompt)}" if source.system_prompt else ""), "```"]
        if fmt == "ollama":
            lines += ["", "With Ollama (the `Modelfile` sets the chat template, the system prompt and the stop "
                      "token):", "", "```bash", f"ollama create {name} -f Modelfile",
                      f'ollama run {name} "Tell me about Strontium"', "```"]
    return "\n".join(lines) + "\n"


# ---- building one export -------------------------------------------------------------------------------
def build(source: Source, fmt: str, quant: str, out_zip: Path, progress: Progress | None = None) -> list[str]:
    """Write the export's zip to `out_zip` (via a temporary file); returns the paths inside it."""
    report = progress or (lambda fraction, stage: None)
    name = export_name(source.model_id)
    if fmt == "adapter" and source.kind != "lora":
        raise errors.BadRequest(no_adapter_message(source.model_id), param="format", code="no_adapter")
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out_zip.parent) as tmp:
        folder = Path(tmp)
        if fmt == "adapter":
            from transformers import AutoTokenizer

            report(0.1, "Copying the adapter")
            target = folder / f"{name}-adapter"
            shutil.copytree(source.path, target)
            config_path = target / "adapter_config.json"
            config = json.loads(config_path.read_text())
            config["base_model_name_or_path"] = models.canonical_id(source.base_model)
            config_path.write_text(json.dumps(config, indent=2) + "\n")
            AutoTokenizer.from_pretrained(models.local_path(source.base_model)).save_pretrained(target)
        else:
            report(0.05, "Loading the model and folding in the fine-tuning")
            model, tokenizer = load_merged(source)
            if fmt == "merged":
                report(0.4, "Writing the merged model")
                save_merged(model, tokenizer, folder / name, source)
            else:
                turn = chat_turn(tokenizer) if fmt == "ollama" else None
                gguf_name = f"{name}-{quant}.gguf"
                write_gguf(model, tokenizer, folder / gguf_name, quant, name=name, pre=tokenizer_pre(source),
                           progress=lambda f, stage: report(0.1 + 0.8 * f, stage))
                if turn is not None:
                    (folder / "Modelfile").write_text(
                        modelfile(gguf_name, turn, source.system_prompt, stop_tokens(tokenizer, turn)))
            del model
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        (folder / "README.md").write_text(readme(fmt, name, source, files, quant))
        files.append("README.md")
        report(0.9, "Packing the zip")
        partial = out_zip.with_suffix(".zip.part")
        with zipfile.ZipFile(partial, "w") as archive:
            for relative in files:
                big = relative.endswith((".safetensors", ".gguf"))  # weights barely compress: store them
                archive.write(folder / relative, relative,
                              compress_type=zipfile.ZIP_STORED if big else zipfile.ZIP_DEFLATED)
        os.replace(partial, out_zip)
    report(1.0, "Ready")
    return files


def no_adapter_message(model_id: str) -> str:
    return (f"{model_id} was fully fine-tuned: every weight changed, so there is no adapter (small set of changed "
            "weights) to export. Export the merged model or the GGUF file instead.")


# ---- the engine's export objects -----------------------------------------------------------------------
class Exports:
    """Export objects under `<data dir>/exports`, built one at a time off the request thread."""

    def __init__(self, store: Store):
        self.store = store
        self.folder = store.data_dir / "exports"
        self.folder.mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._active: set[str] = set()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="engine-export")

    def _record_path(self, export_id: str) -> Path:
        return self.folder / export_id / "export.json"

    def _read(self, export_id: str) -> dict | None:
        if not re.fullmatch(r"export-[A-Za-z0-9]+", export_id):
            return None
        path = self._record_path(export_id)
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        if record["status"] in ("queued", "running") and export_id not in self._active:
            record.update(status="failed", error={"message": "The engine stopped while this export was being "
                                                             "built; start the export again."})
        return record

    def _write(self, record: dict) -> None:
        with self._lock:
            path = self._record_path(record["id"])
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record))
            os.replace(tmp, path)

    def create(self, params: ExportCreateParams) -> dict:
        source = resolve(self.store, params.model)
        if params.format == "adapter" and source.kind != "lora":
            raise errors.BadRequest(no_adapter_message(source.model_id), param="format", code="no_adapter")
        quant = params.quant if params.format in ("gguf", "ollama") else None
        for record in self.list():  # the same export again: hand back the one already built
            if (record["model"], record["format"], record["quant"], record["status"]) == \
                    (source.model_id, params.format, quant, "succeeded") and self._zip(record["id"]).is_file():
                return record
        record = {"id": new_id("export-"), "object": "export", "created_at": now(), "model": source.model_id,
                  "format": params.format, "quant": quant, "status": "queued", "progress": 0.0,
                  "stage": "Waiting to start", "bytes": None, "filename": None, "files": [], "seconds": None,
                  "error": None}
        self._active.add(record["id"])
        self._write(record)
        self._pool.submit(self._run, record, source)
        return dict(record)  # the worker goes on updating its own

    def _zip(self, export_id: str) -> Path:
        return self.folder / export_id / "export.zip"

    def _run(self, record: dict, source: Source) -> None:
        started = time.perf_counter()
        last = [0.0]

        def progress(fraction: float, stage: str) -> None:
            if time.monotonic() - last[0] > 0.25 or fraction >= 1.0:
                last[0] = time.monotonic()
                record.update(status="running", progress=round(fraction, 3), stage=stage)
                self._write(record)

        try:
            progress(0.0, "Starting")
            files = build(source, record["format"], record["quant"] or "f16", self._zip(record["id"]), progress)
            suffix = f"-{record['quant']}" if record["quant"] else ""
            record.update(status="succeeded", progress=1.0, stage="Ready", files=files,
                          bytes=self._zip(record["id"]).stat().st_size, seconds=round(time.perf_counter() - started, 1),
                          filename=f"{export_name(source.model_id)}-{record['format']}{suffix}.zip")
        except errors.EngineError as exc:
            record.update(status="failed", error={"message": exc.message, "code": exc.code})
        except Exception:
            import logging

            logging.getLogger("lib.engine").exception("Export %s failed", record["id"])
            record.update(status="failed", error={"message": "The export failed; the details are in the engine's "
                                                             "log.", "code": None})
        finally:
            self._write(record)
            self._active.discard(record["id"])

    def list(self) -> list[dict]:
        found = [self._read(p.name) for p in self.folder.iterdir() if p.is_dir()]
        return sorted((r for r in found if r), key=lambda r: r["created_at"], reverse=True)

    def retrieve(self, export_id: str) -> dict:
        record = self._read(export_id)
        if record is None:
            raise errors.NotFound(f"No such export: {export_id}", param="export_id", code="export_not_found")
        return record

    def content(self, export_id: str) -> tuple[Path, str]:
        record = self.retrieve(export_id)
        if record["status"] != "succeeded" or not self._zip(export_id).is_file():
            raise errors.Conflict(f"Export {export_id} is {record['status']}; its zip can be downloaded once it "
                                  "has succeeded.", param="export_id", code="export_not_ready")
        return self._zip(export_id), record["filename"]
