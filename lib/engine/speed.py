"""How long a job will take on this machine: tokens per second of the last jobs, else a calibration.

    python -m lib.engine.speed --model tiny-random-llama      # run (or show) the calibration

The calibration trains a LoRA adapter for a few steps on synthetic ~100-token examples in a
separate process (torch stays out of the caller) and is kept in the data folder per model and
device, so it runs once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lib import paths
from lib.engine import models
from lib.engine.store import Store
from lib.services.pricing import auto_epochs

CALIBRATION_FILE = "calibration.json"
DEFAULT_OVERHEAD_SECONDS = 4.0  # model load, data preparation, saving (the worker is started in advance)


def training_time(model: str = models.DEFAULT_MODEL, tokens: int = 0, examples: int = 0, epochs: int | str = "auto",
             *, data_dir: str | Path | None = None, calibrate: bool = True) -> dict:
    """Seconds a job of `examples` examples with `tokens` tokens per epoch will take, start to finish.

    Returns {"seconds", "tokens_per_second", "basis" ("last N jobs" | "calibration" | "no data"),
    "epochs", "model"}. `basis` says where the speed comes from, so the page can say so.
    """
    store = Store(Path(data_dir) if data_dir else paths.engine_dir())
    model = models.canonical_id(model)
    n_epochs = auto_epochs(examples) if epochs in ("auto", None) else int(epochs)
    runs = store.recent_runs(model, limit=3)
    tokens_per_second: float | None = None
    overhead = DEFAULT_OVERHEAD_SECONDS
    if runs:
        total_tokens = sum(r["tokens"] for r in runs)
        total_seconds = sum(r["seconds"] for r in runs)
        if total_tokens and total_seconds:
            tokens_per_second = total_tokens / total_seconds
            overhead = statistics.median(r["overhead_seconds"] for r in runs)
            basis = f"last {len(runs)} job{'s' if len(runs) > 1 else ''}"
    if tokens_per_second is None:
        measured = calibration(model, store.data_dir, run=calibrate)
        if measured:
            tokens_per_second = measured["tokens_per_second"]
            overhead = measured.get("overhead_seconds", overhead)
            basis = "calibration"
        else:
            return {"seconds": None, "tokens_per_second": None, "basis": "no data", "epochs": n_epochs,
                    "model": model}
    seconds = overhead + tokens * n_epochs / tokens_per_second
    return {"seconds": round(seconds, 1), "tokens_per_second": round(tokens_per_second, 1), "basis": basis,
            "epochs": n_epochs, "model": model}


def _device_key() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda:" + torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"cpu:{os.cpu_count()}"


def calibration(model: str, data_dir: Path, run: bool = True) -> dict | None:
    """The stored calibration for `model`, measured first (in a subprocess) when missing and `run`."""
    path = Path(data_dir) / CALIBRATION_FILE
    stored = _read(path)
    key = models.canonical_id(model)
    if key in stored:
        return stored[key]
    if not run:
        return None
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    try:
        output = subprocess.run([sys.executable, "-m", "lib.engine.speed", "--model", key, "--json"], env=env,
                                capture_output=True, text=True, timeout=600, check=True).stdout
        measured = json.loads(output.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None
    stored = _read(path)
    stored[key] = measured
    path.write_text(json.dumps(stored, indent=2))
    return measured


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def measure(model: str, steps: int = 6, length: int = 96) -> dict:
    """Train a LoRA adapter (r=16, all linear layers) for a few steps; tokens/s over the last ones."""
    import torch
    from peft import LoraConfig, get_peft_model

    start = time.perf_counter()
    device, dtype = models.device_and_dtype()
    base, tokenizer = models.load(model, dtype=dtype)
    base.to(device)
    net = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                          task_type="CAUSAL_LM"))
    load_seconds = time.perf_counter() - start
    text = "There once was an element bright, that glowed in the dark of the night. " * 20
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:length]
    batch = torch.tensor([ids], device=device)
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    net.train()
    timed = 0.0
    for step in range(steps):
        begin = time.perf_counter()
        with torch.autocast(device, dtype=dtype, enabled=device == "cuda"):
            loss = net(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= 2:
            timed += time.perf_counter() - begin
    tokens_per_second = (steps - 2) * len(ids) / timed
    return {"tokens_per_second": round(tokens_per_second, 1), "overhead_seconds": round(load_seconds + 2.0, 1),
            "device": _device_key(), "measured_at": int(time.time())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the engine's training speed on this machine.")
    parser.add_argument("--model", default=models.DEFAULT_MODEL)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args(argv)
    result = measure(args.model)
    print(json.dumps(result) if args.json else f"{args.model}: {result['tokens_per_second']} tokens/s on "
          f"{result['device']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
