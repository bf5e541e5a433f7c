"""Blind votes on a batch's replies, and the summary that turns the replies and the votes into numbers.

A batch run (`lib.evaluation.comparison.run_batch`) only collects replies; what people make of them is a
separate question: which model shows on which side of each pair (`blind_order`), the live count that keeps
the names hidden until the reveal (`tally`), and each model's means, cost and win rates (`summary`), which
the Playground page, `python -m lib compare` and the report show.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lib.evaluation.comparison import BatchResult

Choice = Literal["left", "right", "tie"]

__all__ = ["Choice", "Vote", "blind_order", "summary", "tally"]


@dataclass(frozen=True)
class Vote:
    """A human preference between two replies to one prompt, in contender indices (sides already revealed)."""

    prompt_index: int
    left: int
    right: int
    choice: Choice

    def __post_init__(self) -> None:
        if self.choice not in ("left", "right", "tie"):
            raise ValueError(f"A vote is 'left', 'right' or 'tie', not {self.choice!r}.")

    @property
    def winner(self) -> int | None:
        return {"left": self.left, "right": self.right}.get(self.choice)

    @classmethod
    def coerce(cls, value: Any) -> Vote:
        if isinstance(value, Vote):
            return value
        if isinstance(value, dict):
            return cls(int(value["prompt_index"]), int(value.get("left", 0)), int(value.get("right", 1)),
                       value["choice"])
        prompt_index, left, right, choice = value
        return cls(int(prompt_index), int(left), int(right), choice)


def blind_order(n_pairs: int, seed: int | None = None, contenders: Sequence[int] = (0, 1)) -> list[tuple[int, int]]:
    """For each pair, which contender shows on the left and which on the right (shuffled, reproducible)."""
    rng = random.Random(seed)
    a, b = int(contenders[0]), int(contenders[1])
    return [(a, b) if rng.random() < 0.5 else (b, a) for _ in range(int(n_pairs))]


def tally(
    votes: Sequence[Choice | None] | dict[int, Choice],
    order: Sequence[tuple[int, int]],
    labels: Sequence[str] | None = None,
    *,
    reveal: bool = False,
) -> dict[str, Any]:
    """The live count of a blind session; names stay "Model A"/"Model B" until `reveal`.

    `votes[i]` is the side the audience picked for pair `i` ("left", "right", "tie", or None while
    not voted). "Model A" is whichever contender showed on the left of the first pair, so the
    pseudonyms give nothing away. `result["votes"]` are the same votes as `Vote`s for `summary`.
    """
    choices = dict(votes) if isinstance(votes, dict) else dict(enumerate(votes))
    members = list(dict.fromkeys(i for pair in order for i in pair))
    pseudonyms = {index: f"Model {chr(ord('A') + n)}" for n, index in enumerate(members)}
    wins = dict.fromkeys(members, 0)
    ties = 0
    resolved: list[Vote] = []
    for i, (left, right) in enumerate(order):
        choice = choices.get(i)
        if choice is None:
            continue
        vote = Vote(i, left, right, choice)
        resolved.append(vote)
        if vote.winner is None:
            ties += 1
        else:
            wins[vote.winner] += 1
    voted = len(resolved)

    def name(index: int) -> str:
        if reveal:
            return labels[index] if labels is not None and index < len(labels) else f"Contender {index + 1}"
        return pseudonyms[index]

    return {
        "pairs": len(order),
        "voted": voted,
        "remaining": len(order) - voted,
        "ties": ties,
        "revealed": reveal,
        "standings": [
            {"name": name(i), "wins": wins[i], "win_rate": (wins[i] / voted) if voted else None,
             **({"index": i} if reveal else {})}
            for i in members
        ],
        "votes": resolved,
    }


def _mean(values: Iterable[float | int | None]) -> float | None:
    numbers = [float(v) for v in values if v is not None]
    return sum(numbers) / len(numbers) if numbers else None


def summary(batch: BatchResult, votes: Iterable[Any] | None = None) -> dict[str, Any]:
    """Mean scores per contender, cost per 1,000 replies, and win rates per pair from human votes.

    A win rate is wins / votes for that pair, ties counted as votes for neither side.
    `cost_per_1000` is None when any successful reply of that contender has no known price.
    """
    contenders_out = []
    for index, info in enumerate(batch.contenders):
        column = batch.column(index)
        ok = [r for r in column if r.ok]
        checked = [r for r in ok if r.is_limerick is not None]
        fact_checked = [r for r in ok if r.contradicted is not None]
        costs = [r.cost_usd for r in ok]
        known_costs = None if (not ok or any(c is None for c in costs)) else costs
        contenders_out.append({
            **info,
            "index": index,
            "replies": len(column),
            "answered": len(ok),
            "errors": len(column) - len(ok),
            "retries": sum(r.retries for r in column),
            "form_checked": len(checked),
            "limericks": sum(1 for r in checked if r.is_limerick),
            "limerick_rate": (sum(1 for r in checked if r.is_limerick) / len(checked)) if checked else None,
            "mean_form_score": _mean(r.form_score for r in ok),
            "facts_checked": len(fact_checked),
            "contradicted": sum(r.contradicted or 0 for r in fact_checked) if fact_checked else None,
            "mean_contradicted": _mean(r.contradicted for r in fact_checked),
            "mean_words": _mean(r.words for r in ok),
            "mean_latency": _mean(r.latency for r in ok),
            "mean_time_to_first_token": _mean(r.time_to_first_token for r in ok),
            "mean_prompt_tokens": _mean(r.prompt_tokens for r in ok),
            "mean_completion_tokens": _mean(r.completion_tokens for r in ok),
            "total_cost": sum(known_costs) if known_costs is not None else None,
            "cost_per_1000": (1000 * sum(known_costs) / len(known_costs)) if known_costs else None,
        })
    pairs: dict[tuple[int, int], dict[str, Any]] = {}
    for raw in votes or []:
        vote = Vote.coerce(raw)
        a, b = sorted((vote.left, vote.right))
        if a == b or b >= len(batch.contenders):
            continue
        pair = pairs.setdefault((a, b), {"a": a, "b": b, "a_label": batch.contenders[a]["label"],
                                         "b_label": batch.contenders[b]["label"], "votes": 0,
                                         "a_wins": 0, "b_wins": 0, "ties": 0})
        pair["votes"] += 1
        if vote.winner is None:
            pair["ties"] += 1
        elif vote.winner == a:
            pair["a_wins"] += 1
        else:
            pair["b_wins"] += 1
    for pair in pairs.values():
        pair["a_win_rate"] = pair["a_wins"] / pair["votes"]
        pair["b_win_rate"] = pair["b_wins"] / pair["votes"]
    return {
        "prompts": len(batch.prompts),
        "contenders": contenders_out,
        "pairs": [pairs[key] for key in sorted(pairs)],
        "retries": batch.retries,
        "errors": batch.errors,
        "elapsed": batch.elapsed,
        "finished": batch.finished,
    }
