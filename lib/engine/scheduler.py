"""Jobs move validating_files → queued → running → succeeded | failed | cancelled (and paused).

One thread in the server walks them: it validates new jobs' files, hands the oldest queued job to
a training process (one at a time, kept warm in advance), watches it, and writes the outcome. A
cancel marks the job at once and kills its process; a pause asks the trainer to save a resumable
checkpoint and stop. After a restart, a job that was running is failed with a clear message and
jobs that were waiting go on waiting.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lib.engine import models
from lib.engine.data import FileProblem, validate_file
from lib.engine.store import Store, new_id, now
from lib.engine.training import TrainConfig
from lib.services.metrics import RESULT_COLUMNS, StepMetrics
from lib.services.pricing import auto_epochs

log = logging.getLogger("lib.engine")

ACTIVE = ("validating_files", "queued", "running", "paused")
WAITING = ("validating_files", "queued")
RESTART_MESSAGE = "The engine stopped while this job was running; start it again."
PAUSE_LOST_MESSAGE = ("The engine stopped while this job was pausing, before it had saved a checkpoint to resume "
                      "from; start it again.")
REPO_ROOT = Path(__file__).resolve().parents[2]


def auto_batch_size(n_examples: int) -> int:
    """About 0.2% of the examples, 1 to 256 (OpenAI's 'auto' behaves about so)."""
    return max(1, min(256, round(n_examples * 0.002)))


def fine_tuned_model_id(base: str, suffix: str | None, job_id: str) -> str:
    return f"ft:{models.short_name(base)}:local:{suffix or ''}:{job_id[-8:]}"


@dataclass
class _Running:
    job_id: str
    process: subprocess.Popen
    started: float
    killed_at: float | None = None


class Scheduler:
    def __init__(self, store: Store, *, prewarm: bool = True, log_dir: Path | None = None,
                 launcher: str | None = None):
        self.store = store
        self.launcher = launcher  # e.g. "accelerate launch --num_processes 4": one process per GPU
        self.prewarm = prewarm and not launcher
        self.log_dir = log_dir or store.data_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self.current: _Running | None = None
        self.spare: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        if self.prewarm:
            self._ensure_spare()
        self._thread = threading.Thread(target=self._loop, name="engine-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        with self._lock:
            if self.current is not None:
                self._kill(self.current.process)
                self.current.process.wait(timeout=10)
                job = self.store.get_job(self.current.job_id)
                if job and job["status"] == "running":
                    self._fail(job["id"], {"code": "engine_stopped", "message": RESTART_MESSAGE, "param": None},
                               ("running",))
                self.current = None
            if self.spare is not None:
                self._close_spare()

    def recover(self) -> None:
        """After a restart: running jobs failed (their process, and a launcher's whole group, killed if
        still there), waiting jobs kept, paused jobs kept only with a checkpoint to resume from."""
        for job in self.store.list_jobs(("running",)):
            _kill_leftover(job.get("pid"))
            self._fail(job["id"], {"code": "engine_restarted", "message": RESTART_MESSAGE, "param": None},
                       ("running",))
        for job in self.store.list_jobs(("paused",)):
            self._recover_paused(job)

    def _recover_paused(self, job: dict) -> None:
        """A job paused while it trained: the engine may have died before its checkpoint was saved or
        recorded. Record it if it is there; otherwise resuming would start again from step 1 and count
        its steps twice, so the job fails and says so."""
        options = json.loads(job["options_json"] or "{}")
        if options.get("resume_from") or not job.get("started_at"):
            return  # paused at a checkpoint, or before it ever trained: resume is right as it is
        _kill_leftover(job.get("pid"))
        result = _read_json(self.store.jobs_dir / job["id"] / "result.json")
        if result and result.get("status") == "paused" and self._record_pause(job, result):
            return
        self.store.add_event(job["id"], f"The job failed: {PAUSE_LOST_MESSAGE}", level="error")
        self._fail(job["id"], {"code": "engine_restarted", "message": PAUSE_LOST_MESSAGE, "param": None},
                   ("paused",))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("Scheduler step failed")
            self.wake.wait(0.25)
            self.wake.clear()

    def tick(self) -> None:
        for job in reversed(self.store.list_jobs(("validating_files",))):
            self._validate(job)  # off the lock: reading a large file must not hold up a cancel or a pause
        with self._lock:
            if self.current is not None:
                self._watch()
            if self.current is None:
                queued = self.store.list_jobs(("queued",))
                if queued:
                    self._dispatch(queued[-1])  # oldest first

    # -- requests from the API --------------------------------------------------------------------
    def cancel(self, job_id: str) -> bool:
        with self._lock:
            done = self.store.transition(job_id, ACTIVE, status="cancelled", finished_at=now(),
                                         estimated_finish=None)
            if done:
                self.store.add_event(job_id, "The job was cancelled.")
                if self.current is not None and self.current.job_id == job_id:
                    self._kill(self.current.process)
                    self.current.killed_at = time.time()
            self.wake.set()
            return done

    def pause(self, job_id: str) -> bool:
        with self._lock:
            job = self.store.get_job(job_id)
            if job is None or job["status"] not in ("queued", "running"):
                return False
            self.store.transition(job_id, ("queued", "running"), status="paused", estimated_finish=None)
            if self.current is not None and self.current.job_id == job_id:
                with contextlib.suppress(OSError, AttributeError):
                    if self.launcher:
                        os.killpg(self.current.process.pid, signal.SIGUSR1)
                    else:
                        self.current.process.send_signal(signal.SIGUSR1)
                self.store.add_event(job_id, "Pausing: the job saves a checkpoint at the next step, then stops.")
            else:
                self.store.add_event(job_id, "The job was paused.")
            self.wake.set()
            return True

    def resume(self, job_id: str) -> bool:
        with self._lock:
            done = self.store.transition(job_id, ("paused",), status="queued")
            if done:
                self.store.add_event(job_id, "The job was resumed and is queued.")
            self.wake.set()
            return done

    # -- validation ---------------------------------------------------------------------------------
    def _validate(self, job: dict) -> None:
        method = json.loads(job["method_json"] or "{}").get("type", "supervised")
        try:
            n_examples = 0
            for param in ("training_file", "validation_file"):
                file_id = job[param]
                if not file_id:
                    continue
                row = self.store.get_file(file_id)
                if row is None or not Path(row["path"]).is_file():
                    raise FileProblem(f"The {param.replace('_', ' ')} {file_id} no longer exists.",
                                      "invalid_" + param, param)
                count = validate_file(Path(row["path"]), method, param)
                if param == "training_file":
                    n_examples = count
        except FileProblem as problem:  # unless it was cancelled meanwhile
            if self._fail(job["id"], problem.to_error(), ("validating_files",)):
                self.store.add_event(job["id"], f"The job failed due to an invalid "
                                     f"{problem.param.replace('_', ' ')}: {problem.message}", level="error")
            return
        hyper = json.loads(job["hyperparameters_json"] or "{}")
        if hyper.get("n_epochs", "auto") == "auto":
            hyper["n_epochs"] = auto_epochs(n_examples)
        if hyper.get("batch_size", "auto") == "auto":
            hyper["batch_size"] = auto_batch_size(n_examples)
        if hyper.get("learning_rate_multiplier", "auto") == "auto":
            hyper["learning_rate_multiplier"] = 1.0
        if method == "dpo" and hyper.get("beta", "auto") in ("auto", None):
            hyper["beta"] = 0.1
        method_obj = json.loads(job["method_json"] or "{}")
        method_obj.setdefault(method, {})["hyperparameters"] = {
            k: v for k, v in hyper.items() if k in ("n_epochs", "batch_size", "learning_rate_multiplier", "beta")
        }
        if self.store.transition(job["id"], ("validating_files",), status="queued",
                                 hyperparameters_json=json.dumps(hyper), method_json=json.dumps(method_obj)):
            self.store.add_event(job["id"], "Files validated, moving job to queued state")

    # -- running ------------------------------------------------------------------------------------
    def _spawn_worker(self) -> subprocess.Popen:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        env["FTS_ENGINE_PID"] = str(os.getpid())  # the trainer stops, registering nothing, if the engine dies
        log_file = open(self.log_dir / "worker.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "lib.engine.worker"], stdin=subprocess.PIPE, stdout=log_file,
                stderr=subprocess.STDOUT, cwd=str(REPO_ROOT), env=env,
            )
        finally:
            log_file.close()

    def _ensure_spare(self) -> None:
        if self.spare is None or self.spare.poll() is not None:
            self.spare = self._spawn_worker()

    def _close_spare(self) -> None:
        spare, self.spare = self.spare, None
        if spare is None:
            return
        with contextlib.suppress(OSError):
            spare.kill()  # it holds no state: it has only imported libraries
        with contextlib.suppress(subprocess.TimeoutExpired):
            spare.wait(timeout=5)

    def _dispatch(self, job: dict) -> None:
        job_id = job["id"]
        hyper = json.loads(job["hyperparameters_json"])
        method = json.loads(job["method_json"] or "{}").get("type", "supervised")
        options = json.loads(job["options_json"] or "{}")
        job_dir = self.store.jobs_dir / job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("result.json", "error.json"):
            (job_dir / stale).unlink(missing_ok=True)
        training_path = self.store.get_file(job["training_file"])
        validation = self.store.get_file(job["validation_file"]) if job["validation_file"] else None
        if training_path is None:
            self._fail(job_id, {"code": "invalid_training_file", "param": "training_file",
                                "message": f"The training file {job['training_file']} was deleted."}, ("queued",))
            return
        if options.get("resume_from") and not Path(options["resume_from"]).is_dir():
            message = "The checkpoint this paused job was to resume from is gone; start the job again."
            if self._fail(job_id, {"code": "training_error", "message": message, "param": None}, ("queued",)):
                self.store.add_event(job_id, f"The job failed: {message}", level="error")
            return
        config = TrainConfig(
            job_id=job_id,
            data_dir=str(self.store.data_dir),
            model=job["model"],
            training_file=training_path["path"],
            validation_file=validation["path"] if validation else None,
            output_dir=str(job_dir),
            fine_tuned_model=fine_tuned_model_id(job["model"], job["suffix"], job_id),
            method=method,
            n_epochs=int(hyper["n_epochs"]),
            batch_size=int(hyper["batch_size"]),
            learning_rate_multiplier=float(hyper["learning_rate_multiplier"]),
            beta=float(hyper.get("beta") or 0.1),
            seed=int(job["seed"]),
            full=options.get("training") == "full",
            **({"lora_r": int(options["lora_rank"]), "lora_alpha": 2 * int(options["lora_rank"])}
               if options.get("lora_rank") else {}),
            resume_from=options.get("resume_from"),
        )
        config_path = job_dir / "config.json"
        config.save(config_path)
        if self.launcher:
            self._launch(job_id, config_path, job_dir)
            return
        process = self.spare if self.spare is not None and self.spare.poll() is None else self._spawn_worker()
        self.spare = None
        try:
            process.stdin.write((str(config_path) + "\n").encode())
            process.stdin.close()
        except OSError:  # the spare died: start a fresh one
            process = self._spawn_worker()
            process.stdin.write((str(config_path) + "\n").encode())
            process.stdin.close()
        if not self.store.transition(job_id, ("queued",), status="running", pid=process.pid,
                                     started_at=time.time()):
            self._kill(process)
            return
        self.store.add_event(job_id, "Fine-tuning job started")
        self.current = _Running(job_id, process, time.time())

    def _launch(self, job_id: str, config_path: Path, job_dir: Path) -> None:
        """Run the job under a launcher (accelerate launch / torchrun) in its own process group."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env["FTS_ENGINE_PID"] = str(os.getpid())  # its own group outlives the engine: it must notice
        with open(job_dir / "train.log", "ab") as log_file:
            process = subprocess.Popen([*shlex.split(self.launcher), "-m", "lib.engine.training", str(config_path)],
                                       stdout=log_file, stderr=subprocess.STDOUT, cwd=str(REPO_ROOT), env=env,
                                       start_new_session=True)
        if not self.store.transition(job_id, ("queued",), status="running", pid=process.pid,
                                     started_at=time.time()):
            self._kill(process)
            return
        self.store.add_event(job_id, "Fine-tuning job started")
        self.current = _Running(job_id, process, time.time())

    def _watch(self) -> None:
        running = self.current
        code = running.process.poll()
        if code is None:
            if running.killed_at and time.time() - running.killed_at > 5:
                running.process.kill()
            return
        self.current = None
        try:
            self._finish(running, code)
        finally:
            if self.prewarm and not self._stop.is_set():
                self._ensure_spare()

    def _finish(self, running: _Running, code: int) -> None:
        job_id = running.job_id
        job = self.store.get_job(job_id)
        job_dir = self.store.jobs_dir / job_id
        result = _read_json(job_dir / "result.json")
        if job is None or job["status"] == "cancelled":
            return
        if result and result.get("status") == "paused":
            if not self._record_pause(job, result):
                message = "The job could not save a checkpoint when it paused, so it cannot resume; start it again."
                self.store.add_event(job_id, f"The job failed: {message}", level="error")
                self._fail(job_id, {"code": "training_error", "message": message, "param": None},
                           ("running", "paused"))
            return
        if code == 0 and result and result.get("status") == "succeeded":
            self._succeed(job, result, time.time() - running.started)
            return
        error = _read_json(job_dir / "error.json") or {
            "code": "training_error",
            "message": f"The training process stopped unexpectedly (exit code {code}); its log is "
                       f"{(job_dir / 'train.log').relative_to(self.store.data_dir)} in the engine's data folder.",
            "param": None,
        }
        self.store.add_event(job_id, f"The job failed: {error['message']}", level="error")
        self._fail(job_id, error, ("running", "paused"))

    def _record_pause(self, job: dict, result: dict) -> bool:
        """Keep the checkpoint a paused job resumes from; False when there is none."""
        checkpoint = result.get("checkpoint")
        if not checkpoint or not Path(checkpoint).is_dir():
            return False
        options = json.loads(job["options_json"] or "{}")
        options["resume_from"] = checkpoint
        self.store.update_job(job["id"], options_json=json.dumps(options))
        self.store.add_event(job["id"], f"The job is paused at step {result.get('step')}; resume it to continue.")
        self.store.transition(job["id"], ("running", "paused"), status="paused")
        return True

    def _succeed(self, job: dict, result: dict, wall_seconds: float) -> None:
        job_id = job["id"]
        model_id = fine_tuned_model_id(job["model"], job["suffix"], job_id)
        self.store.add_model(model_id, models.canonical_id(job["model"]), job_id, result["kind"],
                             result["model_path"], None)
        results_file = self._write_results(job_id)
        self.store.add_run(job_id, models.canonical_id(job["model"]), result.get("device", ""),
                           int(result.get("tokens") or 0), int(result.get("examples") or 0),
                           int(result.get("steps") or 0), float(result.get("train_seconds") or 0),
                           max(0.0, wall_seconds - float(result.get("train_seconds") or 0)))
        self.store.add_event(job_id, f"New fine-tuned model created: {model_id}")
        self.store.add_event(job_id, "The job has successfully completed")
        self.store.transition(
            job_id, ("running", "paused"), status="succeeded", fine_tuned_model=model_id, finished_at=now(),
            trained_tokens=int(result.get("trained_tokens") or 0), result_files_json=json.dumps([results_file]),
            estimated_finish=None,
        )
        shutil.rmtree(self.store.jobs_dir / job_id / "trainer", ignore_errors=True)

    def _write_results(self, job_id: str) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(RESULT_COLUMNS)
        for data in self.store.metrics(job_id):
            record = StepMetrics.from_mapping(data)
            if record is not None:
                writer.writerow(record.result_row())
        content = buffer.getvalue().encode()
        file_id = new_id("file-")
        path = self.store.files_dir / file_id
        path.write_bytes(content)
        self.store.add_file(file_id, "step_metrics.csv", "fine-tune-results", len(content), path)
        return file_id

    def _fail(self, job_id: str, error: dict, from_statuses: tuple[str, ...]) -> bool:
        return self.store.transition(job_id, from_statuses, status="failed", error_json=json.dumps(error),
                                     finished_at=now(), estimated_finish=None)

    def _kill(self, process: subprocess.Popen) -> None:
        with contextlib.suppress(OSError):
            if self.launcher:  # the launcher and every rank it started
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _is_our_worker(pid: int) -> bool:
    """A training process of ours: a worker, or a job run under a launcher."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"lib.engine.worker" in command or b"lib.engine.training" in command


def _kill_leftover(pid: int | None) -> None:
    """The training process a dead engine left behind; a launcher's whole process group with it."""
    if not pid or not _is_our_worker(pid):
        return
    with contextlib.suppress(OSError):
        if os.getpgid(pid) == pid:  # started in its own group (a launcher): every rank goes too
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
