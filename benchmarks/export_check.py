"""Export a fine-tuned SmolLM2 in every format and check each with the runtime that loads it.

    python benchmarks/export_check.py                     # trains SmolLM2 on the sample data first (~3 min)
    python benchmarks/export_check.py --job ftjob-...  --base-url http://127.0.0.1:8765/v1 --api-key KEY
    PYTHONPATH=/tmp/llamapkgs python benchmarks/export_check.py   # with llama-cpp-python installed there

1. The engine's own greedy replies to the held-out prompts, and its chat speed (tokens/s).
2. Each export (adapter, merged, GGUF f16 and q8_0, Ollama): time to build and zip size.
3. The merged folder through transformers alone, the f16 and q8_0 GGUF through transformers' GGUF
   loader: the same greedy replies? (and the f16 logits' largest difference from the merged model).
4. llama.cpp (llama-cpp-python, built from source; skipped when not importable): "Tell me about
   Strontium" from the f16 and q8_0 GGUF against the engine's reply, and its tokens/s.
Exit 1 when a reply that should match does not.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.engine.models import DEFAULT_MODEL  # noqa: E402
from lib.services import export, providers  # noqa: E402

SAMPLE = ROOT / "sample_data"
MAX_TOKENS = 80


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", help="A succeeded job (default: train one on the sample data).")
    parser.add_argument("--base-url", help="An engine already running (default: start one in a temporary folder).")
    parser.add_argument("--api-key", help="Its key.")
    parser.add_argument("--prompts", type=int, default=3, help="Held-out prompts to compare (default 3).")
    parser.add_argument("--epochs", type=int, help="Epochs for the training (default: auto).")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the engine it started is stopped too
    handle = None
    if not args.base_url:
        from lib.engine.process import ensure_running
        from tests.plugins.engine import free_port

        handle = ensure_running(port=free_port(), data_dir=Path(tempfile.mkdtemp(prefix="export-check-")),
                                api_key="bench", timeout=120)
        args.base_url, args.api_key = handle.base_url, "bench"
    try:
        return check(args)
    finally:
        if handle is not None:
            handle.stop()


def train(client, epochs: int | None) -> str:
    rows = [json.loads(line) for line in (SAMPLE / "elements_limericks.jsonl").read_text().splitlines() if line]
    rows = [r for r in rows if all(m["content"].strip() for m in r["messages"])]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in rows))
    with open(handle.name, "rb") as data:
        training = client.files.create(file=data, purpose="fine-tune")
    hyper = {"n_epochs": epochs} if epochs else {}
    job = client.fine_tuning.jobs.create(model=DEFAULT_MODEL, training_file=training.id, seed=0, suffix="elle",
                                         method={"type": "supervised", "supervised": {"hyperparameters": hyper}})
    started = time.perf_counter()
    while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
        time.sleep(2)
    print(f"trained {job.id}: {job.status} in {time.perf_counter() - started:.0f} s")
    if job.status != "succeeded":
        raise SystemExit(f"training {job.status}: {job.error}")
    return job.id


def check(args: argparse.Namespace) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = providers.config_from_env("local", base_url=args.base_url, api_key=args.api_key)
    client = providers.make_client(config)
    job_id = args.job or train(client, args.epochs)
    job = client.fine_tuning.jobs.retrieve(job_id)
    system = (json.loads((SAMPLE / "elements_limericks.jsonl").read_text().splitlines()[0])["messages"][0]
              ["content"])
    prompts = [json.loads(line)["prompt"] for line in (SAMPLE / "held_out_prompts.jsonl").read_text().splitlines()
               if line][: args.prompts]
    chats = [[{"role": "system", "content": system}, {"role": "user", "content": p}] for p in prompts]

    client.chat.completions.create(model=job.fine_tuned_model, messages=chats[0], max_tokens=1)  # loads the model
    engine_replies, tokens, seconds = [], 0, 0.0
    for messages in chats:
        started = time.perf_counter()
        reply = client.chat.completions.create(model=job.fine_tuned_model, messages=messages, temperature=0,
                                               max_tokens=MAX_TOKENS)
        seconds += time.perf_counter() - started
        tokens += reply.usage.completion_tokens
        engine_replies.append(reply.choices[0].message.content)
    print(f"engine chat: {tokens / seconds:.1f} tokens/s (model loaded; incl. HTTP and the prompt), reply 1: {engine_replies[0]!r}")

    out = Path(tempfile.mkdtemp(prefix="exports-"))
    folders: dict[str, Path] = {}
    print(f"\n{'export':<14}{'seconds':>9}{'size':>12}")
    for fmt, quant in (("adapter", "f16"), ("merged", "f16"), ("gguf", "f16"), ("gguf", "q8_0"), ("ollama", "f16")):
        started = time.perf_counter()
        done = export.wait(config, export.start(config, job_id, fmt, quant).id, sleep=lambda s: time.sleep(0.2))
        elapsed = time.perf_counter() - started
        path = export.download(config, done, out)
        label = f"{fmt} {quant}" if fmt in export.WITH_QUANT else fmt
        print(f"{label:<14}{elapsed:>9.1f}{done.size:>12}")
        folders[label] = out / label.replace(" ", "-")
        zipfile.ZipFile(path).extractall(folders[label])

    def greedy(model, tokenizer, messages) -> tuple[str, torch.Tensor]:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)["input_ids"]
        with torch.no_grad():
            logits = model(ids).logits[0, -1]
            new = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=MAX_TOKENS,
                                 do_sample=False)[0, ids.shape[1]:]
        return tokenizer.decode(new, skip_special_tokens=True), logits

    failures = 0
    merged_dir = next(p.parent for p in folders["merged"].rglob("config.json"))
    reference = None
    for label in ("merged", "gguf f16", "gguf q8_0"):
        if label == "merged":
            model = AutoModelForCausalLM.from_pretrained(merged_dir)
            tokenizer = AutoTokenizer.from_pretrained(merged_dir)
        else:
            name = next(p.name for p in folders[label].iterdir() if p.suffix == ".gguf")
            model = AutoModelForCausalLM.from_pretrained(folders[label], gguf_file=name)
            tokenizer = AutoTokenizer.from_pretrained(folders[label], gguf_file=name)
        same, first_logits = 0, None
        for i, messages in enumerate(chats):
            reply, logits = greedy(model, tokenizer, messages)
            same += reply == engine_replies[i]
            first_logits = logits if first_logits is None else first_logits
            if reply != engine_replies[i]:
                print(f"  {label} differs on {prompts[i]!r}: {reply!r}")
        if label == "merged":
            reference = first_logits
        gap = (first_logits - reference).abs().max().item()
        print(f"transformers {label}: {same}/{len(chats)} replies as the engine's; largest logit difference from "
              f"merged {gap:.4f}")
        failures += label != "gguf q8_0" and same != len(chats)

    if importlib.util.find_spec("llama_cpp") is None:
        print("\nllama.cpp: llama-cpp-python is not installed; skipped")
        return 1 if failures else 0
    from llama_cpp import Llama

    prompt = AutoTokenizer.from_pretrained(merged_dir).apply_chat_template(chats[0], tokenize=False,
                                                                            add_generation_prompt=True)
    for label in ("gguf f16", "gguf q8_0"):
        path = next(p for p in folders[label].iterdir() if p.suffix == ".gguf")
        llm = Llama(model_path=str(path), n_ctx=1024, n_threads=2, verbose=False, seed=0)
        started = time.perf_counter()
        result = llm.create_completion(prompt, max_tokens=MAX_TOKENS, temperature=0.0, top_k=1,
                                       stop=["<|im_end|>"])
        elapsed = time.perf_counter() - started
        text = result["choices"][0]["text"]
        made = result["usage"]["completion_tokens"]
        llm.close()
        words = engine_replies[0].split()
        first = sum(1 for a, b in zip(text.split(), words, strict=False) if a == b)
        print(f"llama.cpp {label}: {made / elapsed:.1f} tokens/s; same reply as the engine: "
              f"{text == engine_replies[0]}; first {first} of {len(words)} words the same\n  {text!r}")
        failures += label == "gguf f16" and text != engine_replies[0]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
