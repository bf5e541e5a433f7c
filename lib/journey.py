"""Where the user stands in Dataset → Estimate → Train → Playground, and what to do next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lib.dataprep import check as dataset_check
from lib.dataprep.check import DatasetCheck

Status = Literal["done", "active", "todo", "problem"]
ACTIVE_STATUSES = {"validating_files", "queued", "running", "paused"}


@dataclass(frozen=True)
class Step:
    """One step of the journey; its title names the page that does it (the app maps titles to pages)."""

    title: str
    status: Status
    detail: str
    advice: str


def _dataset_step(dataset: Any, check: DatasetCheck | None = None) -> Step:
    """Ready or not by the one rule the Dataset and Train pages use (`lib.dataprep.check`)."""
    n = len(dataset.examples)
    if n == 0:
        return Step("Dataset", "todo", "No examples yet.", "Start with a dataset: import a file or load the sample.")
    errors = len((check or dataset_check.check(dataset)).blockers)
    if errors:
        return Step(
            "Dataset", "problem", f"{n} examples, {errors} problem{'s' if errors != 1 else ''} to fix.",
            f"Fix the {errors} problem{'s' if errors != 1 else ''} in your dataset before training.",
        )
    return Step("Dataset", "done", f"{n} examples, ready to train.", "")


def progress(*, dataset: Any, estimated: bool, job: dict | None, latest_model: str | None,
             check: DatasetCheck | None = None) -> list[Step]:
    """The four steps with a status each, computed from what the session holds (`check`: the session's
    check of `dataset`, so Home does not check it again)."""
    data_step = _dataset_step(dataset, check)
    estimate = Step(
        "Estimate", "done" if estimated else "todo",
        "Cost and time checked." if estimated else "Not priced yet.",
        "See what training will cost (or how long it takes on this computer) before you start.",
    )
    status = (job or {}).get("status")
    if latest_model or status == "succeeded":
        train = Step("Train", "done", f"Model ready: {latest_model or 'see the Train page'}", "")
    elif status in ACTIVE_STATUSES:
        train = Step("Train", "active", f"Job {status.replace('_', ' ')}.", "Your job is running: watch it.")
    elif status in {"failed", "cancelled"}:
        train = Step("Train", "problem", f"The last job {status}.", "See why the last job stopped and launch again.")
    else:
        train = Step("Train", "todo", "No job yet.", "Launch a fine-tuning job.")
    play = Step(
        "Playground", "todo" if train.status != "done" else "active",
        "Compare base and fine-tuned side by side.",
        "Compare your fine-tuned model with the base model.",
    )
    return [data_step, estimate, train, play]


def next_step(steps: list[Step]) -> Step | None:
    """The first step that is not done (a running job is the step to watch)."""
    for step in steps:
        if step.status != "done":
            return step
    return None
