"""SmolLM2 itself learns the form of the sample data: the journey's promise, checked end to end."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lib.engine.models import DEFAULT_MODEL
from tests.plugins.engine import write_jsonl

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def limerick_shaped(text: str) -> bool:
    """Five lines joined by " - " as in the training data (one line merged or split is still the shape)."""
    parts = [p for p in text.split(" - ") if p.strip()]
    return 4 <= len(parts) <= 6 and "\n" not in text.strip()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~2 min on an idle 2-core machine; much more when it is shared
def test_fine_tuned_smollm2_answers_held_out_elements_in_the_training_shape(engine_server, tmp_path):
    engine_client = engine_server.client(timeout=900)  # a shared, busy machine can be very slow
    rows = [json.loads(line) for line in (SAMPLE / "elements_limericks.jsonl").read_text().splitlines() if line]
    rows = [r for r in rows if all(m["content"].strip() for m in r["messages"])]  # the seeded empty answer out
    assert len(rows) == 11
    with write_jsonl(tmp_path / "limericks.jsonl", rows).open("rb") as handle:
        training = engine_client.files.create(file=handle, purpose="fine-tune")
    job = engine_client.fine_tuning.jobs.create(model=DEFAULT_MODEL, training_file=training.id, seed=0,
                                                suffix="elle")
    deadline = time.monotonic() + 1500
    while (job := engine_client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed",
                                                                                  "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(1)
    assert job.status == "succeeded", job.error
    assert job.hyperparameters.n_epochs == 9  # OpenAI's auto rule: 100 // 11

    system = rows[0]["messages"][0]["content"]
    prompts = [json.loads(line)["prompt"] for line in (SAMPLE / "held_out_prompts.jsonl").read_text().splitlines()
               if line][:6]
    assert prompts[0] == "Tell me about Strontium"

    def replies(model: str) -> list[str]:
        return [engine_client.chat.completions.create(
            model=model, temperature=0, seed=0, max_tokens=120,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
        ).choices[0].message.content for prompt in prompts]

    base = replies(DEFAULT_MODEL)
    tuned = replies(job.fine_tuned_model)
    assert not any(limerick_shaped(text) for text in base), base
    assert sum(limerick_shaped(text) for text in tuned) >= 4, tuned
    assert all(" - " not in text for text in base)

    # The Playground asks both at once: the engine batches them (base and adapter rows in one generate),
    # and each gets the answer it gives alone.
    from concurrent.futures import ThreadPoolExecutor

    def one(model: str) -> str:
        return engine_client.chat.completions.create(
            model=model, temperature=0, max_tokens=120,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompts[0]}],
        ).choices[0].message.content

    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(one, (DEFAULT_MODEL, job.fine_tuned_model)))
    assert together == [base[0], tuned[0]]
