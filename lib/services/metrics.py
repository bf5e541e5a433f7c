"""One training step's metrics, under one set of names from the trainer to the chart.

The names are OpenAI's: a metrics event's `data` and a checkpoint's `metrics` say `train_loss`,
`valid_loss`, `train_mean_token_accuracy`, ...; only the result CSV says `train_accuracy` for the
training accuracy (OpenAI's own column). `StepMetrics` is the record the engine's trainer writes,
the engine's events and result file carry, and `lib.services.job_monitor`, `lib.evaluation.charts` and `lib.evaluation.report` read; the
translation to and from each wire shape lives here and nowhere else.

Plain Python (no torch, no streamlit), so the engine and the app both import it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["METRIC_NAMES", "RESULT_COLUMNS", "StepMetrics"]

# The metric fields (everything but step, total_steps and created_at), in OpenAI's spelling.
METRIC_NAMES = (
    "train_loss",
    "valid_loss",
    "full_valid_loss",
    "train_mean_token_accuracy",
    "valid_mean_token_accuracy",
    "full_valid_mean_token_accuracy",
)
# OpenAI's result file: `step, train_loss, train_accuracy, valid_loss, valid_mean_token_accuracy`.
RESULT_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")
_RESULT_FIELDS = ("step", "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy")
# Other spellings met when reading: OpenAI's result CSV, Azure's result CSV (`validation_mean_token_accuracy`),
# hand-made loss curves (`training_loss`, `validation_loss`) and checkpoints (`step_number`).
_ALIASES: dict[str, tuple[str, ...]] = {
    "step": ("step", "step_number"),
    "train_loss": ("train_loss", "training_loss"),
    "valid_loss": ("valid_loss", "validation_loss"),
    "train_mean_token_accuracy": ("train_mean_token_accuracy", "train_accuracy"),
    "valid_mean_token_accuracy": ("valid_mean_token_accuracy", "validation_mean_token_accuracy"),
}
# The line OpenAI writes with every metrics event, e.g. "Step 85/100: training loss=0.14".
_STEP_MESSAGE = re.compile(
    r"Step\s+(?P<step>\d+)\s*/\s*(?P<total>\d+)\s*:\s*training loss\s*=\s*(?P<train>[-\d.e]+)"
    r"(?:.*?\bvalidation loss\s*=\s*(?P<valid>[-\d.e]+))?"
    r"(?:.*?full validation loss\s*=\s*(?P<full>[-\d.e]+))?",
    re.IGNORECASE,
)


def _number(value: Any) -> float | None:
    """A finite float, or None (empty CSV cells, "nan", booleans and text are no number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


@dataclass(frozen=True)
class StepMetrics:
    """The metrics of one training step; a figure the provider did not report is None."""

    step: int
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    full_valid_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_mean_token_accuracy: float | None = None
    created_at: float | None = None  # when the provider reported it (the event's time), for the ETA

    # -- reading -------------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, values: Any, **extra: Any) -> StepMetrics | None:
        """From event `data`, checkpoint `metrics`, a result-CSV row or a saved record (None without a step)."""
        found: dict[str, Any] = {}
        for f in fields(cls):
            for key in _ALIASES.get(f.name, (f.name,)):
                value = _number(_field(values, key))
                if value is not None:
                    found[f.name] = value
                    break
        if "step" not in found:
            return None
        found["step"] = int(found["step"])
        if found.get("total_steps") is not None:
            found["total_steps"] = int(found["total_steps"])
        return cls(**{**found, **{k: v for k, v in extra.items() if v is not None}})

    @classmethod
    def from_event(cls, event: Any) -> StepMetrics | None:
        """From a fine-tuning event: its `data`, else the "Step 40/100: training loss=0.42" message."""
        created_at = _number(_field(event, "created_at"))
        data = _field(event, "data")
        if isinstance(data, Mapping) and data.get("step") is not None:
            return cls.from_mapping(data, created_at=created_at)
        match = _STEP_MESSAGE.search(_field(event, "message") or "")
        if not match:
            return None
        return cls(step=int(match["step"]), total_steps=int(match["total"]), train_loss=_number(match["train"]),
                   valid_loss=_number(match["valid"]), full_valid_loss=_number(match["full"]),
                   created_at=created_at)

    @classmethod
    def from_any(cls, point: Any) -> StepMetrics | None:
        """From whatever a saved job holds as a curve point: a metrics event, or the figures themselves."""
        if _field(point, "step") is None and _field(point, "step_number") is None:
            return cls.from_event(point)
        return cls.from_mapping(point)

    # -- writing -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field (None included): JSON-safe, for session state and the monitor's rows."""
        return asdict(self)

    def event_data(self) -> dict[str, Any]:
        """A metrics event's `data`, as OpenAI sends it: step, total_steps, the losses and accuracies of
        the step (null when not measured at that step), and the full-validation figures when measured."""
        data: dict[str, Any] = {"step": self.step, "total_steps": self.total_steps}
        data.update({name: getattr(self, name) for name in METRIC_NAMES
                     if not name.startswith("full_") or getattr(self, name) is not None})
        return data

    def event_message(self) -> str:
        """The event's line, as OpenAI writes it: "Step 85/100: training loss=0.14, validation loss=0.27"."""
        message = f"Step {self.step}/{self.total_steps}: training loss={_short(self.train_loss)}"
        if self.valid_loss is not None:
            message += f", validation loss={_short(self.valid_loss)}"
        if self.full_valid_loss is not None:
            message += f", full validation loss={_short(self.full_valid_loss)}"
        return message

    def checkpoint_metrics(self) -> dict[str, float]:
        """A checkpoint's `metrics` object: the step and the figures measured, all floats (OpenAI's schema)."""
        values = {"step": float(self.step)}
        values.update({name: getattr(self, name) for name in METRIC_NAMES if getattr(self, name) is not None})
        return values

    def result_row(self) -> list[str]:
        """One line of the result CSV, in `RESULT_COLUMNS` order; a missing figure is an empty cell."""
        return [str(self.step)] + [_cell(getattr(self, name)) for name in _RESULT_FIELDS[1:]]

    def merged(self, other: StepMetrics) -> StepMetrics:
        """This step's figures with `other`'s (for the same step) filled in where it has them."""
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(other)
                                if getattr(other, f.name) is not None})


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _cell(value: float | None) -> str:
    return "" if value is None else f"{float(value):.6g}"
