"""How many CPU threads torch should use now, for training and for generating alike.

Between two operations torch's threads spin, waiting for each other. On an idle machine that is the
fastest; but when another process wants a core, one spinning thread waits for a sibling that is not
running, and a step or a token takes 10-40x longer. The engine's server generates while training runs
in its own process (and, on a shared machine, beside anything else), so both ask here before they work.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path


def others_running() -> int:
    """Threads of other processes that want a CPU now (Linux; 0 where /proc cannot say): the least of
    a few samples, so a process that only passes by does not count."""
    counts = []
    try:
        for _ in range(3):
            running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
            ours = 0
            for stat in Path("/proc/self/task").glob("*/stat"):
                with contextlib.suppress(OSError):  # a thread that ended meanwhile
                    ours += stat.read_text().rsplit(")", 1)[-1].split()[0] == "R"
            counts.append(running - ours)
            time.sleep(0.002)
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, min(counts))


def threads_for_load(most: int) -> int:
    """torch's CPU threads for the next steps: one per core that no other process is using.

    Between two operations torch's threads spin, waiting for each other. On an idle machine that is
    the fastest (SmolLM2 on 2 cores: 0.45 s a step, against 0.64 s with one thread and 0.8 s with
    threads that sleep instead, OMP_WAIT_POLICY=PASSIVE); but when another process wants a core,
    one spinning thread waits for its sibling that is not running: 5-20 s a step. One thread fewer
    per busy core avoids that; the losses stay the same."""
    return max(1, most - others_running())


class ThreadShare:
    """Keeps torch's thread count at `threads_for_load`, looking again every `every` calls of `adjust`
    (a look reads /proc three times, a few milliseconds)."""

    def __init__(self, every: int = 16):
        self.every = every
        self.calls = 0
        self.most: int | None = None

    def adjust(self, *, now: bool = False) -> None:
        import torch

        if self.most is None:
            self.most = torch.get_num_threads()
        self.calls += 1
        if now or self.calls % self.every == 0:
            threads = threads_for_load(self.most)
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)

    def restore(self) -> None:
        """torch's thread count as it was before the first look, for whatever runs next in this thread."""
        import torch

        if self.most is not None and torch.get_num_threads() != self.most:
            torch.set_num_threads(self.most)
