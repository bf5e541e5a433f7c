"""One training step's metrics under one set of names: OpenAI's events, checkpoints and result file in and out."""

from __future__ import annotations

from lib.evaluation import charts
from lib.services import job_monitor
from lib.services.metrics import RESULT_COLUMNS, StepMetrics


def test_an_event_from_openai_reads_back_under_the_same_names_and_draws_both_charts():
    event = {"created_at": 1700000000, "message": "Step 85/100: training loss=0.14", "type": "metrics",
             "data": {"step": 85, "train_loss": 0.14, "valid_loss": 0.27, "total_steps": 100,
                      "train_mean_token_accuracy": 0.91, "valid_mean_token_accuracy": 0.83}}
    row = job_monitor.metrics_row(event)
    assert row["train_mean_token_accuracy"] == 0.91 and row["valid_mean_token_accuracy"] == 0.83
    accuracy = charts.training_curves([row], metric="accuracy")
    assert [(t.name, list(t.x), list(t.y)) for t in accuracy.data] == [
        ("Training accuracy", [85], [0.91]), ("Validation accuracy", [85], [0.83])]


def test_the_engine_writes_what_openai_writes():
    record = StepMetrics(step=3, total_steps=10, train_loss=1.23456, train_mean_token_accuracy=0.5, valid_loss=2.0)
    assert record.event_message() == "Step 3/10: training loss=1.23, validation loss=2.00"
    assert record.event_data() == {"step": 3, "total_steps": 10, "train_loss": 1.23456, "valid_loss": 2.0,
                                   "train_mean_token_accuracy": 0.5, "valid_mean_token_accuracy": None}
    assert record.checkpoint_metrics() == {"step": 3.0, "train_loss": 1.23456, "valid_loss": 2.0,
                                           "train_mean_token_accuracy": 0.5}
    assert RESULT_COLUMNS == ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")
    assert record.result_row() == ["3", "1.23456", "0.5", "2", ""]
    assert StepMetrics.from_event({"data": record.event_data(), "message": record.event_message()}) == record


def test_result_rows_of_openai_and_azure_read_the_same():
    openai_row = {"step": 2, "train_loss": 1.25, "train_accuracy": 0.5, "valid_loss": 1.5,
                  "valid_mean_token_accuracy": 0.45}
    azure_row = {"step": 2, "train_loss": 1.25, "train_mean_token_accuracy": 0.5, "valid_loss": 1.5,
                 "validation_mean_token_accuracy": 0.45, "full_valid_loss": None}
    assert StepMetrics.from_mapping(openai_row) == StepMetrics.from_mapping(azure_row) == StepMetrics(
        step=2, train_loss=1.25, train_mean_token_accuracy=0.5, valid_loss=1.5, valid_mean_token_accuracy=0.45)
    assert StepMetrics.from_mapping({"train_loss": 1.0}) is None  # no step, no row


def test_an_event_without_data_is_read_from_its_message_and_others_are_not_metrics():
    record = StepMetrics.from_event({"message": "Step 40/100: training loss=0.42, validation loss=0.55, "
                                                "full validation loss=0.61", "created_at": 5, "data": None})
    assert record == StepMetrics(step=40, total_steps=100, train_loss=0.42, valid_loss=0.55, full_valid_loss=0.61,
                                 created_at=5)
    assert StepMetrics.from_event({"message": "Fine-tuning job started", "data": {}}) is None
