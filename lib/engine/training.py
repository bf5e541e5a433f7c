"""One fine-tuning job, run in its own process: TRL's SFTTrainer or DPOTrainer with a LoRA adapter.

The engine's scheduler writes a `TrainConfig` as JSON and hands its path to a worker process
(`lib.engine.worker`), which calls `main(config)`. Run one by hand, e.g. to debug a job:

    python -m lib.engine.training ~/.fine-tune-studio/engine/jobs/ftjob-.../config.json

Progress goes straight to the engine's SQLite database (events, checkpoints, step counts), so the
server only reads it. The outcome is `result.json` (or `error.json`) in the job's folder.
On a multi-GPU machine the same trainer runs under `accelerate launch` (see the README).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lib.engine import cpu, models
from lib.engine import data as engine_data
from lib.engine.store import Store
from lib.services.metrics import StepMetrics

LORA_LEARNING_RATE = 2e-4
FULL_LEARNING_RATE = 2e-5


@dataclass
class TrainConfig:
    """Everything one job needs; written as config.json in the job's folder."""

    job_id: str = field(metadata={"help": "The job's id (ftjob-...)."})
    data_dir: str = field(metadata={"help": "The engine's data folder (database and files)."})
    model: str = field(metadata={"help": "Base model id or path."})
    training_file: str = field(metadata={"help": "Path of the training JSONL."})
    output_dir: str = field(metadata={"help": "The job's folder: checkpoints, final model, logs."})
    fine_tuned_model: str = field(metadata={"help": "Id of the model this job produces (ft:...)."})
    validation_file: str | None = field(default=None, metadata={"help": "Path of the validation JSONL."})
    method: str = field(default="supervised", metadata={"help": "supervised (SFT) or dpo."})
    n_epochs: int = field(default=3, metadata={"help": "Passes over the training data."})
    batch_size: int = field(default=1, metadata={"help": "Examples per optimizer step."})
    learning_rate_multiplier: float = field(default=1.0, metadata={"help": "Scales the base learning rate."})
    beta: float = field(default=0.1, metadata={"help": "DPO's beta."})
    seed: int = field(default=42, metadata={"help": "Seed for data order and adapter initialisation."})
    full: bool = field(default=False, metadata={"help": "Full fine-tuning instead of LoRA."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    max_length: int = field(default=2048, metadata={"help": "Tokens per example; longer ones lose their end."})
    checkpoint_epochs: int = field(default=3, metadata={"help": "Keep a checkpoint for each of the last N epochs."})
    resume_from: str | None = field(default=None, metadata={"help": "A trainer checkpoint to resume (after pause)."})

    def __post_init__(self):
        if self.method not in ("supervised", "dpo"):
            raise ValueError(f"method must be 'supervised' or 'dpo', not {self.method!r}")
        if not 1 <= self.n_epochs <= 50:
            raise ValueError("n_epochs must be between 1 and 50")
        if not 1 <= self.batch_size <= 256:
            raise ValueError("batch_size must be between 1 and 256")
        if self.learning_rate_multiplier <= 0:
            raise ValueError("learning_rate_multiplier must be > 0")

    @property
    def learning_rate(self) -> float:
        return (FULL_LEARNING_RATE if self.full else LORA_LEARNING_RATE) * self.learning_rate_multiplier

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls(**json.loads(Path(path).read_text()))


_pause_requested = False


def is_main_process() -> bool:
    """Rank 0 under `accelerate launch` / torchrun (every process trains; only this one reports and saves)."""
    return int(os.environ.get("RANK", "0")) == 0


def request_pause(signum, frame) -> None:  # SIGUSR1 from the scheduler (a signal handler: the worker sets it too)
    global _pause_requested
    _pause_requested = True


def main(config: TrainConfig) -> int:
    """Train; write result.json (0), error.json (non-zero). Never raises."""
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, request_pause)
    try:
        result = train(config)
    except engine_data.FileProblem as problem:
        _write(out / "error.json", problem.to_error())
        return 2
    except models.ModelUnavailable as exc:
        _write(out / "error.json", {"code": "model_not_available", "message": str(exc), "param": "model"})
        return 2
    except Exception as exc:
        traceback.print_exc()
        message = without_server_paths(f"Training failed: {type(exc).__name__}: {exc}", config.data_dir)
        _write(out / "error.json", {"code": "training_error", "message": message[:2000], "param": None})
        return 1
    if is_main_process():
        _write(out / "result.json", result)
    return 0


def _write(path: Path, value: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def prepare_sft(config: TrainConfig, tokenizer, path: str, param: str) -> tuple[list[dict], int, int]:
    """Tokenized rows, the tokens of one epoch (whole examples, as billed), and how many were skipped."""
    examples, _lines = engine_data.read_jsonl(Path(path), param)
    rows, tokens, skipped = [], 0, 0
    for example in examples:
        row = engine_data.tokenize_chat(example, tokenizer, config.max_length)
        if row is None:
            skipped += 1
            continue
        tokens += min(row.pop("tokens"), config.max_length)
        rows.append(row)
    if not rows:
        raise engine_data.FileProblem(
            f"No example in the {param.replace('_', ' ')} has an assistant message to train on "
            "(all are empty, weight 0, or cut off by the length limit).", "invalid_" + param, param)
    return rows, tokens, skipped


def prepare_dpo(config: TrainConfig, tokenizer, path: str, param: str) -> tuple[list[dict], int, int]:
    examples, _lines = engine_data.read_jsonl(Path(path), param)
    rows = [engine_data.to_preference(example) for example in examples]
    tokens = sum(engine_data.count_tokens_dpo(example, tokenizer) for example in examples)
    return rows, tokens, 0


def train(config: TrainConfig) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import set_seed

    started = time.perf_counter()
    store = Store(Path(config.data_dir))
    out = Path(config.output_dir)
    device, dtype = models.device_and_dtype()
    set_seed(config.seed)
    model, tokenizer = models.load(config.model, dtype=dtype)
    prepare = prepare_dpo if config.method == "dpo" else prepare_sft
    rows, epoch_tokens, skipped = prepare(config, tokenizer, config.training_file, "training_file")
    if skipped and is_main_process():
        store.add_event(config.job_id, f"{skipped} training example(s) had nothing to train on and were skipped.",
                        level="warn")
    eval_rows = None
    if config.validation_file:
        eval_rows, _, _ = prepare(config, tokenizer, config.validation_file, "validation_file")

    steps_per_epoch = math.ceil(len(rows) / config.batch_size)
    total_steps = steps_per_epoch * config.n_epochs
    progress = progress_callback(store, config, total_steps, steps_per_epoch, tokenizer)
    common = _training_arguments(config, device, dtype, total_steps, has_eval=eval_rows is not None)
    peft_config = None if config.full else _lora_config(config)

    if config.method == "dpo":
        from trl import DPOConfig, DPOTrainer

        args = DPOConfig(**common, beta=config.beta, max_length=config.max_length)
        ref_model = None
        if config.full:
            ref_model, _ = models.load(config.model, dtype=dtype)
        trainer = DPOTrainer(
            model=model, ref_model=ref_model, args=args, train_dataset=Dataset.from_list(rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
            processing_class=tokenizer, peft_config=peft_config, callbacks=[progress],
        )
    else:
        from trl import SFTConfig

        # On a CPU several short examples per step go in one row without padding (position ids mark
        # the boundaries; transformers builds a block-diagonal mask from them). On a GPU that mask keeps
        # SDPA off its fused kernels, so a batch is padded to its longest example instead.
        padding_free = config.batch_size > 1 and device == "cpu"
        args = SFTConfig(**common, max_length=None, padding_free=padding_free, packing=False,
                         dataset_kwargs={"skip_prepare_dataset": False})
        trainer = sft_trainer_class(device)(
            model=model, args=args, train_dataset=Dataset.from_list(rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
            processing_class=tokenizer, peft_config=peft_config, callbacks=[progress],
        )
    progress.trainer = trainer
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the logs go to the database, not to stdout
    setup_seconds = time.perf_counter() - started

    train_started = time.perf_counter()
    trainer.train(resume_from_checkpoint=config.resume_from)
    train_seconds = time.perf_counter() - train_started
    progress.flush()

    if progress.abandoned:  # the engine is gone: whatever was trained here belongs to nobody
        return {"status": "abandoned", "step": trainer.state.global_step}
    if progress.paused:
        return {"status": "paused", "step": trainer.state.global_step,
                "checkpoint": _latest_trainer_checkpoint(out)}

    final_dir = out / "model"
    step = trainer.state.global_step
    if trainer.is_world_process_zero():
        _save(trainer, tokenizer, final_dir, config.full)
        progress.checkpoint(step, final_dir)
    trainer.accelerator.wait_for_everyone()
    trained_tokens = epoch_tokens * config.n_epochs
    return {
        "status": "succeeded",
        "model_path": str(final_dir),
        "kind": "full" if config.full else "lora",
        "trained_tokens": trained_tokens,
        "tokens": sum(len(r["input_ids"]) for r in rows) * config.n_epochs if config.method != "dpo"
        else trained_tokens,
        "examples": len(rows) * config.n_epochs,
        "steps": step,
        "train_seconds": train_seconds,
        "setup_seconds": setup_seconds,
        "device": device + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""),
        "final_loss": progress.last_loss,
    }


def sft_trainer_class(device: str):
    """TRL's SFTTrainer with a loss that projects only the trained positions through the LM head.

    TRL's fused LM head scores every position, recomputes the projection in its backward pass and
    works out the entropy of every prediction for its logs: that saves GPU memory on long batches,
    but costs time everywhere (measured on an H100, Qwen2-0.5B shape, 16 x 512 tokens). Most positions
    of a chat example (system prompt, question) carry no label, and on a CPU the LM head is a fifth of
    a small model's work, so projecting only the labelled ones is the faster way to the same loss and
    token accuracy. Several processes (`accelerate launch`) keep TRL's own path, which goes through
    the wrapped model as gradient synchronisation needs.
    """
    from trl import SFTTrainer

    class CompactLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if return_outputs or self.accelerator.num_processes > 1:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            import torch
            import torch.nn.functional as F

            mode = "train" if model.training else "eval"
            labels = inputs["labels"]
            model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
            model_inputs["use_cache"] = False
            causal_lm = self._causal_lm(model)
            hidden = causal_lm.base_model(**model_inputs).last_hidden_state[:, :-1]
            targets = labels[:, 1:]
            mask = targets != -100
            count = mask.sum()
            head = causal_lm.get_output_embeddings()
            if hidden.is_cuda:
                # On a GPU every position goes through the head (the unlabelled ones ignored by the loss):
                # picking the labelled ones would make the host wait for the GPU in the middle of a step.
                logits = head(hidden).float().flatten(0, 1)
                wanted = targets.flatten()
            else:
                logits = head(hidden[mask]).float()
                wanted = targets[mask]
            denominator = num_items_in_batch if num_items_in_batch is not None else count
            loss = F.cross_entropy(logits, wanted, ignore_index=-100, reduction="sum") / \
                torch.as_tensor(denominator).clamp(min=1)
            with torch.no_grad():  # a tensor: read once per logged step (see `log`), not here
                correct = ((logits.argmax(-1) == wanted) & (wanted != -100)).sum()
                self._metrics[mode]["mean_token_accuracy"].append(correct / count.clamp(min=1))
            return loss

        # Per-step costs of the Trainer that are the same at every step, paid once (each walked every
        # module of the model: about 50 ms a step of SmolLM2's 430 on 2 CPU cores).
        _unwrapped: tuple | None = None
        _parameters: int | None = None

        def _causal_lm(self, model):
            if self._unwrapped is None or self._unwrapped[0] is not model:
                causal_lm = self.accelerator.unwrap_model(model)
                if hasattr(causal_lm, "get_base_model"):
                    causal_lm = causal_lm.get_base_model()
                self._unwrapped = (model, causal_lm)
            return self._unwrapped[1]

        def floating_point_ops(self, inputs) -> int:
            if self._parameters is None:
                self._parameters = self.model.num_parameters(exclude_embeddings=True) \
                    if hasattr(self.model, "num_parameters") else 0
            ids = inputs.get("input_ids")
            return 6 * ids.numel() * self._parameters if ids is not None else 0

        def training_step(self, model, *args, **kwargs):
            if not model.training:  # the first step, or the first after an evaluation: the real walk
                return super().training_step(model, *args, **kwargs)
            # Already training (train() and eval() are only ever called on the whole model): the
            # Trainer's model.train() at every step would walk every module again for nothing.
            real_train = type(model).train
            model.__dict__["train"] = lambda mode=True: model if mode else real_train(model, mode)
            try:
                return super().training_step(model, *args, **kwargs)
            finally:
                model.__dict__.pop("train", None)

        def log(self, logs, *args, **kwargs):
            for metrics in self._metrics.values():
                if metrics.get("mean_token_accuracy"):
                    metrics["mean_token_accuracy"] = [float(v) for v in metrics["mean_token_accuracy"]]
            return super().log(logs, *args, **kwargs)

    return CompactLossSFTTrainer


def _training_arguments(config: TrainConfig, device: str, dtype, total_steps: int, has_eval: bool) -> dict:
    import torch

    on_gpu = device == "cuda"
    args: dict[str, Any] = dict(
        output_dir=str(Path(config.output_dir) / "trainer"),
        num_train_epochs=config.n_epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=1,
        learning_rate=config.learning_rate,
        lr_scheduler_type="constant",  # like the reference loop: a decay to 0 leaves ten examples half-learnt
        warmup_steps=0,
        weight_decay=0.0,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=config.seed,
        data_seed=config.seed,
        bf16=on_gpu and dtype == torch.bfloat16,
        fp16=on_gpu and dtype == torch.float16,
        gradient_checkpointing=False,
        dataloader_pin_memory=on_gpu,
        dataloader_num_workers=0,
        use_cpu=device == "cpu",
    )
    if has_eval:
        args.update(eval_strategy="steps", eval_steps=max(1, round(total_steps / 10)))
    return args


def _lora_config(config: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def _save(trainer, tokenizer, folder: Path, full: bool) -> None:
    """The adapter (LoRA) or the whole model (full), written to a temporary folder then renamed."""
    tmp = folder.with_name(folder.name + ".tmp")
    model = trainer.model
    model.save_pretrained(tmp)
    if full:
        tokenizer.save_pretrained(tmp)
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    os.replace(tmp, folder)


def _latest_trainer_checkpoint(out: Path) -> str | None:
    found = sorted((out / "trainer").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def engine_alive() -> bool:
    """False once the engine that started this job (FTS_ENGINE_PID) has died: a job run under a
    launcher is in its own process group, so it is not killed with the engine and must notice."""
    pid = int(os.environ.get("FTS_ENGINE_PID", "0") or 0)
    if not pid:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"  # a zombie is dead too
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def without_server_paths(text: str, data_dir: str | Path) -> str:
    """A message for the job's owner: paths in the engine's data folder relative to it, the home folder
    as ~, so an error does not show how the server's disk is laid out."""
    text = text.replace(str(Path(data_dir)) + os.sep, "")
    home = str(Path.home())
    return text.replace(home + os.sep, "~" + os.sep) if home not in ("", os.sep) else text


def progress_callback(*args, **kwargs):
    """A ProgressCallback that is also a transformers TrainerCallback (imported only in the worker)."""
    from transformers import TrainerCallback

    cls = type("ProgressCallback", (ProgressCallback, TrainerCallback), {})
    return cls(*args, **kwargs)


class ProgressCallback:
    """Turns the trainer's logs into OpenAI-shaped events, checkpoints and progress in the database."""

    def __init__(self, store: Store, config: TrainConfig, total_steps: int, steps_per_epoch: int, tokenizer):
        self.store = store
        self.config = config
        self.total_steps = total_steps
        self.steps_per_epoch = steps_per_epoch
        self.tokenizer = tokenizer
        self.pending: StepMetrics | None = None
        self.trainer = None
        self.started: float | None = None
        self.first_step_at: float | None = None
        self.paused = False
        self.estimate: int | None = None
        self.last_loss: float | None = None
        self.parent = os.getppid()
        self.abandoned = False  # the engine died, or no longer counts this job as running
        self.threads: cpu.ThreadShare | None = None  # torch's CPU threads, kept to the load (None: on a GPU)

    # -- events ---------------------------------------------------------------------------------
    def flush(self) -> None:
        if self.pending is None or not is_main_process():
            self.pending = None
            return
        record, self.pending = self.pending, None
        self.store.record_step(self.config.job_id, record.step, self.total_steps, self.estimate,
                               record.event_message(), record.event_data())

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.time()
        if args.use_cpu:
            self.threads = cpu.ThreadShare(every=5)  # the load changes: look again every 5 steps
        self.total_steps = state.max_steps or self.total_steps
        if state.is_world_process_zero:
            self.store.update_job(self.config.job_id, step=state.global_step, total_steps=self.total_steps)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.flush()
            self.last_loss = float(logs["loss"])
            self.pending = StepMetrics(step=state.global_step, total_steps=self.total_steps,
                                       train_loss=float(logs["loss"]),
                                       train_mean_token_accuracy=_float(logs.get("mean_token_accuracy")))
        elif "eval_loss" in logs:
            if self.pending is None or self.pending.step != state.global_step:
                self.flush()
                self.pending = StepMetrics(step=state.global_step, total_steps=self.total_steps)
            self.pending = replace(self.pending, valid_loss=float(logs["eval_loss"]),
                                   valid_mean_token_accuracy=_float(logs.get("eval_mean_token_accuracy")))
            self.flush()

    def on_step_begin(self, args, state, control, **kwargs):
        if self.threads is not None:
            self.threads.adjust(now=self.threads.calls == 0)  # the first step too

    def on_train_end(self, args, state, control, **kwargs):
        if self.threads is not None:  # as it was, for whatever runs next in this process
            self.threads.restore()

    def on_step_end(self, args, state, control, **kwargs):
        now = time.time()
        if self.first_step_at is None:
            self.first_step_at = now  # the first step warms up: the estimate starts after it
        else:
            done = state.global_step - 1
            per_step = (now - self.first_step_at) / max(1, done)
            self.estimate = int(now + per_step * (self.total_steps - state.global_step))
        if state.global_step == self.total_steps and args.eval_strategy != "no":
            control.should_evaluate = True  # always a validation figure on the last step
        if _pause_requested:
            self.paused = True
            control.should_save = True
            control.should_training_stop = True
        if os.getppid() != self.parent or not engine_alive():  # the engine died: do not train for nobody
            self.abandoned = True
            control.should_training_stop = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        step = state.global_step
        epoch = round(state.epoch or 0)  # also right under several processes, each with a share of the data
        last = self.config.n_epochs
        if step >= self.total_steps or epoch <= last - self.config.checkpoint_epochs or self.paused \
                or self.abandoned or not state.is_world_process_zero:
            return control  # the last epoch's checkpoint is the final model, saved after training
        folder = Path(self.config.output_dir) / "checkpoints" / f"step-{step}"
        folder.parent.mkdir(parents=True, exist_ok=True)
        _save(self.trainer, self.tokenizer, folder, self.config.full)
        self.checkpoint(step, folder)
        return control

    def checkpoint(self, step: int, folder: Path) -> None:
        job = self.store.get_job(self.config.job_id)
        if self.abandoned or not engine_alive() or job is None or job["status"] not in ("running", "paused"):
            self.abandoned = True  # a failed or cancelled job registers no model
            return
        self.flush()
        model_id = f"{self.config.fine_tuned_model}:ckpt-step-{step}"
        metrics = self._metrics_at(step)
        self.store.add_checkpoint(self.config.job_id, step, model_id, metrics, str(folder))
        self.store.add_model(model_id, models.canonical_id(self.config.model), self.config.job_id,
                             "full" if self.config.full else "lora", str(folder), step)
        self.store.add_event(self.config.job_id, f"Checkpoint created at step {step} with Snapshot ID: {model_id}")

    def _metrics_at(self, step: int) -> dict:
        """The checkpoint's metrics: that step's training figures and the latest validation ones."""
        at = StepMetrics(step=step)
        for data in self.store.metrics(self.config.job_id):
            record = StepMetrics.from_mapping(data)
            if record is None or record.step > step:
                break
            at = at.merged(record if record.step == step else StepMetrics(
                step=step, valid_loss=record.valid_loss, valid_mean_token_accuracy=record.valid_mean_token_accuracy))
        return at.checkpoint_metrics()

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m lib.engine.training CONFIG.json", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(TrainConfig.load(Path(sys.argv[1]))))
