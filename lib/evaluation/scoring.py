"""Score a model on held-out prompts with the same limerick and fact checks the dataset gets.

A loss curve tells a user that training moved; it does not tell them whether the model now writes
limericks with true facts. This module asks a model (and the base model, and each checkpoint) a
held-out prompt set, greedy, and counts what a stakeholder would notice: clean five-line limericks,
replies whose facts are right, and replies that state a wrong fact ("says 40, it is 38").

Scores are stored with the job in the workspace (`ScoreStore`), so the job history and the report
show them without asking the models again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lib import paths
from lib.checks import facts, facts_card
from lib.dataprep.workspace import atomic_write_text
from lib.evaluation import comparison as pg
from lib.evaluation import prompt_sets

DEFAULT_PROMPT_COUNT = 20
SCORE_MAX_TOKENS = 120
"""A limerick is about 60 tokens: twice that lets a rambling reply show itself without paying for 256."""
QUESTION = "Tell me about {name}"


# --------------------------------------------------------------------------- prompt sets


def held_out_prompts(dataset: Any, n: int = DEFAULT_PROMPT_COUNT) -> list[str]:
    """The prompts a model is scored on: the dataset's validation split when it has one, else questions
    about elements the training rows do not cover (what the model cannot have memorised)."""
    validation = prompt_sets.prompts_from_examples(dataset.validation_examples())
    if validation:
        return validation[:n]
    asked = prompt_sets.prompts_from_examples(dataset.train_examples())
    return [QUESTION.format(name=e.name) for e in facts.uncovered_elements(asked, limit=n)]


# --------------------------------------------------------------------------- one reply


@dataclass
class ReplyVerdict:
    """What the checks say about one reply, in the words the job card shows."""

    prompt: str
    text: str
    clean_limerick: bool = False
    right_facts: int = 0
    right_properties: list[str] = field(default_factory=list)
    """What the right facts were about ("atomic_number", "melting_point", ...)."""
    wrong_facts: list[str] = field(default_factory=list)
    """Each wrong claim as the user reads it: "atomic number: says 40, it is 38"."""
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def has_wrong_fact(self) -> bool:
        return bool(self.wrong_facts)

    @property
    def has_right_facts(self) -> bool:
        """Facts stated and none of them wrong."""
        return self.right_facts > 0 and not self.wrong_facts


def _plain_claim(claim: dict[str, Any]) -> str:
    name = str(claim.get("property") or "fact").replace("_", " ")
    unit = f" {claim['unit']}" if claim.get("unit") else ""
    return f"{name}: says {claim.get('stated')}{unit}, it is {claim.get('actual')}{unit}"


def verdict_of(reply: pg.Reply, prompt: str) -> ReplyVerdict:
    """Read the limerick and fact checks that `playground` ran on a reply."""
    if reply.error:
        return ReplyVerdict(prompt=prompt, text=reply.text, error=reply.error)
    limerick = reply.checks.get("limerick") or {}
    claims = (reply.checks.get("facts") or {}).get("claims") or []
    wrong = [_plain_claim(c) for c in claims if str(c.get("verdict")) == facts.CONTRADICTED]
    right = [str(c.get("property")) for c in claims if str(c.get("verdict")) == facts.SUPPORTED]
    return ReplyVerdict(prompt=prompt, text=reply.text, clean_limerick=bool(limerick.get("is_limerick")),
                        right_facts=len(right), right_properties=right, wrong_facts=wrong,
                        problems=list(limerick.get("problems") or []))


# --------------------------------------------------------------------------- one model


@dataclass
class ModelScore:
    """One model's replies to one prompt set, counted."""

    model: str
    label: str
    replies: list[ReplyVerdict] = field(default_factory=list)
    step: int | None = None
    """The training step of a checkpoint; None for the final or the base model."""

    @property
    def n(self) -> int:
        return len(self.replies)

    @property
    def clean(self) -> int:
        return sum(r.clean_limerick for r in self.replies)

    @property
    def right(self) -> int:
        return sum(r.has_right_facts for r in self.replies)

    @property
    def wrong(self) -> int:
        return sum(r.has_wrong_fact for r in self.replies)

    @property
    def errors(self) -> int:
        return sum(r.error is not None for r in self.replies)

    @property
    def points(self) -> float:
        """One number to rank by, 0-1: the share of clean limericks and the share of replies with no
        wrong fact, weighted alike, with right facts breaking ties. A reply that failed counts as neither."""
        if not self.n:
            return 0.0
        answered = self.n - self.errors
        return (self.clean + (answered - self.wrong) + 0.01 * self.right) / (2.01 * self.n)

    def headline(self) -> str:
        text = f"clean limericks {self.clean}/{self.n} · right facts {self.right}/{self.n} · wrong facts {self.wrong}/{self.n}"
        if self.errors:
            text += f" · {self.errors} not answered"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "label": self.label, "step": self.step,
                "replies": [asdict(r) for r in self.replies]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelScore:
        known = set(ReplyVerdict.__dataclass_fields__)
        replies = [ReplyVerdict(**{k: v for k, v in r.items() if k in known}) for r in data.get("replies") or []]
        return cls(model=str(data["model"]), label=str(data.get("label") or data["model"]), replies=replies,
                   step=data.get("step"))


def score_models(contenders: Sequence[pg.Contender], prompts: Sequence[str], *,
                 system_prompt: str | None = None, max_tokens: int = SCORE_MAX_TOKENS,
                 progress: pg.Progress | None = None, should_stop: Callable[[], bool] | None = None,
                 steps: Sequence[int | None] | None = None) -> list[ModelScore]:
    """Ask every contender every prompt (greedy, so a score is repeatable) and count the verdicts.

    Local models are asked several prompts at once: the engine batches requests that arrive together.
    """
    if not prompts:
        raise ValueError("There are no held-out prompts to score on.")
    batch = pg.run_batch(contenders, prompts, system_prompt=system_prompt,
                         temperature=0.0, max_tokens=max_tokens, seed=0, progress=progress,
                         should_stop=should_stop, background=True)
    scores = []
    for c, contender in enumerate(contenders):
        column = batch.column(c)
        scores.append(ModelScore(
            model=contender.model, label=contender.label,
            replies=[verdict_of(reply, prompt) for reply, prompt in zip(column, batch.prompts, strict=True)],
            step=steps[c] if steps else None,
        ))
    return scores


# --------------------------------------------------------------------------- one job


@dataclass
class JobScore:
    """A job's final model, its checkpoints and its base model, scored on the same prompts."""

    job_id: str
    prompts: list[str]
    final: ModelScore
    base: ModelScore | None = None
    checkpoints: list[ModelScore] = field(default_factory=list)
    scored_at: float = field(default_factory=time.time)

    def best_checkpoint(self) -> ModelScore | None:
        """The checkpoint that scores higher than the final model, if one does (the highest; earliest on a tie)."""
        better = [c for c in self.checkpoints if c.points > self.final.points + 1e-9]
        return max(better, key=lambda c: (c.points, -(c.step or 0))) if better else None

    def advice(self) -> str | None:
        best = self.best_checkpoint()
        if best is None:
            return None
        name = f"ckpt-step-{best.step}" if best.step is not None else best.label
        return f"{name} scores higher than the final model: use it ({best.headline()})."

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "prompts": list(self.prompts), "final": self.final.to_dict(),
                "base": self.base.to_dict() if self.base else None,
                "checkpoints": [c.to_dict() for c in self.checkpoints], "scored_at": self.scored_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobScore:
        return cls(job_id=str(data["job_id"]), prompts=list(data.get("prompts") or []),
                   final=ModelScore.from_dict(data["final"]),
                   base=ModelScore.from_dict(data["base"]) if data.get("base") else None,
                   checkpoints=[ModelScore.from_dict(c) for c in data.get("checkpoints") or []],
                   scored_at=float(data.get("scored_at") or 0))


_STEP = re.compile(r"ckpt-step-(\d+)|step[-_:]?(\d+)", re.IGNORECASE)


def _step_of(checkpoint: dict[str, Any]) -> int | None:
    if isinstance(checkpoint.get("step_number"), int):
        return checkpoint["step_number"]
    match = _STEP.search(str(checkpoint.get("fine_tuned_model_checkpoint") or ""))
    return int(match.group(1) or match.group(2)) if match else None


def score_job(config: Any, job: Any, prompts: Sequence[str], *, include_base: bool = True,
              include_checkpoints: bool = True, system_prompt: str | None = None,
              progress: pg.Progress | None = None, should_stop: Callable[[], bool] | None = None) -> JobScore:
    """Score a succeeded job's model, each of its checkpoints and its base model on `prompts`.

    `config` is the `lib.services.providers` config the job ran on; `job` the job object or its dict.
    A job trained with the facts card (its metadata says so) is asked with it, and so is its base model:
    both get the same questions and the same facts.
    """
    from lib.services import jobs
    from lib.services.providers import make_client

    data = job if isinstance(job, dict) else job.model_dump()
    if data.get("status") != "succeeded" or not data.get("fine_tuned_model"):
        raise ValueError("Only a job that succeeded has a model to score.")
    client = make_client(config)
    card = facts_card.is_on(data.get("metadata"))
    final = pg.Contender(label="Fine-tuned", model=data["fine_tuned_model"], client=client, provider=config,
                         facts_card=card)
    contenders, steps = [final], [None]
    if include_checkpoints:
        for checkpoint in jobs.list_checkpoints(client, data["id"]):
            model = checkpoint.get("fine_tuned_model_checkpoint")
            if model and model != final.model:
                step = _step_of(checkpoint)
                contenders.append(pg.Contender(label=f"Checkpoint step {step}", model=model, client=client,
                                               provider=config, facts_card=card))
                steps.append(step)
    if include_base and data.get("model"):
        contenders.append(pg.Contender(label="Base", model=data["model"], client=client, provider=config,
                                       facts_card=card))
        steps.append(None)
    scores = score_models(contenders, prompts, system_prompt=system_prompt, progress=progress,
                          should_stop=should_stop, steps=steps)
    has_base = include_base and bool(data.get("model"))
    return JobScore(job_id=str(data["id"]), prompts=list(prompts), final=scores[0],
                    checkpoints=scores[1:len(scores) - 1] if has_base else scores[1:],
                    base=scores[-1] if has_base else None)


# --------------------------------------------------------------------------- kept with the job


class ScoreStore:
    """Scores kept beside the workspace, one file per job, so history and the report need not ask again."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else paths.workspace_dir() / "scores"

    def _path(self, job_id: str) -> Path:
        return self.root / f"{quote(job_id, safe='')}.json"

    def save(self, score: JobScore) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self._path(score.job_id), json.dumps(score.to_dict(), ensure_ascii=False))

    def load(self, job_id: str) -> JobScore | None:
        path = self._path(job_id)
        try:
            return JobScore.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def find(self, model: str | None) -> JobScore | None:
        """The stored scores of the job that made `model` (its final model or one of its checkpoints), newest
        first: the Playground knows a model, not the job behind it."""
        if not model or not self.root.is_dir():
            return None
        for path in sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
            try:
                score = JobScore.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if model == score.final.model or any(model == c.model for c in score.checkpoints):
                return score
        return None
