"""A job's result file (plain or base64, OpenAI's or Azure's columns) and what its loss curves say."""

from __future__ import annotations

import base64

import pytest

from lib.services import job_results

CSV = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.5,0.4,,\n2,1.25,0.5,1.5,0.45\n"


@pytest.mark.parametrize(
    "raw",
    [
        CSV.encode(),
        base64.b64encode(CSV.encode()),
        base64.b64encode(CSV.encode()) + b"\n",
        b"\n".join(base64.encodebytes(CSV.encode()).split(b"\n")),
        ("\ufeff" + CSV).encode(),
    ],
    ids=["plain", "base64", "base64-newline", "base64-wrapped", "bom"],
)
def test_result_files_plain_or_base64(raw):
    text = job_results.decode_result_file(raw)
    assert text == CSV
    columns, rows = job_results.parse_result_csv(text)
    assert columns == ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
    assert rows == [
        {"step": 1, "train_loss": 2.5, "train_accuracy": 0.4, "valid_loss": None, "valid_mean_token_accuracy": None},
        {"step": 2, "train_loss": 1.25, "train_accuracy": 0.5, "valid_loss": 1.5, "valid_mean_token_accuracy": 0.45},
    ]


def test_azures_result_columns_are_read_as_they_come():
    text = "step,train_loss,train_mean_token_accuracy,valid_loss,validation_mean_token_accuracy,full_valid_loss\n3,0.5,0.9,0.6,0.8,nan\n"
    columns, rows = job_results.parse_result_csv(text)
    assert columns[2] == "train_mean_token_accuracy" and rows[0]["full_valid_loss"] is None


def rows(train, valid=None):
    valid = valid or [None] * len(train)
    return [{"step": i + 1, "train_loss": t, "valid_loss": v} for i, (t, v) in enumerate(zip(train, valid, strict=True))]


def test_read_curves_falling():
    text = job_results.read_curves(rows([3, 2.5, 2, 1.5, 1.2, 1.0], [3.1, 2.7, 2.2, 1.8, 1.5, 1.2]))
    assert text.startswith("Validation loss is still falling") and "still learning" in text


def test_read_curves_flat():
    text = job_results.read_curves(rows([3, 2, 1.5, 1.4, 1.35, 1.3, 1.3, 1.3, 1.3], [2, 1.6, 1.5, 1.5, 1.5, 1.49, 1.5, 1.5, 1.5]))
    assert "levelled off" in text and "more epochs would add little" in text


def test_read_curves_rising_while_training_falls_is_memorising():
    text = job_results.read_curves(
        rows([3, 2, 1.2, 0.8, 0.4, 0.2, 0.1, 0.05, 0.02], [2.5, 1.8, 1.2, 1.1, 1.3, 1.5, 1.7, 1.9, 2.1]), n_examples=10
    )
    assert "it is memorising: fewer epochs or more examples" in text
    assert "With only 10 examples" in text and "checkpoint nearest step 4" in text


def test_read_curves_without_validation_or_too_early():
    assert job_results.read_curves([]).startswith("Too early to tell")
    text = job_results.read_curves(rows([3, 2, 1, 0.5, 0.3, 0.2]))
    assert text.startswith("Training loss fell from") and "the held-out score below" in text
