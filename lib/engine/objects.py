"""Database rows → OpenAI's wire objects (file, fine_tuning.job, event, checkpoint, model)."""

from __future__ import annotations

import json
from typing import Any

from lib.engine import models

ORGANIZATION = "org-local"


def _load(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


def file_object(row: dict) -> dict:
    """OpenAI's file object. Files here never expire and carry no status details: those keys are left out,
    since OpenAI's schema types them integer and string (never null)."""
    return {
        "id": row["id"],
        "object": "file",
        "bytes": row["bytes"],
        "created_at": row["created_at"],
        "filename": row["filename"],
        "purpose": row["purpose"],
        "status": row["status"],
    }


def job_object(row: dict) -> dict:
    hyperparameters = _load(row["hyperparameters_json"], {})
    method = _load(row["method_json"], {"type": "supervised"})
    public_hyper = {k: hyperparameters.get(k, "auto") for k in ("batch_size", "learning_rate_multiplier", "n_epochs")}
    return {
        "id": row["id"],
        "object": "fine_tuning.job",
        "created_at": row["created_at"],
        "error": _load(row["error_json"], None),
        "fine_tuned_model": row["fine_tuned_model"],
        "finished_at": row["finished_at"],
        "hyperparameters": public_hyper,
        "model": row["model"],
        "organization_id": ORGANIZATION,
        "result_files": _load(row["result_files_json"], []),
        "seed": row["seed"],
        "status": row["status"],
        "trained_tokens": row["trained_tokens"],
        "training_file": row["training_file"],
        "validation_file": row["validation_file"],
        "estimated_finish": row["estimated_finish"] if row["status"] == "running" else None,
        "integrations": [],
        "metadata": _load(row["metadata_json"], None),
        "method": method,
        "user_provided_suffix": row["suffix"],
    }


def event_object(row: dict) -> dict:
    event = {
        "id": row["id"],
        "object": "fine_tuning.job.event",
        "created_at": row["created_at"],
        "level": row["level"],
        "message": row["message"],
        "type": row["type"],
    }
    data = _load(row["data_json"], None)
    event["data"] = data if data is not None else {}
    return event


def checkpoint_object(row: dict) -> dict:
    return {
        "id": row["id"],
        "object": "fine_tuning.job.checkpoint",
        "created_at": row["created_at"],
        "fine_tuned_model_checkpoint": row["fine_tuned_model_checkpoint"],
        "fine_tuning_job_id": row["job_id"],
        "metrics": _load(row["metrics_json"], {}),
        "step_number": row["step_number"],
    }


def base_model_object(model_id: str, created: int = 1730419200) -> dict:
    info = models.BUILTIN.get(model_id)
    description = info.description if info else "Causal language model (loaded with transformers)"
    return {
        "id": model_id,
        "object": "model",
        "created": created,
        "owned_by": info.owned_by if info else model_id.split("/")[0] if "/" in model_id else "local",
        "description": description,
        "fine_tunable": True,
    }


def fine_tuned_model_object(row: dict) -> dict:
    kind = "checkpoint" if row["step"] is not None else "fine-tuned model"
    return {
        "id": row["id"],
        "object": "model",
        "created": row["created_at"],
        "owned_by": ORGANIZATION,
        "description": f"{kind} of {row['base_model']} ({row['kind']}, job {row['job_id']})",
        "fine_tunable": False,
    }


def page(items: list[dict], has_more: bool) -> dict:
    return {
        "object": "list",
        "data": items,
        "has_more": has_more,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
    }
