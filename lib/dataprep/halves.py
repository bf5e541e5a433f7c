"""Per-row work of a large one-off job on two cores: half here, half in a forked child.

`python -m lib check` on 100,000 rows is plain Python over every row (format rules, privacy, the text
copies are compared on, token counts), one core's work while the machine has two. A forked child
inherits the parsed rows without copying them, so only its results travel back (pickled into a
temporary file). Used only where forking is safe and worth it: Linux, a second core this process may use, no
other thread in this process (a fork copies no threads, so a lock another thread held would never be
released in the child), and enough rows. Anything that goes wrong in the child is computed here
instead: the result is the same either way, only the time differs.
"""

from __future__ import annotations

import operator
import os
import pickle
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

AT_LEAST = 20_000  # rows: below this, forking costs more than the second core saves


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_split(n: int) -> bool:
    """Whether `in_two` would use a child for `n` rows here and now."""
    return (n >= AT_LEAST and sys.platform == "linux" and cores() >= 2
            and threading.active_count() == 1 and not os.environ.get("FTS_ONE_CORE"))


def in_two(work: Callable[[int, int], T], n: int, join: Callable[[T, T], T] = operator.add) -> T:
    """`work(0, n)`, as `join(work(0, mid), work(mid, n))` with the second half in a forked child when
    `can_split(n)`. `work(start, stop)` returns a picklable value for its rows (a list by default, joined
    by `+`; columns of plain values cross fastest)."""
    if not can_split(n):
        return work(0, n)
    mid = n // 2
    # The child's answer goes through a temporary file, not a pipe: it writes it whole without waiting for
    # this process to read (76 MB for 50,000 rows crossed a pipe in 0.25 s; a file in the page cache is read
    # back at memory speed). The file is read only after the child has exited.
    try:
        box = tempfile.TemporaryFile(prefix="fts-halves-")  # noqa: SIM115 - closed by the `with` below
    except OSError:  # nowhere to write: everything here
        return work(0, n)
    with box:
        try:
            pid = os.fork()
        except OSError:
            return work(0, n)
        if pid == 0:  # the child: its half, written down, then out without running the parent's exit handlers
            status = 0
            try:
                pickler = pickle.Pickler(box, protocol=pickle.HIGHEST_PROTOCOL)
                pickler.fast = True  # no memo: the results hold no cycles, and 4x quicker to pickle
                pickler.dump(work(mid, n))
                box.flush()
            except BaseException:  # noqa: BLE001 - the parent computes this half itself
                status = 1
            os._exit(status)
        first = work(0, mid)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return join(first, work(mid, n))
        box.seek(0)
        data = box.read()
    try:
        second = pickle.loads(data)
    except Exception:  # noqa: BLE001 - a torn answer: compute it here
        return join(first, work(mid, n))
    return join(first, second)
