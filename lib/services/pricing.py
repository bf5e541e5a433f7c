"""What fine-tuning costs, and until when it can be bought: one dated table and OpenAI's billing rules.

Every figure lives in `MODELS` below, with its source and date, so a page or the CLI never types a
price or a date itself. Sources (compiled in /work/shared/reference/openai-fine-tuning.md, 2026-11-22):

* Prices: OpenAI pricing page, fine-tuning table, Standard tier, as of 2025-07 (capture in
  dakota-jamie-sims/OpenAI-Learning-Center-Agent `docs/openai_documentation/03_Models/02_Pricing.md`;
  identical in the ≈2025-11 capture); fine-tuned-inference prices re-verified unchanged on 2026-07-31.
  By ≈2026-09 the page listed only o4-mini RFT, so the per-token figures are kept as a dated constant.
* Per-example token limits: OpenAI "Fine-tuning best practices" (c. mid-2025); Azure
  `includes/fine-tune-models.md` for o4-mini and the Azure-only 32,768 of gpt-4.1-nano.
* Dates: developers.openai.com/api/docs/deprecations ("Update to OpenAI's self-serve fine-tuning";
  mirror 2026-06-27; notice of 2026-10-14 for the 2027-01-14 shutdowns).
* Epoch and billing rules: openai-cookbook `examples/Chat_finetuning_data_prep.ipynb` @ b774cbf.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from lib.dataprep import tokens
from lib.services import lifecycle

Provider = Literal["openai", "local"]
Method = Literal["supervised", "dpo", "reinforcement"]

#: When the prices below were captured (OpenAI pricing page); see PRICE_LABEL.
PRICE_DATE = "2025-07"
#: Fine-tuned inference prices were checked again, unchanged, on this date.
PRICE_VERIFIED = "2026-07-31"
PRICE_LABEL = f"OpenAI list prices as of {PRICE_DATE} (fine-tuned inference re-verified {PRICE_VERIFIED})"
PRICE_SOURCE = (
    "OpenAI pricing page, fine-tuning table, Standard tier (capture ≈2025-07: dakota-jamie-sims/"
    "OpenAI-Learning-Center-Agent docs/openai_documentation/03_Models/02_Pricing.md; unchanged ≈2025-11); "
    "fine-tuned inference re-verified 2026-07-31"
)
LIMIT_SOURCE = "OpenAI 'Fine-tuning best practices' token-limit table (c. mid-2025); Azure fine-tune-models.md"
DATES_SOURCE = "developers.openai.com/api/docs/deprecations (mirror 2026-06-27; notice 2026-10-14)"

#: OpenAI's wind-down of self-serve fine-tuning (deprecations page, "Update to OpenAI's self-serve fine-tuning").
# The dates live in lib.services.lifecycle (one dated table with sources); named here for older callers.
NEW_ORGS_CUTOFF = lifecycle.NEW_ORGS_CUTOFF  # orgs that never fine-tuned can no longer create jobs
INACTIVE_ORGS_CUTOFF = lifecycle.INACTIVE_ORGS_CUTOFF  # orgs without fine-tuned inference in 60 days
OPENAI_TRAINING_ENDS = lifecycle.OPENAI_TRAINING_ENDS  # nobody can create new jobs from this day

# The Cookbook's epoch constants (Chat_finetuning_data_prep.ipynb).
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25
#: `n_epochs` accepted by jobs.create (openai-python job_create_params.py).
MIN_EPOCHS, MAX_EPOCHS = 1, 50
#: OpenAI needs at least this many training examples ("Your file must have at least 10 lines").
MIN_EXAMPLES = 10

LOCAL_DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class Prices:
    """US dollars per 1M tokens; None where the source gives no figure."""

    input: float | None = None
    cached_input: float | None = None
    output: float | None = None


FREE = Prices(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ModelInfo:
    """One row of the table. `training_until` is the first day OpenAI accepts no new job for it."""

    id: str
    label: str
    provider: Provider = "openai"
    aliases: tuple[str, ...] = ()
    methods: tuple[Method, ...] = ()
    training_per_1m: float | None = None  # $ per 1M trained tokens
    training_per_hour: float | None = None  # RFT: $ per training hour, not estimable from tokens
    finetuned: Prices = Prices()  # inference on the fine-tuned model
    finetuned_data_sharing: Prices | None = None
    finetuned_batch: Prices | None = None
    base: Prices = Prices()  # inference on the base model, for the playground comparison
    token_limit: int | None = None  # per training example; longer ones are truncated from the end
    azure_token_limit: int | None = None
    context_window: int | None = None
    # Azure OpenAI lists it for fine-tuning (includes/fine-tune-models.md) — for existing customers only since
    # the base models retired in 2026-10: see lib.services.lifecycle.AZURE_TRAINING and AZURE_CAVEAT.
    azure_trains: bool = False
    chat: bool = True  # False: legacy prompt/completion models (davinci-002, babbage-002)
    shutdown: date | None = None  # the base model
    finetuned_shutdown: date | None = None  # its fine-tunes, where that differs (else = shutdown)
    retired: bool = False  # shut down before our sources' window; date not recorded
    hidden: bool = False  # test-only model: not offered in comparisons
    notes: str = ""
    source: str = PRICE_SOURCE
    fine_tuned: bool = False  # set by model_info() for ft: ids
    requested: str = ""  # the id model_info() was asked about

    @property
    def training_until(self) -> date | None:
        """First day without new OpenAI jobs: 2027-01-06 for all, earlier when the model shuts down."""
        if self.provider != "openai":
            return None
        if self.shutdown is None:
            return OPENAI_TRAINING_ENDS
        return min(self.shutdown, OPENAI_TRAINING_ENDS)

    @property
    def finetunes_answer_until(self) -> date | None:
        """First day the fine-tuned models of this base no longer answer (None: no date announced)."""
        return self.finetuned_shutdown or self.shutdown

    @property
    def encoding(self) -> str:
        return tokens.encoding_choice(self.id).name

    @property
    def exact_encoding(self) -> bool:
        return tokens.encoding_choice(self.id).exact


def _models(*rows: ModelInfo) -> dict[str, ModelInfo]:
    return {row.id: row for row in rows}


_2027_01_14 = lifecycle.GPT4O_GPT41_SHUTDOWN  # gpt-4o / gpt-4.1 families and their fine-tunes (notice 2026-10-14)
_2026_10_23 = lifecycle.NANO_O4_SHUTDOWN  # gpt-3.5-turbo-0125, gpt-4-0613, gpt-4.1-nano, o4-mini
_2026_09_28 = lifecycle.LEGACY_SHUTDOWN  # babbage-002, davinci-002, gpt-3.5-turbo-1106

# Sources and dates, column by column (the rows repeat none of them):
#   training_per_1m / training_per_hour, finetuned, finetuned_batch, finetuned_data_sharing, base:
#       PRICE_SOURCE — OpenAI pricing page as of 2025-07 (unchanged ≈2025-11; fine-tuned inference
#       re-verified 2026-07-31). Base prices: same captures, Standard tier.
#   token_limit, azure_token_limit, context_window: LIMIT_SOURCE (c. mid-2025; Azure 2025-09 – 2026-02).
#   shutdown, finetuned_shutdown: DATES_SOURCE (2026-09-28, 2026-10-23 per the mirror of 2026-06-27; 2027-01-14 per the
#       notice of 2026-10-14). training_until: OPENAI_TRAINING_ENDS (2027-01-06), or the shutdown if earlier.
#   methods: OpenAI SFT/DPO/RFT guides ("Use with: gpt-4.1-…"), changelog 2025-06-04 (DPO on gpt-4.1*).
#   azure_trains: Azure includes/fine-tune-models.md (2025-09 – 2026-02).
MODELS: dict[str, ModelInfo] = _models(
    ModelInfo(
        "gpt-4.1-2025-04-14", "GPT-4.1", aliases=("gpt-4.1",), methods=("supervised", "dpo"),
        training_per_1m=25.00, finetuned=Prices(3.00, 0.75, 12.00), finetuned_batch=Prices(1.50, 0.50, 6.00),
        base=Prices(2.00, 0.50, 8.00), token_limit=65_536, context_window=128_000, azure_trains=True,
        shutdown=_2027_01_14,
    ),
    ModelInfo(
        "gpt-4.1-mini-2025-04-14", "GPT-4.1 mini", aliases=("gpt-4.1-mini",), methods=("supervised", "dpo"),
        training_per_1m=5.00, finetuned=Prices(0.80, 0.20, 3.20), finetuned_batch=Prices(0.40, 0.10, 1.60),
        base=Prices(0.40, 0.10, 1.60), token_limit=65_536, context_window=128_000, azure_trains=True,
        shutdown=_2027_01_14,
    ),
    ModelInfo(
        "gpt-4.1-nano-2025-04-14", "GPT-4.1 nano", aliases=("gpt-4.1-nano",), methods=("supervised", "dpo"),
        training_per_1m=1.50, finetuned=Prices(0.20, 0.05, 0.80), finetuned_batch=Prices(0.10, 0.025, 0.40),
        base=Prices(0.10, 0.025, 0.40), token_limit=65_536, azure_token_limit=32_768, context_window=128_000,
        azure_trains=True, shutdown=_2026_10_23,
        notes="OpenAI's limit is 65,536 tokens per example; Azure OpenAI's is 32,768.",
    ),
    ModelInfo(
        "gpt-4o-2024-08-06", "GPT-4o", aliases=("gpt-4o",), methods=("supervised", "dpo"),
        training_per_1m=25.00, finetuned=Prices(3.75, 1.875, 15.00), finetuned_batch=Prices(2.225, 0.90, 12.50),
        base=Prices(2.50, 1.25, 10.00), token_limit=65_536, context_window=128_000, azure_trains=True,
        shutdown=_2027_01_14, notes="Also vision fine-tuning. Batch prices as captured.",
    ),
    ModelInfo(
        "gpt-4o-mini-2024-07-18", "GPT-4o mini", aliases=("gpt-4o-mini",), methods=("supervised", "dpo"),
        training_per_1m=3.00, finetuned=Prices(0.30, 0.15, 1.20), finetuned_batch=Prices(0.15, 0.075, 0.60),
        base=Prices(0.15, 0.075, 0.60), token_limit=65_536, context_window=128_000, azure_trains=True,
        shutdown=_2027_01_14,
    ),
    ModelInfo(
        "gpt-3.5-turbo-0125", "GPT-3.5 Turbo", aliases=("gpt-3.5-turbo", "gpt-35-turbo", "gpt-35-turbo-0125"),
        methods=("supervised",), training_per_1m=8.00, finetuned=Prices(3.00, None, 6.00),
        finetuned_batch=Prices(1.50, None, 3.00), base=Prices(0.50, None, 1.50), token_limit=16_385,
        context_window=16_385, shutdown=_2026_10_23,
        notes="The seed notebook's model. Shut down 2026-10-23, with its fine-tuned models.",
    ),
    ModelInfo(
        "gpt-3.5-turbo-1106", "GPT-3.5 Turbo (1106)", aliases=("gpt-35-turbo-1106",), methods=("supervised",),
        training_per_1m=8.00, finetuned=Prices(3.00, None, 6.00), finetuned_batch=Prices(1.50, None, 3.00),
        token_limit=16_385, context_window=16_385, shutdown=_2026_09_28, finetuned_shutdown=_2026_10_23,
        notes="Base-model price of this snapshot not in our sources. Its fine-tunes (ft-gpt-3.5-turbo) "
        "shut down 2026-10-23.",
    ),
    ModelInfo(
        "gpt-3.5-turbo-0613", "GPT-3.5 Turbo (0613)", aliases=("gpt-35-turbo-0613",), methods=("supervised",),
        token_limit=4_096, context_window=16_385, retired=True,
        notes="Retired before our sources' window; listed so that old ft: ids resolve.",
    ),
    ModelInfo(
        "o4-mini-2025-04-16", "o4-mini (reinforcement)", aliases=("o4-mini",), methods=("reinforcement",),
        training_per_hour=100.00, finetuned=Prices(4.00, 1.00, 16.00),
        finetuned_data_sharing=Prices(2.00, 0.50, 8.00), finetuned_batch=Prices(2.00, 0.50, 8.00),
        base=Prices(1.10, 0.275, 4.40), token_limit=65_536, azure_trains=True, shutdown=_2026_10_23,
        notes="Reinforcement fine-tuning only (gone with the model on 2026-10-23: OpenAI RFT has no model left), "
        "billed $100 per training hour plus grader tokens; "
        "not estimable from the dataset's tokens. Token limit from Azure's table.",
    ),
    ModelInfo(
        "davinci-002", "davinci-002 (legacy completions)", methods=("supervised",), chat=False, training_per_1m=6.00,
        finetuned=Prices(12.00, None, 12.00), finetuned_batch=Prices(6.00, None, 6.00), shutdown=_2026_09_28,
        finetuned_shutdown=_2026_10_23,
        notes="Legacy prompt/completion fine-tuning; no per-example limit in our sources.",
    ),
    ModelInfo(
        "babbage-002", "babbage-002 (legacy completions)", methods=("supervised",), chat=False, training_per_1m=0.40,
        finetuned=Prices(1.60, None, 1.60), finetuned_batch=Prices(0.80, None, 0.90), shutdown=_2026_09_28,
        finetuned_shutdown=_2026_10_23,
        notes="Legacy prompt/completion fine-tuning; no per-example limit in our sources.",
    ),
    ModelInfo(
        "gpt-4-0613", "GPT-4 (0613)", aliases=("gpt-4",), shutdown=_2026_10_23,
        notes="Not in OpenAI's public fine-tuning price list; listed so that ft:gpt-4 ids resolve.",
    ),
    ModelInfo(
        "gpt-4o-2024-11-20", "GPT-4o (2024-11-20)", base=Prices(2.50, 1.25, 10.00), context_window=128_000,
        shutdown=_2027_01_14, notes="Not fine-tunable; base price as gpt-4o.",
    ),
    ModelInfo(
        LOCAL_DEFAULT_MODEL, "SmolLM2-135M-Instruct (local engine)", provider="local",
        aliases=("SmolLM2-135M-Instruct", "smollm2"), methods=("supervised",), training_per_1m=0.0,
        finetuned=FREE, base=FREE, token_limit=8_192, context_window=8_192,
        source="Runs on this computer: no charge. Context 8,192 (model config max_position_embeddings).",
        notes="Token counts use o200k_base as an approximation of SmolLM2's own tokenizer.",
    ),
    ModelInfo(
        "tiny-random-llama", "tiny random Llama (tests only)", provider="local", methods=("supervised",),
        training_per_1m=0.0, finetuned=FREE, base=FREE, hidden=True,
        source="The local engine's random test model: no charge.", notes="Random weights; for tests only.",
    ),
)

_LOOKUP: dict[str, str] = {}
for _row in MODELS.values():
    for _name in (_row.id, *_row.aliases):
        _LOOKUP[_name.lower()] = _row.id


def model_info(model_id: str) -> ModelInfo | None:
    """The table row for a model id, alias, snapshot, `ft:` id or Azure `.ft-` id; None when unknown.

    `gpt-4.1-mini` → gpt-4.1-mini-2025-04-14; `ft:gpt-4o-mini-2024-07-18:org::id` → that row with
    `fine_tuned=True`. `requested` keeps the id asked about.
    """
    requested = (model_id or "").strip()
    base = tokens.base_model(requested)
    key = _LOOKUP.get(base.lower())
    if key is None and "/" in base:  # a Hugging Face id whose last part we know
        key = _LOOKUP.get(base.rsplit("/", 1)[-1].lower())
    if key is None:
        return None
    return dataclasses.replace(MODELS[key], fine_tuned=base != requested, requested=requested)


# --------------------------------------------------------------------------------------------------
# Availability
# --------------------------------------------------------------------------------------------------


def trainable(model: str, today: date | None = None) -> tuple[bool, str]:
    """Can a new fine-tuning job be started for `model` on `today`? And why, in one plain sentence."""
    today = today or date.today()
    info = model_info(model)
    if info is None:
        return False, f"{model} is not in our model table, so we cannot tell whether it can be fine-tuned."
    if info.provider == "local":
        return True, f"The local engine trains {info.label} on this computer, at no cost."
    if not info.methods:
        return False, f"OpenAI does not offer fine-tuning of {info.id}."
    if info.retired:
        return False, f"OpenAI retired {info.id}; it can no longer be fine-tuned."
    if info.shutdown is not None and today >= info.shutdown:
        tuned = info.finetunes_answer_until
        fine_tunes = (
            f"its fine-tuned models answer until {(tuned - timedelta(days=1)).isoformat()}"
            if tuned is not None and today < tuned
            else "its fine-tuned models stopped answering"
        )
        return False, (
            f"OpenAI shut down {info.id} on {info.shutdown.isoformat()}: no new jobs, and {fine_tunes}. "
            + lifecycle.AZURE_CAVEAT
        )
    if today >= OPENAI_TRAINING_ENDS:
        return False, (
            f"OpenAI stopped new fine-tuning jobs for everyone on {OPENAI_TRAINING_ENDS.isoformat()}. "
            + lifecycle.AZURE_CAVEAT
        )
    until = info.training_until or OPENAI_TRAINING_ENDS
    last_day = (until - timedelta(days=1)).isoformat()
    if info.shutdown is not None and until == info.shutdown:
        reason = f"OpenAI accepts new jobs for {info.id} until {last_day}; the model shuts down on {until}."
    else:
        reason = (
            f"OpenAI accepts new jobs for {info.id} until {last_day}; "
            f"it stops fine-tuning for everyone on {until}."
        )
    if today >= INACTIVE_ORGS_CUTOFF:
        reason += (
            f" Since {INACTIVE_ORGS_CUTOFF.isoformat()} only organisations that used a fine-tuned model in "
            "the last 60 days can start one."
        )
    elif today >= NEW_ORGS_CUTOFF:
        reason += f" Since {NEW_ORGS_CUTOFF.isoformat()} only organisations that fine-tuned before can start one."
    return True, reason


@dataclass(frozen=True)
class Alternative:
    """Somewhere else to train: another OpenAI model, the same model on Azure OpenAI, or the local engine."""

    provider: Literal["openai", "azure", "local"]
    model: str
    reason: str


AZURE_SOURCE = "Azure includes/fine-tune-models.md (2025-09 – 2026-02): training regions North Central US, Sweden Central"


def alternatives(model: str, today: date | None = None, method: Method = "supervised") -> list[Alternative]:
    """Where the user can still train when `model` cannot (or as a cheaper choice): OpenAI, Azure, local."""
    today = today or date.today()
    info = model_info(model)
    own = info.id if info else None
    found: list[Alternative] = []
    openai_rows = [
        row for row in MODELS.values()
        if row.provider == "openai" and row.chat and method in row.methods and row.id != own and trainable(row.id, today)[0]
    ]
    openai_rows.sort(key=lambda row: (row.training_per_1m is None, row.training_per_1m or 0.0))
    for row in openai_rows:
        last_day = (row.training_until or OPENAI_TRAINING_ENDS) - timedelta(days=1)
        found.append(Alternative("openai", row.id, f"OpenAI still accepts jobs for {row.label} until {last_day}."))
    if info is not None and info.azure_trains and method in info.methods:
        found.append(Alternative("azure", info.id, f"{lifecycle.azure_reason(info.id)} ({AZURE_SOURCE})."))
    else:
        for azure in ("gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18"):
            if method in MODELS[azure].methods:
                found.append(Alternative("azure", azure, lifecycle.azure_reason(azure)))
    if own != LOCAL_DEFAULT_MODEL and method == "supervised":
        found.append(Alternative(
            "local", LOCAL_DEFAULT_MODEL,
            "The local engine fine-tunes SmolLM2-135M-Instruct on this computer, free, with no account.",
        ))
    return found


# --------------------------------------------------------------------------------------------------
# Epochs and estimates
# --------------------------------------------------------------------------------------------------


def auto_epochs(n_examples: int) -> int:
    """OpenAI's default epochs (Cookbook): 3; min(25, 100 // n) if 3n < 100; max(1, 25000 // n) if 3n > 25000.

    n=5→20, 10→10, 20→5, 33→3, 8334→2, 30000→1. With no examples the limit of the rule, 25.
    """
    if n_examples < 0:
        raise ValueError("The number of examples cannot be negative.")
    if n_examples == 0:
        return MAX_DEFAULT_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def resolve_epochs(n_examples: int, epochs: int | str | None = "auto") -> int:
    """`"auto"`/None → OpenAI's rule; otherwise a whole number from 1 to 50 (what jobs.create accepts)."""
    if epochs is None or (isinstance(epochs, str) and epochs.strip().lower() in ("", "auto")):
        return auto_epochs(n_examples)
    if isinstance(epochs, bool):
        raise ValueError("Epochs must be a whole number from 1 to 50, or auto.")
    try:
        value = int(epochs)
    except (TypeError, ValueError):
        raise ValueError(f"Epochs must be a whole number from 1 to 50, or auto (got {epochs!r}).") from None
    not_whole = not isinstance(epochs, str) and value != epochs  # 2.5 epochs
    if not_whole or not MIN_EPOCHS <= value <= MAX_EPOCHS:
        raise ValueError(f"Epochs must be a whole number from 1 to 50, or auto (got {epochs!r}).")
    return value


@dataclass
class Estimate:
    """What a training run on these examples costs. Validation examples are free, so never pass them."""

    model: str
    encoding: str
    exact_encoding: bool
    examples: int
    tokens: list[int]  # per example, file order (Cookbook count)
    assistant_tokens: list[int]
    epochs: int
    billed_tokens: int  # per epoch: Σ min(token_limit, tokens)
    trained_tokens: int  # epochs × billed_tokens (OpenAI reports this as job.trained_tokens)
    cost_usd: float | None  # None: per-hour (RFT) or no price known
    price_date: str
    over_limit: list[int] = field(default_factory=list)  # 1-based lines longer than token_limit
    token_limit: int | None = None
    training_per_1m: float | None = None
    training_per_hour: float | None = None
    provider: str = "openai"
    notes: list[str] = field(default_factory=list)

    @property
    def trained_per_example(self) -> list[int]:
        """Tokens each example is billed per epoch: min(tokens, token_limit); the rest is truncated."""
        if self.token_limit is None:
            return list(self.tokens)
        return [min(self.token_limit, t) for t in self.tokens]

    def to_dict(self) -> dict[str, Any]:
        """The fields the CLI prints (`python -m lib check --model ...`)."""
        return {
            "model": self.model,
            "encoding": self.encoding,
            "exact_encoding": self.exact_encoding,
            "examples": self.examples,
            "tokens": list(self.tokens),
            "assistant_tokens": list(self.assistant_tokens),
            "epochs": self.epochs,
            "billed_tokens": self.billed_tokens,
            "trained_tokens": self.trained_tokens,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "price_date": self.price_date,
            "over_limit": list(self.over_limit),
            "token_limit": self.token_limit,
            "training_per_1m": self.training_per_1m,
            "training_per_hour": self.training_per_hour,
            "notes": list(self.notes),
        }


def estimate(
    examples: Sequence[Any],
    model: str,
    epochs: int | str = "auto",
    *,
    lines: Sequence[int] | None = None,
    counts: tuple[Sequence[int], Sequence[int]] | None = None,
) -> Estimate:
    """Tokens, epochs and training cost of `examples` (training examples only) on `model`.

    Billing per the Cookbook: tokens per epoch = Σ min(limit, tokens of example); trained tokens =
    epochs × that; cost = trained tokens × training $/1M. `lines` gives each example's line in the
    file when the examples are not the whole file (default, or when the lengths differ: 1, 2, 3, ...).
    `counts`: (total, answer) tokens per example already counted in `encoding_for(model)` (the command
    line's check counts them on two cores).
    """
    info = model_info(model)
    choice = tokens.encoding_choice(info.id if info else model)
    if counts is not None and len(counts[0]) == len(examples) == len(counts[1]):
        totals, assistants = list(counts[0]), list(counts[1])
    else:
        totals, assistants = tokens.count_examples(examples, choice.name)
    return _estimate_from_counts(model, info, choice, totals, assistants, epochs, lines)


def encoding_for(model: str) -> str:
    """The encoding `estimate` counts `model`'s tokens in (its base model's, o200k_base when unknown)."""
    info = model_info(model)
    return tokens.encoding_choice(info.id if info else model).name


def _estimate_from_counts(
    model: str,
    info: ModelInfo | None,
    choice: tokens.EncodingChoice,
    totals: list[int],
    assistants: list[int],
    epochs: int | str,
    lines: Sequence[int] | None,
) -> Estimate:
    n = len(totals)
    n_epochs = resolve_epochs(n, epochs)
    limit = info.token_limit if info else None
    line_numbers = list(lines) if lines is not None and len(lines) == n else list(range(1, n + 1))
    if limit is None:
        billed, over = sum(totals), []
    else:
        billed = sum(min(limit, t) for t in totals)
        over = [line for line, t in zip(line_numbers, totals, strict=True) if t > limit]
    trained = n_epochs * billed
    notes: list[str] = []
    cost: float | None = None
    if info is None:
        notes.append(f"{model} is not in our price table: no cost estimate.")
    elif info.training_per_1m is not None:
        cost = trained * info.training_per_1m / 1_000_000
    elif info.training_per_hour is not None:
        notes.append(
            f"{info.label} is billed ${info.training_per_hour:,.2f} per training hour, which cannot be "
            "estimated from the dataset's tokens."
        )
    else:
        notes.append(f"No training price is known for {info.id}.")
    if not choice.exact:
        notes.append(f"Token counts are approximate: {choice.name} stands in for {model}'s own tokenizer.")
    if over:
        notes.append(
            f"{len(over)} example(s) are longer than {limit:,} tokens; the service truncates them from the end."
        )
    return Estimate(
        model=info.id if info else model,
        encoding=choice.name,
        exact_encoding=choice.exact,
        examples=n,
        tokens=totals,
        assistant_tokens=assistants,
        epochs=n_epochs,
        billed_tokens=billed,
        trained_tokens=trained,
        cost_usd=cost,
        price_date=PRICE_DATE,
        over_limit=over,
        token_limit=limit,
        training_per_1m=info.training_per_1m if info else None,
        training_per_hour=info.training_per_hour if info else None,
        provider=info.provider if info else "unknown",
        notes=notes,
    )


def compare_table(
    examples: Sequence[Any],
    epochs: int | str = "auto",
    today: date | None = None,
    *,
    method: Method = "supervised",
    include_unavailable: bool = False,
) -> list[dict[str, Any]]:
    """One row per chat model that can train `method` on `today` (OpenAI and local), cheapest first.

    Rows are plain dicts (`pandas.DataFrame(rows)` for a table). Tokens are counted once per encoding.
    """
    today = today or date.today()
    counted: dict[str, tuple[list[int], list[int]]] = {}  # one count per encoding, not per model
    rows = []
    for info in MODELS.values():
        if info.hidden or not info.chat or method not in info.methods:
            continue
        ok, reason = trainable(info.id, today)
        if not ok and not include_unavailable:
            continue
        choice = tokens.encoding_choice(info.id)
        if choice.name not in counted:
            counted[choice.name] = tokens.count_examples(examples, choice.name)
        est = _estimate_from_counts(info.id, info, choice, *counted[choice.name], epochs, None)
        rows.append({
            "model": info.id,
            "label": info.label,
            "provider": info.provider,
            "trainable": ok,
            "reason": reason,
            "training_per_1m": info.training_per_1m,
            "training_per_hour": info.training_per_hour,
            "epochs": est.epochs,
            "billed_tokens": est.billed_tokens,
            "trained_tokens": est.trained_tokens,
            "cost_usd": est.cost_usd,
            "encoding": est.encoding,
            "exact_encoding": est.exact_encoding,
            "token_limit": est.token_limit,
            "over_limit": len(est.over_limit),
            "training_until": info.training_until,
            "shutdown": info.shutdown,
            "price_date": PRICE_DATE if info.provider == "openai" else "",
        })
    rows.sort(key=lambda r: (not r["trainable"], r["cost_usd"] is None, r["cost_usd"] or 0.0, r["model"]))
    return rows


# --------------------------------------------------------------------------------------------------
# Inference cost, and prompting versus fine-tuning
# --------------------------------------------------------------------------------------------------


def inference_cost(
    model: str, prompt_tokens: int, completion_tokens: int, *, fine_tuned: bool, cached_tokens: int = 0
) -> float | None:
    """Dollars for one request; None when the table has no price. An `ft:` id always uses fine-tuned prices.

    `cached_tokens` (part of `prompt_tokens`) are billed at the cached-input price where there is one.
    """
    info = model_info(model)
    if info is None:
        return None
    prices = info.finetuned if (fine_tuned or info.fine_tuned) else info.base
    if prices.input is None or prices.output is None:
        return None
    cached = max(0, min(cached_tokens, prompt_tokens))
    cached_price = prices.cached_input if prices.cached_input is not None else prices.input
    dollars = (prompt_tokens - cached) * prices.input + cached * cached_price + completion_tokens * prices.output
    return dollars / 1_000_000


@dataclass
class BreakEven:
    """Few-shot prompting of the base model against a fine-tuned model with a short prompt, per month."""

    model: str
    requests_per_month: int
    per_request_prompting: float
    per_request_finetuned: float
    training_cost: float
    monthly_prompting: float
    monthly_finetuned: float
    break_even_requests: float | None  # total requests after which fine-tuning is cheaper; None: never
    break_even_months: float | None
    series: list[dict[str, float]]  # month, prompting, fine_tuned: cumulative dollars (training in month 0)


def prompting_vs_finetuning(
    requests_per_month: int,
    prompt_tokens_short: int,
    fewshot_extra_tokens: int,
    completion_tokens: int,
    base_model: str,
    training_cost: float,
    *,
    months: int = 12,
) -> BreakEven:
    """Compare the two ways to get the behaviour (the second seed's question), with the one-off training.

    Prompting pays base-model prices for the short prompt plus the few-shot examples on every request;
    the fine-tuned model pays its higher per-token prices on the short prompt only, plus the training
    once. Break-even requests = training cost ÷ (per-request saving), when there is a saving.
    """
    if requests_per_month < 0 or min(prompt_tokens_short, fewshot_extra_tokens, completion_tokens) < 0:
        raise ValueError("Requests and token counts cannot be negative.")
    per_prompting = inference_cost(
        base_model, prompt_tokens_short + fewshot_extra_tokens, completion_tokens, fine_tuned=False
    )
    per_finetuned = inference_cost(base_model, prompt_tokens_short, completion_tokens, fine_tuned=True)
    if per_prompting is None or per_finetuned is None:
        raise ValueError(f"No inference price for {base_model} in the table (prices as of {PRICE_DATE}).")
    saving = per_prompting - per_finetuned
    break_even = training_cost / saving if saving > 0 else None
    if break_even is not None and training_cost <= 0:
        break_even = 0.0
    monthly_p = requests_per_month * per_prompting
    monthly_f = requests_per_month * per_finetuned
    series = [
        {"month": float(m), "prompting": monthly_p * m, "fine_tuned": training_cost + monthly_f * m}
        for m in range(0, months + 1)
    ]
    return BreakEven(
        model=base_model,
        requests_per_month=requests_per_month,
        per_request_prompting=per_prompting,
        per_request_finetuned=per_finetuned,
        training_cost=training_cost,
        monthly_prompting=monthly_p,
        monthly_finetuned=monthly_f,
        break_even_requests=break_even,
        break_even_months=(break_even / requests_per_month) if break_even is not None and requests_per_month else None,
        series=series,
    )
