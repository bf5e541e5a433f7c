"""What a finished (or running) job leaves to read: its result CSV, and what its loss curves say.

`lib.services.jobs` starts and steers jobs; this module answers "how did it go?": the result file a
provider serves (sometimes base64-encoded, with OpenAI's or Azure's columns), parsed into numbers, and
a plain-words reading of the curves (still learning, levelled off, or memorising) for the Train page,
the monitor and the report.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import math
import statistics
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lib.services import errors
from lib.services.sdk_objects import field_of

if TYPE_CHECKING:
    import openai

__all__ = ["ResultFile", "decode_result_file", "download_result", "parse_result_csv", "read_curves"]


@dataclass
class ResultFile:
    """A job's result CSV: its text (for a download button) and its rows, numbers parsed."""

    file_id: str
    csv: str
    columns: list[str]
    rows: list[dict[str, float | int | None]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode_result_file(raw: bytes | str) -> str:
    """The CSV text of a result file, which OpenAI sometimes serves base64-encoded."""
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    compact = b"".join(data.split())
    if compact and b"," not in compact and len(compact) % 4 == 0:
        try:
            decoded = base64.b64decode(compact, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pass
        else:
            if "," in decoded or "\n" in decoded:
                return decoded.lstrip("\ufeff")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _number(text: str) -> float | int | None:
    text = (text or "").strip()
    if not text or text.lower() in ("nan", "none", "null"):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse_result_csv(text: str) -> tuple[list[str], list[dict[str, float | int | None]]]:
    """(columns, rows) of a result CSV, whatever its columns (OpenAI's and Azure's differ); empty cells are None."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return [], []
    columns = [h.strip() for h in header]
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        rows.append({name: _number(values[i]) if i < len(values) else None for i, name in enumerate(columns)})
    return columns, rows


def download_result(client: openai.OpenAI, job: Any) -> ResultFile | None:
    """Download and parse the job's result file (None while the job has none)."""
    result_files = field_of(job, "result_files") or []
    if not result_files:
        return None
    file_id = result_files[0] if isinstance(result_files[0], str) else field_of(result_files[0], "id")
    with errors.translated():
        raw = client.files.content(file_id).read()
    text = decode_result_file(raw)
    columns, rows = parse_result_csv(text)
    return ResultFile(file_id, text, columns, rows)


# --- reading the curves -------------------------------------------------------------------------------


def _series(metrics: list[Any], *names: str) -> list[tuple[int, float]]:
    points = []
    for row in metrics:
        step = field_of(row, "step")
        for name in names:
            value = field_of(row, name)
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and step is not None:
                points.append((int(step), float(value)))
                break
    return sorted(points)


def _mean(points: list[tuple[int, float]]) -> float:
    return statistics.fmean(v for _, v in points)


def read_curves(metrics: list[Any], *, n_examples: int | None = None) -> str:
    """What the loss curves say, in plain words: still learning, levelled off, or memorising.

    Reads the validation loss (falling: still learning; flat: little more to gain; rising while the
    training loss falls: memorising). Without validation numbers it says what training loss alone can tell
    and points to the held-out score (`lib.evaluation.scoring`), which every job that succeeds gets.
    """
    train = _series(metrics, "train_loss")
    valid = _series(metrics, "valid_loss")
    if len(valid) < 3:  # some providers report validation only at epoch ends
        valid = _series(metrics, "full_valid_loss")
    if len(train) < 3 and len(valid) < 3:
        return "Too early to tell: the curves need a few more training steps."
    if len(valid) < 3:
        third = max(1, len(train) // 3)
        first, last = _mean(train[:third]), _mean(train[-third:])
        if last < first * 0.9:
            trend = f"Training loss fell from {first:.2f} to {last:.2f}: the model is learning your examples."
        else:
            trend = f"Training loss has stayed around {last:.2f}: the model is not learning much from these examples yet."
        return trend + (
            " Training loss alone cannot say how it does on new questions: the held-out score below does "
            "(questions it did not train on, asked once the job has succeeded)."
        )
    third = max(1, len(valid) // 3)
    v_first = _mean(valid[:third])
    v_recent = _mean(valid[-third:])
    v_before = _mean(valid[-2 * third : -third]) if len(valid) >= 2 * third + 1 else v_first
    best_step, v_best = min(valid, key=lambda p: p[1])
    last_step = valid[-1][0]
    t_recent = _mean(train[-max(1, len(train) // 3) :]) if train else None
    t_at_best = _mean([p for p in train if p[0] <= best_step][-3:] or train[:1]) if train else None
    rising = v_recent > v_best * 1.10 and best_step < last_step
    train_falling = t_recent is not None and t_at_best is not None and t_recent < t_at_best * 0.95
    if rising and train_falling:
        size = f" With only {n_examples} examples that happens quickly." if n_examples and n_examples < 100 else ""
        return (
            f"Validation loss has risen from {v_best:.2f} (step {best_step}) to {v_recent:.2f} while training loss "
            f"kept falling ({t_recent:.2f}): it is memorising: fewer epochs or more examples.{size} "
            f"The checkpoint nearest step {best_step} is probably the better model."
        )
    if rising:
        return (
            f"Validation loss has gone up from {v_best:.2f} (step {best_step}) to {v_recent:.2f}: the model is "
            "getting worse on new questions. Try fewer epochs or a lower learning rate."
        )
    if v_recent < v_before * 0.95 and v_recent < v_first * 0.95:
        return (
            f"Validation loss is still falling ({v_first:.2f} → {v_recent:.2f}): the model is still learning. "
            "More epochs could still help."
        )
    if v_recent < v_first * 0.9:
        return (
            f"Validation loss fell from {v_first:.2f} and has levelled off around {v_recent:.2f}: "
            "more epochs would add little; more, or more varied, examples would help more."
        )
    return (
        f"Validation loss has stayed flat around {v_recent:.2f}: there is little more to gain from training "
        "longer. More, or more varied, examples would help more."
    )
