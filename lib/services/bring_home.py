"""Bring a hosted fine-tune home before its provider stops it: its data, its recipe, a local model.

OpenAI's fine-tunes of gpt-4o / gpt-4.1 stop answering on 2027-01-14 (lib.services.lifecycle). What makes them
can be carried away: the training and validation files (Files API, `client.files.content`) and the
recipe (epochs, batch size, learning-rate multiplier). This module lists a key's jobs loudest first,
downloads a job's files into a dataset version (the original file ids kept beside it, not inside the
JSONL), maps the recipe onto the local engine's model and launches it there:

    hosted = list_hosted(openai_client)                  # nearest shutdown first
    result = bring_home(openai_client, hosted[0], local_client)
    result.recipe.explain()                              # what changed and why
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from lib.dataprep import dataset as ds
from lib.dataprep import readers
from lib.dataprep.workspace import Workspace
from lib.services import errors, jobs, lifecycle, pricing
from lib.services.sdk_objects import field_of

__all__ = ["HostedFineTune", "Recipe", "BringHomeResult", "FileUnavailable", "list_hosted", "download",
           "map_recipe", "import_dataset", "bring_home", "LOCAL_MAX_BATCH"]

#: The largest batch the local engine takes on a small machine: each step holds the whole batch in memory.
LOCAL_MAX_BATCH = 8


class FileUnavailable(errors.NotFound):
    """A job's training or validation file can no longer be downloaded (deleted, or another project's)."""


@dataclass
class HostedFineTune:
    """One job of the hosted account, with the day its model stops answering."""

    job_id: str
    status: str
    base_model: str
    fine_tuned_model: str | None
    training_file: str
    validation_file: str | None
    n_epochs: int | str
    batch_size: int | str
    learning_rate_multiplier: float | str
    method: str = "supervised"
    suffix: str | None = None
    created_at: int = 0
    stops_on: str | None = None  # ISO date
    days_left: int | None = None
    notice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def label(self) -> str:
        return self.fine_tuned_model or f"{self.base_model} (job {self.job_id}, {self.status})"


def _hosted(job: Any, on: date) -> HostedFineTune:
    method = field_of(job, "method") or {}
    kind = field_of(method, "type") or "supervised"
    hyper = field_of(field_of(method, kind) or {}, "hyperparameters") or field_of(job, "hyperparameters") or {}
    model = field_of(job, "fine_tuned_model")
    base = str(field_of(job, "model") or "")
    when = lifecycle.stops_on(model or base)
    return HostedFineTune(
        job_id=str(field_of(job, "id")), status=str(field_of(job, "status")), base_model=base, fine_tuned_model=model,
        training_file=str(field_of(job, "training_file") or ""), validation_file=field_of(job, "validation_file") or None,
        n_epochs=field_of(hyper, "n_epochs", "auto") or "auto", batch_size=field_of(hyper, "batch_size", "auto") or "auto",
        learning_rate_multiplier=field_of(hyper, "learning_rate_multiplier", "auto") or "auto", method=str(kind),
        suffix=field_of(job, "suffix"), created_at=int(field_of(job, "created_at") or 0),
        stops_on=when.isoformat() if when else None, days_left=(when - on).days if when else None,
        notice=lifecycle.stop_notice(model or base, on),
    )


def list_hosted(client: Any, on: date | None = None) -> builtins.list[HostedFineTune]:
    """The account's fine-tuning jobs, those whose model stops soonest first (still-answering before gone),
    then newest; jobs with no announced date last."""
    on = on or lifecycle.today()
    found = [_hosted(job, on) for job in jobs.list_jobs(client)]

    def loudness(h: HostedFineTune) -> tuple[int, int, int]:
        if h.days_left is None:
            return (2, 0, -h.created_at)
        return (0 if h.days_left >= 0 else 1, abs(h.days_left), -h.created_at)

    return sorted(found, key=loudness)


def download(client: Any, file_id: str, what: str = "training") -> bytes:
    """The bytes of a hosted file; `FileUnavailable` with a plain message when it cannot be fetched."""
    try:
        with errors.translated():
            return client.files.content(file_id).read()
    except errors.NotFound as exc:
        raise FileUnavailable(
            f"The {what} file {file_id} can no longer be downloaded: it was deleted, or it belongs to another "
            "project or key. If you still have the dataset on disk, import it from there instead "
            "(Dataset page → Import, or `python -m lib bring-home JOB --from-file FILE`).",
            status=404, code=exc.code, detail=exc.detail,
        ) from exc


@dataclass
class Recipe:
    """The hosted recipe mapped onto the local engine, with the reason for every setting."""

    model: str
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    method: str = "supervised"
    reasons: builtins.list[str] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        """The `jobs.launch` settings."""
        return {"method": self.method, "n_epochs": self.n_epochs, "batch_size": self.batch_size,
                "learning_rate_multiplier": self.learning_rate_multiplier}

    def explain(self) -> str:
        return "\n".join(f"- {r}" for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def map_recipe(hosted: HostedFineTune, n_train: int, local_model: str = pricing.LOCAL_DEFAULT_MODEL) -> Recipe:
    """Epochs, batch size and learning-rate multiplier of the hosted job, as the local engine should run them.

    Epochs are kept (the same passes over the same examples; "auto" resolved by OpenAI's own rule).
    The batch is kept but capped at LOCAL_MAX_BATCH and at the number of examples. The multiplier is
    kept: it scales each trainer's own base rate, and the engine's LoRA base rate (2e-4) is the usual
    one for adapters on a small model, as OpenAI's base rate is for its models.
    """
    reasons = []
    if isinstance(hosted.n_epochs, int):
        epochs = max(1, min(50, hosted.n_epochs))
        reasons.append(f"Epochs: {epochs}, as the hosted job ran — the same number of passes over the same examples.")
    else:
        epochs = pricing.auto_epochs(n_train)
        reasons.append(f"Epochs: {epochs}: the hosted job said auto, so OpenAI's own rule for {n_train} examples.")
    wanted = hosted.batch_size if isinstance(hosted.batch_size, int) else 1
    batch = max(1, min(wanted, LOCAL_MAX_BATCH, max(1, n_train)))
    if batch == wanted and isinstance(hosted.batch_size, int):
        reasons.append(f"Batch size: {batch}, as the hosted job.")
    elif not isinstance(hosted.batch_size, int):
        reasons.append("Batch size: 1: the hosted job said auto, which OpenAI sets to 1 for small datasets.")
    else:
        reasons.append(f"Batch size: {batch} instead of {wanted}: this computer holds at most {LOCAL_MAX_BATCH} "
                       f"examples in memory per step (and the dataset has {n_train}).")
    lrm = hosted.learning_rate_multiplier
    multiplier = float(lrm) if isinstance(lrm, int | float) and lrm > 0 else 1.0
    reasons.append(
        f"Learning-rate multiplier: {multiplier:g}, kept. It scales each trainer's own base rate; the local "
        "engine trains a small adapter (LoRA: a few extra weights, the model itself untouched) at a base rate "
        "of 0.0002, the usual rate for adapters, as OpenAI's multiplier scaled the rate it picked for its model."
    )
    method = hosted.method if hosted.method in ("supervised", "dpo") else "supervised"
    if method != hosted.method:
        reasons.append(f"Method: supervised: the local engine does not run {hosted.method} fine-tuning.")
    reasons.append(f"Model: {local_model} on this computer instead of {hosted.base_model}: a much smaller open model, "
                   "free and yours to keep; compare the two side by side before relying on it.")
    return Recipe(local_model, epochs, batch, multiplier, method, reasons)


def import_dataset(
    hosted: HostedFineTune, training: bytes, validation: bytes | None = None, *,
    workspace: Workspace | None = None, name: str | None = None,
) -> tuple[ds.Dataset, int]:
    """The downloaded lines as a new dataset version, exactly as they were (validation lines marked as such);
    the job and original file ids are remembered beside the dataset. Returns (dataset, version id)."""
    train = readers.parse(training, "training.jsonl")
    examples, split = list(train.examples), ["train"] * len(train.examples)
    if validation:
        valid = readers.parse(validation, "validation.jsonl")
        examples += valid.examples
        split += ["validation"] * len(valid.examples)
    label = hosted.suffix or tokens_base(hosted.base_model)
    data = ds.Dataset(name=name or f"{label} from {hosted.job_id}", examples=examples, format=train.format,
                      split=split, system_prompt=train.system_prompt)
    wk = workspace or Workspace()
    files = hosted.training_file + (f" and validation file {hosted.validation_file}" if validation else "")
    version = wk.save(data, note=f"Brought home from job {hosted.job_id} (training file {files})")
    wk.remember_origin(data.name, {
        "job_id": hosted.job_id, "training_file": hosted.training_file,
        "validation_file": hosted.validation_file if validation else None,
        "hosted_model": hosted.fine_tuned_model, "base_model": hosted.base_model, "stops_on": hosted.stops_on,
    })
    return data, version.id


def tokens_base(model: str) -> str:
    from lib.dataprep import tokens

    return tokens.base_model(model)


@dataclass
class BringHomeResult:
    hosted: HostedFineTune
    dataset_name: str
    version: int
    recipe: Recipe
    local_job: Any

    @property
    def local_job_id(self) -> str:
        return str(field_of(self.local_job, "id"))


def bring_home(
    source: Any, hosted: HostedFineTune | str, local: Any, *, local_model: str = pricing.LOCAL_DEFAULT_MODEL,
    training: bytes | None = None, workspace: Workspace | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> BringHomeResult:
    """Download the job's files (or use `training`, read from disk), save them as a dataset version,
    and launch the mapped recipe on the local engine (`local`, its client). Raises FileUnavailable."""
    if isinstance(hosted, str):
        hosted = _hosted(jobs.retrieve(source, hosted), lifecycle.today())
    if training is None:
        training = download(source, hosted.training_file, "training")
        validation = download(source, hosted.validation_file, "validation") if hosted.validation_file else None
    else:
        validation = None
    data, version = import_dataset(hosted, training, validation, workspace=workspace)
    recipe = map_recipe(hosted, len(data.train_examples()), local_model)
    train_bytes = ds.to_jsonl(data.train_examples()).encode()
    valid_examples = data.validation_examples()
    job = jobs.launch(
        local, train_bytes, model=recipe.model, progress=progress,
        validation_jsonl_bytes=ds.to_jsonl(valid_examples).encode() if valid_examples else None,
        filename=f"{hosted.job_id}-home.jsonl", suffix="home", **recipe.params(),
    )
    return BringHomeResult(hosted, data.name, version, recipe, job)
