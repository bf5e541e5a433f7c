"""Where the user stands in Dataset → Estimate → Train → Playground, and what to do next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["done", "active", "todo", "problem"]
# Material icons, which Streamlit draws with its own font (an emoji needs one on the visitor's machine).
ICONS = {"done": ":material/check_circle:", "active": ":material/hourglass_top:", "todo": ":material/radio_button_unchecked:",
         "problem": ":material/warning:"}
ACTIVE_STATUSES = {"validating_files", "queued", "running", "paused"}


@dataclass(frozen=True)
class Step:
    title: str
    status: Status
    detail: str
    advice: str
    page: str

    @property
    def icon(self) -> str:
        return ICONS[self.status]


def _dataset_step(dataset: Any) -> Step:
    from lib.validation import validate

    page = "views/dataset.py"
    n = len(dataset.examples)
    if n == 0:
        return Step("Dataset", "todo", "No examples yet.", "Start with a dataset: import a file or load the sample.", page)
    report = validate(dataset.train_examples() or dataset.examples, format=dataset.format)
    errors = sum(1 for issue in report.issues if issue.severity == "error")
    if errors:
        return Step(
            "Dataset", "problem", f"{n} examples, {errors} problem{'s' if errors != 1 else ''} to fix.",
            f"Fix the {errors} problem{'s' if errors != 1 else ''} in your dataset before training.", page,
        )
    return Step("Dataset", "done", f"{n} examples, ready to train.", "", page)


def progress(*, dataset: Any, estimated: bool, job: dict | None, latest_model: str | None) -> list[Step]:
    """The four steps with a status each, computed from what the session holds."""
    data_step = _dataset_step(dataset)
    estimate = Step(
        "Estimate", "done" if estimated else "todo",
        "Cost and time checked." if estimated else "Not priced yet.",
        "See what training will cost (or how long it takes on this computer) before you start.",
        "views/estimate.py",
    )
    status = (job or {}).get("status")
    if latest_model or status == "succeeded":
        train = Step("Train", "done", f"Model ready: {latest_model or 'see the Train page'}", "", "views/train.py")
    elif status in ACTIVE_STATUSES:
        train = Step("Train", "active", f"Job {status.replace('_', ' ')}.", "Your job is running: watch it.", "views/train.py")
    elif status in {"failed", "cancelled"}:
        train = Step("Train", "problem", f"The last job {status}.", "See why the last job stopped and launch again.",
                     "views/train.py")
    else:
        train = Step("Train", "todo", "No job yet.", "Launch a fine-tuning job.", "views/train.py")
    play = Step(
        "Playground", "todo" if train.status != "done" else "active",
        "Compare base and fine-tuned side by side.",
        "Compare your fine-tuned model with the base model.", "views/playground.py",
    )
    return [data_step, estimate, train, play]


def next_step(steps: list[Step]) -> Step | None:
    """The first step that is not done (a running job is the step to watch)."""
    for step in steps:
        if step.status != "done":
            return step
    return None
