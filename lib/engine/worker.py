"""A training process, started before it is needed: it imports torch, transformers and TRL (the
slow part, ~5 s), then waits for one line on stdin, the path of a job's config.json, and runs
`lib.engine.training.main` on it. EOF on stdin (the engine stopped) ends it quietly.

It dies with the engine: on Linux through PR_SET_PDEATHSIG, elsewhere through a watchdog thread.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(1.0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _redirect_output(log_path: Path) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)


def main() -> int:
    _die_with_parent(os.getppid())
    from lib.engine import training  # light: the heavy imports are below

    if hasattr(signal, "SIGUSR1"):  # a pause can come while we still import: remember it
        signal.signal(signal.SIGUSR1, training.request_pause)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The slow imports, done while nobody waits.
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    import trl  # noqa: F401
    from trl import DPOTrainer, SFTTrainer  # noqa: F401

    line = sys.stdin.readline().strip()
    if not line:
        return 0
    config_path = Path(line)
    config = training.TrainConfig.load(config_path)
    _redirect_output(Path(config.output_dir) / "train.log")
    return training.main(config)


if __name__ == "__main__":
    sys.exit(main())
