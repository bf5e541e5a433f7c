"""Try several settings on one dataset, score every model on the same held-out prompts, rank them.

A user cannot guess whether 3 or 10 epochs, or a bigger adapter, writes better limericks; the sweep
measures it. The runs are ordinary fine-tuning jobs (the engine trains them one after the other),
each scored by `lib.evaluation.scoring` when it succeeds; the sweep is kept in the workspace so the Train page
can follow it after a refresh, and the ranked table says which model to keep.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib import paths
from lib.checks import facts_card
from lib.dataprep.dataset import Dataset, to_jsonl
from lib.dataprep.workspace import atomic_write_text
from lib.evaluation import scoring
from lib.services import jobs, pricing, recipe

MAX_RUNS = 12
"""A sweep is a handful of runs: each is a whole training job."""
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass(frozen=True)
class Setting:
    """One point of the grid: what differs between the runs."""

    n_epochs: int | str = "auto"
    learning_rate_multiplier: float | str = "auto"
    adapter: int | str | None = None
    """Local engine only: a LoRA rank (the size of the small set of weights trained), "full" to train
    every weight, or None for the engine's default."""

    def label(self) -> str:
        parts = [f"{self.n_epochs} epochs" if self.n_epochs != "auto" else "auto epochs",
                 f"learning rate ×{self.learning_rate_multiplier:g}" if self.learning_rate_multiplier != "auto"
                 else "auto learning rate"]
        if self.adapter == "full":
            parts.append("every weight")
        elif self.adapter is not None:
            parts.append(f"adapter rank {self.adapter}")
        return " · ".join(parts)

    def job_params(self) -> dict[str, Any]:
        """Keyword arguments for `jobs.create` (the adapter travels as engine metadata)."""
        params: dict[str, Any] = {"n_epochs": self.n_epochs, "learning_rate_multiplier": self.learning_rate_multiplier}
        if self.adapter == "full":
            params["metadata"] = {"training": "full"}
        elif self.adapter is not None:
            params["metadata"] = {"training": "lora", "lora_rank": str(int(self.adapter))}
        return params


def _epochs(value: Any) -> int | str:
    if value == "auto":
        return value
    number = int(value)
    if not 1 <= number <= jobs.N_EPOCHS_RANGE[1]:
        raise ValueError(f"Epochs must be from 1 to {jobs.N_EPOCHS_RANGE[1]} (not {value}).")
    return number


def _rate(value: Any) -> float | str:
    if value == "auto":
        return value
    number = float(value)
    if not number > 0:
        raise ValueError(f"A learning-rate multiplier must be above 0 (not {value}).")
    return number


def _adapter(value: Any) -> int | str | None:
    if value is None or value == "full":
        return value
    number = int(value)
    if not 1 <= number <= 256:
        raise ValueError(f"An adapter rank must be from 1 to 256 (not {value}).")
    return number


def grid(epochs: Sequence[Any] = ("auto",), learning_rate_multipliers: Sequence[Any] = ("auto",),
         adapters: Sequence[Any] = (None,)) -> list[Setting]:
    """Every combination, in the order given; refuses a grid too large to train in one sitting."""
    values = ([_epochs(e) for e in epochs or ["auto"]], [_rate(r) for r in learning_rate_multipliers or ["auto"]],
              [_adapter(a) for a in adapters or [None]])
    settings = list(dict.fromkeys(Setting(e, r, a) for e, r, a in itertools.product(*values)))
    if len(settings) > MAX_RUNS:
        raise ValueError(f"That grid has {len(settings)} runs; choose at most {MAX_RUNS}.")
    return settings


def with_recipe(settings: Sequence[Setting], provider_kind: str, n_examples: int) -> list[Setting]:
    """`settings` with "auto" read as the Train page reads it: on the local engine, the studio's measured
    recipe (`lib.services.recipe`); elsewhere unchanged. A setting that becomes another is one run."""
    out = []
    for s in settings:
        if recipe.applies(provider_kind, adapter=s.adapter):
            n_epochs, rate = recipe.resolve(s.n_epochs, s.learning_rate_multiplier, n_examples)
            s = dataclasses.replace(s, n_epochs=n_epochs, learning_rate_multiplier=rate)
        out.append(s)
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- what it will take


@dataclass
class Plan:
    """What the sweep will cost before it runs: per run and in all."""

    settings: list[Setting]
    seconds: list[float | None] = field(default_factory=list)
    dollars: list[float | None] = field(default_factory=list)

    @property
    def total_seconds(self) -> float | None:
        return None if not self.seconds or None in self.seconds else float(sum(self.seconds))  # type: ignore[arg-type]

    @property
    def total_dollars(self) -> float | None:
        return None if not self.dollars or None in self.dollars else float(sum(self.dollars))  # type: ignore[arg-type]


def plan(config: Any, data: Dataset, model: str, settings: Sequence[Setting], *, client: Any = None) -> Plan:
    """Time (the engine's own estimate, for the machine that will train) or price (the price table) of each run."""
    from lib.services import providers

    result = Plan(list(settings))
    for setting in settings:
        est = pricing.estimate(data.train_examples(), model, setting.n_epochs)
        if config.kind == "local":
            try:
                guess = providers.training_time(config, model=model, tokens=est.billed_tokens, examples=est.examples,
                                                epochs=est.epochs, client=client)
                seconds = guess.get("seconds")
            except Exception:  # an engine that cannot say: the total is unknown, not an error
                seconds = None
            if seconds is not None and setting.adapter == "full":
                seconds *= 1.3  # every weight moves: a little slower than an adapter on a 135M model
            result.seconds.append(seconds)
            result.dollars.append(0.0)
        else:
            result.seconds.append(None)
            result.dollars.append(est.cost_usd)
    return result


# --------------------------------------------------------------------------- the runs


@dataclass
class Run:
    setting: Setting
    job_id: str | None = None
    status: str = "not started"
    fine_tuned_model: str | None = None
    error: str | None = None
    score: scoring.ModelScore | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"setting": {"n_epochs": self.setting.n_epochs,
                            "learning_rate_multiplier": self.setting.learning_rate_multiplier,
                            "adapter": self.setting.adapter},
                "job_id": self.job_id, "status": self.status, "fine_tuned_model": self.fine_tuned_model,
                "error": self.error, "score": self.score.to_dict() if self.score else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(setting=Setting(**data["setting"]), job_id=data.get("job_id"), status=data.get("status") or "",
                   fine_tuned_model=data.get("fine_tuned_model"), error=data.get("error"),
                   score=scoring.ModelScore.from_dict(data["score"]) if data.get("score") else None)


@dataclass
class Sweep:
    id: str
    model: str
    provider: str
    dataset: str
    prompts: list[str]
    runs: list[Run]
    base: scoring.ModelScore | None = None
    created_at: float = field(default_factory=time.time)
    facts_card: bool = False  # the rows carried their element's facts card, so the models are asked with it

    @property
    def done(self) -> bool:
        return all(r.status in TERMINAL and (r.status != "succeeded" or r.score is not None) for r in self.runs)

    def ranked(self) -> list[Run]:
        """Scored runs best first, then the rest in grid order."""
        scored = sorted((r for r in self.runs if r.score is not None), key=lambda r: -r.score.points)
        return scored + [r for r in self.runs if r.score is None]

    def best(self) -> Run | None:
        ranked = self.ranked()
        return ranked[0] if ranked and ranked[0].score is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "provider": self.provider, "dataset": self.dataset,
                "prompts": self.prompts, "runs": [r.to_dict() for r in self.runs],
                "base": self.base.to_dict() if self.base else None, "created_at": self.created_at,
                "facts_card": self.facts_card}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sweep:
        return cls(id=data["id"], model=data["model"], provider=data["provider"], dataset=data["dataset"],
                   prompts=list(data["prompts"]), runs=[Run.from_dict(r) for r in data["runs"]],
                   base=scoring.ModelScore.from_dict(data["base"]) if data.get("base") else None,
                   created_at=float(data.get("created_at") or 0), facts_card=bool(data.get("facts_card")))


def start(client: Any, data: Dataset, model: str, settings: Sequence[Setting], *, provider: str,
          prompts: Sequence[str] | None = None, progress: Callable[[float, str], None] | None = None,
          with_facts_card: bool = False) -> Sweep:
    """Upload the training rows once (with their facts cards when asked) and queue one job per setting (the
    engine runs them in turn)."""
    if not settings:
        raise ValueError("Choose at least one setting to try.")
    for setting in settings:  # every setting checked before anything is uploaded
        jobs.check_params(**{k: v for k, v in setting.job_params().items() if k != "metadata"})
    prompts = list(prompts) if prompts else scoring.held_out_prompts(data)
    sweep_id = "sweep-" + secrets.token_hex(6)
    rows = facts_card.add_to_rows(data.train_examples()) if with_facts_card else data.train_examples()
    file = jobs.upload(client, to_jsonl(rows).encode("utf-8"), f"{data.name or 'dataset'}.jsonl",
                       progress=(lambda f, t: progress(0.5 * f, t)) if progress else None)
    runs = []
    for i, setting in enumerate(settings):
        params = setting.job_params()
        params["metadata"] = {**params.get("metadata", {}), "sweep": sweep_id, "dataset": str(data.name)[:64]}
        if with_facts_card:
            params["metadata"][facts_card.METADATA_KEY] = "on"
        try:
            job = jobs.create(client, model, file.id, suffix=f"sweep{i + 1}", **params)
            runs.append(Run(setting, job_id=job.id, status=job.status))
        except Exception as exc:  # a run the service refuses is shown as failed; the others go on
            from lib.services.errors import translate

            runs.append(Run(setting, status="failed", error=translate(exc).message))
        if progress:
            progress(0.5 + 0.5 * (i + 1) / len(settings), f"Queued {i + 1} of {len(settings)} runs")
    return Sweep(id=sweep_id, model=model, provider=provider, dataset=str(data.name), prompts=prompts, runs=runs,
                 facts_card=with_facts_card)


def advance(sweep: Sweep, config: Any, *, client: Any = None, score: bool = True,
            progress: Callable[[int, int], None] | None = None) -> Sweep:
    """Poll every unfinished run; score each run that has succeeded (and the base model, once)."""
    from lib.services.providers import make_client

    client = client or make_client(config)
    for run in sweep.runs:
        if run.job_id and run.status not in TERMINAL:
            job = jobs.retrieve(client, run.job_id)
            run.status = job.status
            run.fine_tuned_model = job.fine_tuned_model
            if job.error and getattr(job.error, "message", None):
                run.error = job.error.message
    if not score:
        return sweep
    to_score = [r for r in sweep.runs if r.status == "succeeded" and r.score is None and r.fine_tuned_model]
    if to_score:
        from lib.evaluation.comparison import Contender

        contenders = [Contender(label=r.setting.label(), model=r.fine_tuned_model, client=client, provider=config,
                                facts_card=sweep.facts_card) for r in to_score]
        if sweep.base is None:
            contenders.append(Contender(label="Base", model=sweep.model, client=client, provider=config,
                                        facts_card=sweep.facts_card))
        scores = scoring.score_models(contenders, sweep.prompts, progress=progress)
        for run, result in zip(to_score, scores, strict=False):
            run.score = result
        if sweep.base is None:
            sweep.base = scores[-1]
    return sweep


def keep_scores(sweep: Sweep, store: scoring.ScoreStore | None = None) -> None:
    """Store each scored run's score with its job, as a single job's is, so the job history and the report
    show it without asking again."""
    store = store or scoring.ScoreStore()
    for run in sweep.runs:
        if run.job_id and run.score is not None and store.load(run.job_id) is None:
            store.save(scoring.JobScore(job_id=run.job_id, prompts=list(sweep.prompts), final=run.score,
                                        base=sweep.base))


def wait(sweep: Sweep, config: Any, *, poll: float = 2.0, on_change: Callable[[Sweep], None] | None = None,
         sleep: Callable[[float], None] = time.sleep) -> Sweep:
    """Follow the sweep until every run has ended and been scored."""
    while True:
        advance(sweep, config)
        if on_change:
            on_change(sweep)
        if sweep.done:
            return sweep
        sleep(poll)


class SweepStore:
    """Sweeps kept in the workspace, one file each, so the Train page follows them after a refresh."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else paths.workspace_dir() / "sweeps"

    def save(self, sweep: Sweep) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / f"{sweep.id}.json", json.dumps(sweep.to_dict(), ensure_ascii=False))

    def load(self, sweep_id: str) -> Sweep | None:
        try:
            return Sweep.from_dict(json.loads((self.root / f"{sweep_id}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def latest(self) -> Sweep | None:
        files = sorted(self.root.glob("sweep-*.json"), key=lambda p: p.stat().st_mtime) if self.root.is_dir() else []
        return self.load(files[-1].stem) if files else None
