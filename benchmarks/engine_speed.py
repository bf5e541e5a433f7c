"""The local engine's speed, against references measured in the same run.

    python benchmarks/engine_speed.py                  # SmolLM2 on this machine (CPU: ~6 min)
    python benchmarks/engine_speed.py --quick          # fewer steps, no end-to-end job
    python benchmarks/engine_speed.py --qwen-shape     # random Qwen2-0.5B shape, bf16, 16 x 512 tokens (GPU)

1. Training throughput on the same model and data (LoRA r=16 on all linear layers, lr 2e-4, AdamW):
   (a) a plain PyTorch loop, (b) a plain TRL script (SFTTrainer on the messages), (c) the engine's
   trainer (`lib.engine.training.train`) at batch 1 and (d) at batch 8 without padding. Trials are
   interleaved and the best of `--repeats` kept, because other processes share this machine.
2. The seed-size job (10 examples, auto epochs = 10, 100 steps) through the HTTP API, from
   `jobs.create` to "succeeded" (target < 60 s on 2 CPU cores), beside the plain loop's time for the same steps.
3. Chat latency through the API: time to first token and tokens per second, base and fine-tuned.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.engine import data as engine_data  # noqa: E402
from lib.engine import models  # noqa: E402

SAMPLE = ROOT / "sample_data" / "elements_limericks.jsonl"
SYSTEM = "Elle is a factual chatbot that answers questions about elements in the periodic table with a limerick"


def seed_examples(n: int = 10) -> list[dict]:
    """The sample limericks (without empty answers); synthetic ones of the same shape if missing."""
    examples = []
    if SAMPLE.exists():
        for line in SAMPLE.read_text().splitlines():
            if line.strip():
                example = json.loads(line)
                if all(m.get("content") for m in example["messages"]):
                    examples.append(example)
    names = ["Hydrogen", "Helium", "Lithium", "Boron", "Carbon", "Nitrogen", "Oxygen", "Neon", "Sodium", "Iron"]
    for name in names:
        if len(examples) >= n:
            break
        reply = (f"{name} is an element, you see, - It is found in the world, wild and free; - It is light, - "
                 f"It is bright, - And it's part of the great chemistry.")
        examples.append({"messages": [{"role": "system", "content": SYSTEM},
                                      {"role": "user", "content": f"Tell me about {name}"},
                                      {"role": "assistant", "content": reply}]})
    return examples[:n]


def lora_config():
    from peft import LoraConfig

    return LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")


# -- the trainers ---------------------------------------------------------------------------------------
def plain_loop(model_path: str, rows: list[dict], steps: int, device: str, dtype) -> dict:
    """(a) The reference: forward, loss on the assistant tokens, backward, AdamW step; batch 1."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device)
    model = get_peft_model(model, lora_config())
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    tokens = 0
    first_loss = last_loss = None
    start = time.perf_counter()
    for step in range(steps):
        row = rows[step % len(rows)]
        ids = torch.tensor([row["input_ids"]], device=device)
        labels = torch.tensor([row["labels"]], device=device)
        with torch.autocast(device, dtype=dtype, enabled=device == "cuda"):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += ids.numel()
        value = loss.item()
        first_loss = value if first_loss is None else first_loss
        last_loss = value
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "tokens": tokens, "examples": steps, "first_loss": first_loss, "last_loss": last_loss}


def trl_script(model_path: str, examples: list[dict], steps: int, device: str, dtype) -> dict:
    """(b) What a user would write with TRL: SFTTrainer on the messages, LoRA, batch 1."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    args = SFTConfig(output_dir=tempfile.mkdtemp(prefix="trl-bench-"), max_steps=steps,
                     per_device_train_batch_size=1, learning_rate=2e-4, logging_steps=10, save_strategy="no",
                     report_to="none", disable_tqdm=True, gradient_checkpointing=False,
                     bf16=device == "cuda" and dtype == torch.bfloat16, use_cpu=device == "cpu",
                     dataloader_pin_memory=device == "cuda")
    dataset = Dataset.from_list([{"messages": e["messages"]} for e in examples])
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config())
    lengths = [len(r["input_ids"]) for r in trainer.train_dataset]
    start = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - start
    tokens = sum(lengths[i % len(lengths)] for i in range(steps))
    return {"seconds": seconds, "tokens": tokens, "examples": steps, "last_loss": output.training_loss}


def engine_trainer(model_id: str, examples: list[dict], epochs: int, batch_size: int) -> dict:
    """(c, d) The engine's own training function, in this process, on a temporary data folder."""
    from lib.engine.training import TrainConfig, train

    folder = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    training_file = folder / "train.jsonl"
    training_file.write_text(engine_data_to_jsonl(examples))
    config = TrainConfig(job_id="ftjob-bench", data_dir=str(folder), model=model_id, training_file=str(training_file),
                         output_dir=str(folder / "job"), fine_tuned_model="ft:bench:local::bench", n_epochs=epochs,
                         batch_size=batch_size, seed=1, checkpoint_epochs=0)  # no job in a database to register
    result = train(config)
    return {"seconds": result["train_seconds"], "tokens": result["tokens"], "examples": result["examples"],
            "last_loss": result["final_loss"]}


def engine_data_to_jsonl(examples: list[dict]) -> str:
    return "".join(json.dumps(e) + "\n" for e in examples)


# -- end to end ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed_job_and_chat(model_id: str, examples: list[dict], warm_seconds: float) -> dict:
    from lib.engine.process import ensure_running

    folder = Path(tempfile.mkdtemp(prefix="engine-e2e-"))
    handle = ensure_running(port=free_port(), data_dir=folder / "data", timeout=120)
    try:
        time.sleep(warm_seconds)  # the engine starts its next training process in advance, as it does for users
        client = handle.client(max_retries=0, timeout=600)
        path = folder / "seed.jsonl"
        path.write_text(engine_data_to_jsonl(examples))
        uploaded = client.files.create(file=path.open("rb"), purpose="fine-tune")
        start = time.perf_counter()
        job = client.fine_tuning.jobs.create(model=model_id, training_file=uploaded.id, seed=1)
        while job.status not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.2)
            job = client.fine_tuning.jobs.retrieve(job.id)
        job_seconds = time.perf_counter() - start
        if job.status != "succeeded":
            raise SystemExit(f"seed job {job.status}: {job.error}")
        metrics = [e.data for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data if e.type == "metrics"]
        metrics.sort(key=lambda d: d["step"])
        chats = {}
        for name, model in (("base", model_id), ("fine-tuned", job.fine_tuned_model)):
            chats[name] = chat_latency(client, model)
        batch = batch_compare(client, [model_id, job.fine_tuned_model])
        return {"batch_compare": batch, "job_seconds": job_seconds, "steps": metrics[-1]["total_steps"], "epochs": job.hyperparameters.n_epochs,
                "loss_start": metrics[0]["train_loss"], "loss_end": metrics[-1]["train_loss"],
                "trained_tokens": job.trained_tokens, "chat": chats}
    finally:
        handle.stop()


def batch_compare(client, models: list[str], n_prompts: int = 11) -> dict:
    """The Playground's "many prompts" comparison: `n_prompts` questions x the models, greedy, 120 tokens at
    most, as the page sends them (several local calls at once, which the engine batches), and the same
    sent one call at a time, the reference measured in the same run."""
    from lib.evaluation import comparison

    prompts = [f"Tell me about {name}" for name in ("Lithium", "Boron", "Nitrogen", "Fluorine", "Magnesium",
                                                     "Aluminum", "Silicon", "Phosphorus", "Sulfur", "Chlorine",
                                                     "Argon", "Potassium", "Calcium")[:n_prompts]]
    contenders = [comparison.Contender(label=m, model=m, client=client, local=True) for m in models]
    figures = {}
    for label, at_once in (("batched", comparison.LOCAL_BATCH), ("one at a time", 1)):
        start = time.perf_counter()
        result = comparison.run_batch(contenders, prompts, system_prompt=SYSTEM, temperature=0.0, max_tokens=120,
                                      seed=1, checks=False, local_concurrency=at_once)
        errors = [r.error for row in result.replies for r in row if r is not None and r.error]
        if errors:
            raise SystemExit(f"batch compare failed: {errors[0]}")
        figures[label] = time.perf_counter() - start
    return {"prompts": len(prompts), "models": len(models), **figures}


def print_batch_compare(batch: dict) -> None:
    print(f"Batch compare, {batch['prompts']} prompts x {batch['models']} models (greedy, 120 tokens at most): "
          f"{batch['batched']:.1f} s as the Playground sends them, {batch['one at a time']:.1f} s one call at "
          f"a time ({batch['batched'] / batch['one at a time']:.2f}x; target <= 60 s on 2 idle cores)")


def chat_latency(client, model: str, repeats: int = 2) -> dict:
    best = None
    for _ in range(repeats + 1):  # the first call loads the model (and adapter): not counted
        start = time.perf_counter()
        first = None
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "system", "content": SYSTEM},
                                   {"role": "user", "content": "Tell me about Strontium"}],
            max_tokens=64, temperature=0, seed=1, stream=True, stream_options={"include_usage": True})
        usage = None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content and first is None:
                first = time.perf_counter() - start
            if chunk.usage:
                usage = chunk.usage
        total = time.perf_counter() - start
        result = {"first_token_s": first, "tokens": usage.completion_tokens,
                  "tokens_per_second": (usage.completion_tokens - 1) / max(1e-6, total - (first or 0))}
        if _ > 0 and (best is None or result["first_token_s"] < best["first_token_s"]):
            best = result
    return best


# -- Qwen2-0.5B shape --------------------------------------------------------------------------------------
def qwen_folder() -> Path:
    """Random weights in Qwen2-0.5B's shape (bf16), saved once per process, with SmolLM2's tokenizer."""
    global _QWEN
    if _QWEN is None:
        import torch
        from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

        config = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                             num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                             tie_word_embeddings=True, rope_theta=1_000_000.0)
        torch.manual_seed(0)
        _QWEN = Path(tempfile.mkdtemp(prefix="qwen-shape-"))
        Qwen2ForCausalLM(config).to(models.device_and_dtype()[1]).save_pretrained(_QWEN)
        AutoTokenizer.from_pretrained(models.local_path(models.TINY_MODEL)).save_pretrained(_QWEN)
    return _QWEN


_QWEN: Path | None = None


def qwen_loop(full: bool, steps: int, batch: int, length: int) -> float:
    """Tokens/s of a plain transformers + peft loop, steps 3 onwards."""
    import torch
    from peft import get_peft_model
    from transformers import Qwen2ForCausalLM

    device, dtype = models.device_and_dtype()
    ids = torch.randint(0, 49152, (batch, length), device=device)
    model = Qwen2ForCausalLM.from_pretrained(qwen_folder(), dtype=dtype).to(device)
    if not full:
        model = get_peft_model(model, lora_config())
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4 if not full else 2e-5)
    timed = 0.0
    for step in range(steps):
        if device == "cuda":
            torch.cuda.synchronize()
        begin = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= 2:
            timed += time.perf_counter() - begin
    del model, optimizer
    if device == "cuda":
        torch.cuda.empty_cache()
    return (steps - 2) * ids.numel() / timed


def qwen_engine(full: bool, steps: int, batch: int, length: int, label: str = "") -> float:
    """Tokens/s of the engine's trainer on the same shape, timed like the loop: steps 3 onwards."""
    import torch

    from lib.engine import training

    device = models.device_and_dtype()[0]
    stamps: list[float] = []
    make_callback = training.progress_callback

    def timed_callback(*args, **kwargs):
        callback = make_callback(*args, **kwargs)
        step_end = callback.on_step_end

        def on_step_end(*a, **k):
            if device == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())
            return step_end(*a, **k)

        callback.on_step_end = on_step_end
        return callback

    text = " ".join(["token"] * (length + 40))
    examples = [{"messages": [{"role": "user", "content": "go"}, {"role": "assistant", "content": text}]}
                for _ in range(batch)]
    data_dir = Path(tempfile.mkdtemp(prefix="qwen-engine-"))
    training_file = data_dir / "train.jsonl"
    training_file.write_text(engine_data_to_jsonl(examples))
    cfg = training.TrainConfig(job_id="ftjob-qwen", data_dir=str(data_dir), model=str(qwen_folder()),
                               training_file=str(training_file), output_dir=str(data_dir / "job"),
                               fine_tuned_model="ft:qwen:local::bench", n_epochs=steps, batch_size=batch,
                               full=full, max_length=length, checkpoint_epochs=0)
    training.progress_callback = timed_callback
    try:
        result = training.train(cfg)
    finally:
        training.progress_callback = make_callback
    per_step = result["tokens"] / result["steps"]
    whole = result["tokens"] / result["train_seconds"]
    timed = per_step * (len(stamps) - 2) / (stamps[-1] - stamps[1])
    print(f"    engine{' ' + label if label else ''}, {'full' if full else 'LoRA'}: {timed:,.0f} tok/s from step 3, "
          f"{whole:,.0f} tok/s over the whole run (first steps included); loss {result['final_loss']:.3f}")
    if device == "cuda":
        torch.cuda.empty_cache()
    return timed


def qwen_shape(steps: int, batch: int, length: int) -> None:
    """LoRA and full fine-tuning on the Qwen2-0.5B shape: plain loop vs engine, interleaved."""
    device, dtype = models.device_and_dtype()
    qwen_folder()
    print(f"Qwen2-0.5B shape, random weights, {dtype} on {device}; batch {batch} x {length} tokens, {steps} steps")
    for full in (False, True):
        kind = "full fine-tuning" if full else "LoRA r=16"
        plain = qwen_loop(full, steps, batch, length)
        ours = qwen_engine(full, steps, batch, length)
        print(f"  {kind:17s} plain loop {plain:10,.0f} tok/s   engine {ours:10,.0f} tok/s   ratio {ours / plain:.2f}")


# -- main -------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=models.DEFAULT_MODEL)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the 10 examples per throughput trial")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved trials per trainer; the best is kept")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 repeat, no end-to-end job")
    parser.add_argument("--skip-job", action="store_true", help="leave out the end-to-end job and chat")
    parser.add_argument("--job-only", action="store_true",
                        help="only the end-to-end job, chat and batch compare (no throughput trials)")
    parser.add_argument("--warm-seconds", type=float, default=10.0, help="pause after starting the engine")
    parser.add_argument("--qwen-shape", action="store_true", help="only the Qwen2-0.5B-shaped GPU benchmark")
    parser.add_argument("--steps", type=int, default=12, help="steps for --qwen-shape")
    parser.add_argument("--length", type=int, default=512, help="tokens per sequence for --qwen-shape")
    parser.add_argument("--batch", type=int, default=16, help="sequences per step for --qwen-shape")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    if args.qwen_shape:
        qwen_shape(args.steps, args.batch, args.length)
        return 0
    if args.quick:
        args.epochs, args.repeats, args.skip_job = 1, 1, True
    if args.job_only:
        e2e = seed_job_and_chat(args.model, seed_examples(10), args.warm_seconds)
        print(f"Seed job: {e2e['job_seconds']:.1f} s ({e2e['steps']} steps).")
        print_batch_compare(e2e["batch_compare"])
        if args.json:
            args.json.write_text(json.dumps(e2e, indent=2, default=str))
        return 0

    import torch
    from transformers import AutoTokenizer

    device, dtype = models.device_and_dtype()
    path = models.local_path(args.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    examples = seed_examples(10)
    rows = [engine_data.tokenize_chat(e, tokenizer) for e in examples]
    steps = len(rows) * args.epochs
    print(f"{args.model} on {device} ({torch.get_num_threads()} threads); {len(rows)} examples of "
          f"{sum(r['tokens'] for r in rows) / len(rows):.0f} tokens on average; {steps} steps per trial")

    trainers = {
        "plain PyTorch loop (batch 1)": lambda: plain_loop(path, rows, steps, device, dtype),
        "plain TRL script (batch 1)": lambda: trl_script(path, examples, steps, device, dtype),
        "engine trainer (batch 1)": lambda: engine_trainer(args.model, examples, args.epochs, 1),
        "engine trainer (batch 8, padding-free)": lambda: engine_trainer(args.model, examples, args.epochs * 8, 8),
    }
    best: dict[str, dict] = {}
    for _ in range(args.repeats):
        for name, run in trainers.items():
            result = run()
            result["tokens_per_second"] = result["tokens"] / result["seconds"]
            result["examples_per_second"] = result["examples"] / result["seconds"]
            if name not in best or result["tokens_per_second"] > best[name]["tokens_per_second"]:
                best[name] = result
    reference = best["plain PyTorch loop (batch 1)"]
    print(f"\n{'trainer':42s} {'tokens/s':>9s} {'examples/s':>11s} {'x loop':>7s}")
    for name, result in best.items():
        ratio = result["tokens_per_second"] / reference["tokens_per_second"]
        print(f"{name:42s} {result['tokens_per_second']:9.1f} {result['examples_per_second']:11.2f} {ratio:7.2f}")
    figures: dict = {"device": device, "throughput": best}

    if not args.skip_job:
        e2e = seed_job_and_chat(args.model, examples, args.warm_seconds)
        figures["seed_job"] = e2e
        verdict = "OK" if e2e["job_seconds"] < 60 else "over the 60 s target"
        print(f"\nSeed job ({len(examples)} examples, auto epochs = {e2e['epochs']}, {e2e['steps']} steps): "
              f"{e2e['job_seconds']:.1f} s from create to succeeded ({verdict}); "
              f"loss {e2e['loss_start']:.2f} -> {e2e['loss_end']:.3f}; {e2e['trained_tokens']} trained tokens")
        loop_seconds = e2e["steps"] / reference["examples_per_second"]  # batch 1: a step is an example
        print(f"Plain PyTorch loop, the same {e2e['steps']} steps at its rate above: {loop_seconds:.1f} s; "
              f"seed job / loop = {e2e['job_seconds'] / loop_seconds:.2f} (model load, saving and polling included)")
        for name, chat in e2e["chat"].items():
            print(f"Chat, {name:10s}: first token {chat['first_token_s'] * 1000:.0f} ms, "
                  f"{chat['tokens_per_second']:.1f} tokens/s ({chat['tokens']} tokens)")
        print_batch_compare(e2e["batch_compare"])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if math.isfinite(reference["tokens_per_second"]) else 1


if __name__ == "__main__":
    sys.exit(main())
