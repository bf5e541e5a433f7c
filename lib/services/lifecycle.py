"""When each provider stops training and answering: one dated table, each figure with its source.

The per-model shutdown dates of OpenAI live in `lib.services.pricing.MODELS` (the model table) and are built
from the dates below, so one edit here moves every page, the report, the command line and the README
table (`facts_table`). Sources, compiled in /work/shared/reference/openai-fine-tuning.md (2026-11-28):

* OpenAI: developers.openai.com/api/docs/deprecations ("Update to OpenAI's self-serve fine-tuning",
  mirror of 2026-06-27; notice of 2026-10-14 for the 2027-01-14 shutdowns) and the banner on every
  fine-tuning guide; Evals/graders: the Graders guide and the cookbook page "Moving from OpenAI Evals to
  Promptfoo" (2026-06-03).
* Azure OpenAI: Microsoft Learn `concepts-model-retirement-schedule`, version of 2026-07-07.

Tests and the browser journey move the clock with the environment variable `FTS_TODAY` (YYYY-MM-DD).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "today", "Fact", "FACTS", "AzureTraining", "AZURE_TRAINING", "AZURE_CAVEAT", "AZURE_SOURCE",
    "stops_on", "stop_notice", "is_retired", "retired_message", "urgency", "facts_table",
    "HOSTED_EVALS_NOTE",
]

OPENAI_SOURCE = "developers.openai.com/api/docs/deprecations (mirror 2026-06-27)"
OPENAI_NOTICE_SOURCE = "developers.openai.com/api/docs/deprecations, notice of 2026-10-14"
EVALS_SOURCE = "OpenAI Graders guide; cookbook 'Moving from OpenAI Evals to Promptfoo' (2026-06-03)"
AZURE_SOURCE = "Microsoft Learn, Azure OpenAI concepts-model-retirement-schedule (version of 2026-07-07)"

# --- the dates (one home: lib.services.pricing builds its model rows from these) ----------------------------
NEW_ORGS_CUTOFF = date(2026, 5, 7)  # orgs that never fine-tuned can no longer create jobs
INACTIVE_ORGS_CUTOFF = date(2026, 7, 2)  # orgs without fine-tuned inference in 60 days
LEGACY_SHUTDOWN = date(2026, 9, 28)  # babbage-002, davinci-002, gpt-3.5-turbo-1106
NANO_O4_SHUTDOWN = date(2026, 10, 23)  # gpt-4.1-nano, o4-mini (and RFT), gpt-3.5-turbo-0125, gpt-4-0613
EVALS_SHUTDOWN = date(2026, 11, 30)  # hosted Evals and graders
OPENAI_TRAINING_ENDS = date(2027, 1, 6)  # no new jobs for anyone (403 training_not_available)
GPT4O_GPT41_SHUTDOWN = date(2027, 1, 14)  # gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini and their fine-tunes

HOSTED_EVALS_NOTE = (
    f"OpenAI's hosted Evals and graders shut down on {EVALS_SHUTDOWN.isoformat()}: the studio does not offer "
    "them; it scores replies itself (limerick form and element facts)."
)


def today() -> date:
    """The date the studio reasons with: `FTS_TODAY` (YYYY-MM-DD) when set, else the real date."""
    text = os.environ.get("FTS_TODAY", "").strip()
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    return date.today()


@dataclass(frozen=True)
class Fact:
    """One dated event a user must plan around, with where it comes from."""

    when: date
    provider: str
    what: str
    source: str


FACTS: tuple[Fact, ...] = (
    Fact(NEW_ORGS_CUTOFF, "OpenAI", "Organisations that never fine-tuned can no longer create jobs.", OPENAI_SOURCE),
    Fact(INACTIVE_ORGS_CUTOFF, "OpenAI",
         "Organisations without fine-tuned inference in the last 60 days can no longer create jobs.", OPENAI_SOURCE),
    Fact(NANO_O4_SHUTDOWN, "OpenAI",
         "gpt-4.1-nano and o4-mini shut down with their fine-tunes; reinforcement fine-tuning (RFT) has no model "
         "left.", OPENAI_SOURCE),
    Fact(EVALS_SHUTDOWN, "OpenAI", "Hosted Evals and graders shut down (not offered by the studio).", EVALS_SOURCE),
    Fact(OPENAI_TRAINING_ENDS, "OpenAI",
         "Nobody can create fine-tuning jobs (403 training_not_available).", OPENAI_SOURCE),
    Fact(GPT4O_GPT41_SHUTDOWN, "OpenAI",
         "gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini and every fine-tune built on them stop answering.",
         OPENAI_NOTICE_SOURCE),
    Fact(date(2026, 10, 1), "Azure OpenAI",
         "Base gpt-4.1 / gpt-4o / o4-mini models retire (2026-10-01 to 2026-10-16 by model); training of their "
         "fine-tunes goes on for existing customers only.", AZURE_SOURCE),
    Fact(date(2027, 4, 1), "Azure OpenAI",
         "Training of fine-tuned gpt-4o / gpt-4o-mini ends no earlier than 2027-04-01, gpt-4.1 family "
         "2027-04-14, o4-mini 2027-04-16 — existing customers only.", AZURE_SOURCE),
)


@dataclass(frozen=True)
class AzureTraining:
    """Azure OpenAI's two-phase retirement of a fine-tunable model (training, then deployment)."""

    model: str
    training_no_earlier_than: date  # existing customers only
    base_retires: str  # month of the base model's retirement, when new customers lose training


AZURE_TRAINING: dict[str, AzureTraining] = {
    row.model: row for row in (
        AzureTraining("gpt-4.1-2025-04-14", date(2027, 4, 14), "2026-10"),
        AzureTraining("gpt-4.1-mini-2025-04-14", date(2027, 4, 14), "2026-10"),
        AzureTraining("gpt-4.1-nano-2025-04-14", date(2027, 4, 14), "2026-10"),
        AzureTraining("gpt-4o-2024-08-06", date(2027, 4, 1), "2026-10"),
        AzureTraining("gpt-4o-mini-2024-07-18", date(2027, 4, 1), "2026-10"),
        AzureTraining("o4-mini-2025-04-16", date(2027, 4, 16), "2026-10"),
    )
}

AZURE_CAVEAT = (
    "Azure OpenAI trains fine-tuned gpt-4.1, gpt-4o and o4-mini no earlier than 2027-04 for existing customers "
    "only; for anyone else training retired with the base models in 2026-10 "
    f"({AZURE_SOURCE}). The local engine trains on this computer with no account."
)


def azure_reason(model_id: str) -> str:
    """Why (and until when) Azure OpenAI may train `model_id`, with the existing-customers caveat."""
    row = AZURE_TRAINING.get(model_id)
    if row is None:
        return f"Azure OpenAI's retirement schedule has no training date for {model_id}."
    return (
        f"Azure OpenAI: existing customers only, training until no earlier than "
        f"{row.training_no_earlier_than.isoformat()}; for new customers it retired with the base model "
        f"({row.base_retires})."
    )


# --- a model's own date --------------------------------------------------------------------------


def stops_on(model_id: str) -> date | None:
    """The first day `model_id` (a base model or a fine-tune such as `ft:gpt-4.1-mini:org::id`) no longer
    answers on OpenAI; None when no date is announced or the model is not OpenAI's."""
    from lib.services import pricing  # pricing builds its rows from this module's dates

    info = pricing.model_info(model_id)
    if info is None or info.provider != "openai":
        return None
    return info.finetunes_answer_until if info.fine_tuned else info.shutdown


def stop_notice(model_id: str, on: date | None = None) -> str | None:
    """"Stops answering on 2027-01-14 (in 47 days)…", or that it stopped; None where nothing is announced."""
    when = stops_on(model_id)
    if when is None:
        return None
    on = on or today()
    base = _base_name(model_id)
    if on >= when:
        return (f"OpenAI retired {base} on {when.isoformat()}: this model stopped answering then. "
                "Bring its dataset home and train it on the local engine.")
    days = (when - on).days
    built = f" (built on {base})" if model_id.startswith("ft:") else ""
    return (f"Stops answering on {when.isoformat()} (in {days} day{'s' if days != 1 else ''}){built}: "
            "bring it home to the local engine before then.")


def is_retired(model_id: str, on: date | None = None) -> bool:
    when = stops_on(model_id)
    return when is not None and (on or today()) >= when


def retired_message(model_id: str, who: str = "OpenAI", on: date | None = None) -> str | None:
    """The plain explanation of a 404 for a model past its shutdown date (None when it is not past it)."""
    when = stops_on(model_id)
    if when is None or (on or today()) < when:
        return None
    return (
        f"{who} no longer serves {model_id}: its base model {_base_name(model_id)} was retired on "
        f"{when.isoformat()}, and fine-tuned models built on it stopped answering with it. This is not a typo. "
        "Use the local copy you brought home (Train page → Bring a fine-tune home), or retrain its dataset there."
    )


def urgency(model_id: str, on: date | None = None) -> int:
    """Days left before `model_id` stops answering (negative once gone); a large number when no date."""
    when = stops_on(model_id)
    return 10**6 if when is None else (when - (on or today())).days


def facts_table() -> list[dict[str, str]]:
    """The dated facts, oldest first, as rows for the README and the Train page."""
    return [{"date": f.when.isoformat(), "provider": f.provider, "what": f.what, "source": f.source}
            for f in sorted(FACTS, key=lambda f: f.when)]


def last_day(when: date) -> str:
    return (when - timedelta(days=1)).isoformat()


def _base_name(model_id: str) -> str:
    from lib.dataprep import tokens

    return tokens.base_model(model_id)
