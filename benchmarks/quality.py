"""What the local path produces, as a user would see it: train the sample, ask 20 unseen elements.

    python benchmarks/quality.py                                   # the studio's default recipe (lib.services.recipe)
    python benchmarks/quality.py --epochs 6 --lr 2 --rank 32       # another recipe
    python benchmarks/quality.py --epochs auto --lr auto --no-facts-card   # OpenAI's automatic rule, no card
    python benchmarks/quality.py --full --epochs 4                 # train every weight
    python benchmarks/quality.py --recipe-only                     # skip the base model

Trains the 12 sample rows (the seeded empty answer filled with the README's Copper limerick) on
SmolLM2-135M-Instruct through the engine's HTTP API, exactly as the Train page does, then asks the base
and the fine-tuned model "Tell me about X" for 20 elements not in the training rows (greedy, as
`lib.evaluation.scoring` does) and prints the share of clean five-line AABBA limericks, of replies with a right
atomic number, and of replies with a wrong one, plus the training time. Targets for the default recipe:
>= 90% clean limericks, >= 90% of replies with no wrong atomic number, trained in <= 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.checks import facts_card  # noqa: E402
from lib.dataprep import dataset, readers  # noqa: E402
from lib.evaluation import comparison as playground  # noqa: E402
from lib.evaluation import scoring  # noqa: E402
from lib.services import jobs, recipe  # noqa: E402
from lib.services.providers import ProviderConfig, make_client  # noqa: E402

SAMPLE = ROOT / "sample_data" / "elements_limericks.jsonl"
COPPER = ("Copper's twenty-nine, reddish and bright, - It runs wires that give us our light; - Left out in the "
          "rain, - It goes green with a stain, - Like the Statue of Liberty, quite!")
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def sample() -> dataset.Dataset:
    data = readers.load_file(SAMPLE)
    for example in data.examples:
        for message in example["messages"]:
            if message["role"] == "assistant" and not message["content"]:
                message["content"] = COPPER
    return data


def atomic(score: scoring.ModelScore) -> tuple[int, int]:
    """(replies with a right atomic number and no wrong one, replies with a wrong atomic number)."""
    right = wrong = 0
    for reply in score.replies:
        bad = any(w.startswith("atomic number") for w in reply.wrong_facts)
        wrong += bad
        right += (not bad) and "atomic_number" in reply.right_properties
    return right, wrong


def line(label: str, score: scoring.ModelScore) -> dict:
    right, wrong = atomic(score)
    n = score.n or 1
    row = {"model": label, "clean_limericks": score.clean / n, "right_facts": score.right / n,
           "wrong_facts": score.wrong / n, "wrong_atomic_number": wrong / n, "no_wrong_atomic_number": 1 - wrong / n,
           "headline": score.headline()}
    print(f"{label:<12} clean limericks {score.clean}/{score.n} ({row['clean_limericks']:.0%}) · "
          f"no wrong atomic number {score.n - wrong}/{score.n} ({row['no_wrong_atomic_number']:.0%}) · "
          f"right facts {score.right}/{score.n} · wrong facts {score.wrong}/{score.n}")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", default="recipe", help="a number, auto (the engine's OpenAI rule) or recipe")
    parser.add_argument("--lr", default="recipe", help="learning-rate multiplier: a number, auto or recipe")
    parser.add_argument("--batch-size", default="auto")
    parser.add_argument("--rank", type=int, help="LoRA rank (engine default when absent)")
    parser.add_argument("--full", action="store_true", help="train every weight")
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--recipe-only", action="store_true", help="do not score the base model")
    parser.add_argument("--show", action="store_true", help="print every reply")
    parser.add_argument("--facts-card", action=argparse.BooleanOptionalAction, default=True,
                        help="give every training row and question its element's facts card (default: on)")
    parser.add_argument("--base-url", help="an engine already running (else one is started on a free port)")
    args = parser.parse_args()

    handle = None
    if args.base_url:
        config = ProviderConfig(kind="local", base_url=args.base_url, timeout=600)
    else:
        from lib.engine.process import ensure_running
        from tests.plugins.engine import free_port

        handle = ensure_running(port=free_port(), data_dir=Path(tempfile.mkdtemp(prefix="fts-quality-")), timeout=180)
        config = ProviderConfig(kind="local", base_url=handle.base_url, api_key=handle.api_key, timeout=600)
    try:
        client = make_client(config)
        data = sample()
        metadata = {"training": "full"} if args.full else {}
        if args.rank:
            metadata = {"training": "lora", "lora_rank": str(args.rank)}
        rows = data.train_examples()
        if args.facts_card:
            rows = facts_card.add_to_rows(rows)
            metadata[facts_card.METADATA_KEY] = "on"
        n_rows = len(data.train_examples())
        epochs = {"auto": "auto", "recipe": recipe.epochs(n_rows)}.get(args.epochs) or int(args.epochs)
        lr = {"auto": "auto", "recipe": recipe.LEARNING_RATE_MULTIPLIER}.get(args.lr) or float(args.lr)
        batch = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
        started = time.perf_counter()
        job = jobs.launch(client, dataset.to_jsonl(rows), model=MODEL, n_epochs=epochs,
                          learning_rate_multiplier=lr, batch_size=batch, metadata=metadata or None, seed=0)
        while job.status not in ("succeeded", "failed", "cancelled"):
            time.sleep(1)
            job = jobs.retrieve(client, job.id)
        trained = time.perf_counter() - started
        if job.status != "succeeded":
            print(f"the job {job.status}: {job.error}", file=sys.stderr)
            return 1
        hyper = job.method.supervised.hyperparameters if job.method and job.method.supervised else job.hyperparameters
        print(f"recipe: {hyper.n_epochs} epochs, batch {hyper.batch_size}, lr x{hyper.learning_rate_multiplier}, "
              f"{'every weight' if args.full else f'LoRA rank {args.rank or 16}'}; trained in {trained:.0f} s "
              f"(create to succeeded), {job.trained_tokens} tokens")
        prompts = scoring.held_out_prompts(data, args.prompts)
        contenders = [playground.Contender(label="fine-tuned", model=job.fine_tuned_model, client=client,
                                           provider=config, facts_card=args.facts_card)]
        if not args.recipe_only:
            contenders.append(playground.Contender(label="base", model=MODEL, client=client, provider=config,
                                                   facts_card=args.facts_card))
        asked = time.perf_counter()
        scores = scoring.score_models(contenders, prompts, system_prompt=data.system_prompt or None)
        print(f"asked {len(prompts)} prompts x {len(contenders)} models in {time.perf_counter() - asked:.0f} s")
        rows = [line(c.label, s) for c, s in zip(contenders, scores, strict=True)]
        if args.show:
            for reply in scores[0].replies:
                print(f"- {reply.prompt}: {reply.text!r} clean={reply.clean_limerick} wrong={reply.wrong_facts}")
        print(json.dumps({"seconds": round(trained, 1), "epochs": hyper.n_epochs, "lr": hyper.learning_rate_multiplier,
                          "rank": args.rank, "full": args.full, "rows": rows}))
    finally:
        if handle is not None:
            handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
