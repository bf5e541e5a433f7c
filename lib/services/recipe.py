"""The local engine's default recipe: what "automatic" means when the studio trains on this computer.

Chosen by measurement, not by OpenAI's rule: `benchmarks/quality.py` trained the sample's 12 rows on
SmolLM2-135M-Instruct with several recipes and asked 20 elements the rows do not cover (README, "The
default recipe", has every figure). OpenAI's automatic rule gave 8 epochs at the engine's base learning
rate: 0 clean limericks of 20. Twelve passes over the 12 rows at three times the rate, with the facts card,
gave 6 clean limericks, every atomic number right and no wrong fact (twice the rate: 5, 18 and 2 wrong; 16
passes: 5, 17 and 4 wrong), trained in 90-200 s on 2 cores (idle to busy).
Hosted providers keep their own automatic settings: they are not this model.
"""

from __future__ import annotations

import math
from typing import Any

MEASURED = "2026-11-28"
SOURCE = "benchmarks/quality.py: the sample's 12 rows, SmolLM2-135M-Instruct, 20 unseen elements"
PASSES = 144  # examples trained on in all (12 epochs of the 12-row sample), where the dataset is small
MAX_EPOCHS = 25  # OpenAI's ceiling for automatic epochs
LEARNING_RATE_MULTIPLIER = 3.0  # times the engine's base rate (2e-4 for an adapter)


def epochs(n_examples: int) -> int:
    """Epochs for `n_examples` training rows: enough passes that a small set is learnt (12 for the sample's
    12 rows, 16 for 9), never fewer than OpenAI's 3, never more than its 25."""
    if n_examples <= 0:
        return 3
    return max(3, min(MAX_EPOCHS, math.ceil(PASSES / n_examples)))


def describe(n_examples: int) -> str:
    """One plain sentence for the Train page."""
    return (f"Automatic on this engine is the studio's measured recipe: {epochs(n_examples)} epochs for "
            f"{n_examples} examples at three times the base learning rate (chosen on {MEASURED} by scoring replies to "
            "questions the model never saw).")


def applies(provider_kind: str, method: str = "supervised", adapter: Any = None) -> bool:
    """Whether "automatic" means this recipe: the local engine, supervised training of an adapter (it was
    not measured for training every weight, nor for preference pairs)."""
    return provider_kind == "local" and method == "supervised" and adapter != "full"


def resolve(n_epochs: Any, learning_rate_multiplier: Any, n_examples: int) -> tuple[Any, Any]:
    """(epochs, learning-rate multiplier) with the recipe's values where "auto" is asked; the others kept."""
    return (epochs(n_examples) if n_epochs == "auto" else n_epochs,
            LEARNING_RATE_MULTIPLIER if learning_rate_multiplier == "auto" else learning_rate_multiplier)
