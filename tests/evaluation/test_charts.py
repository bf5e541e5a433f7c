"""Charts the pages and the report share: what a user reads off them."""

from __future__ import annotations

import pytest

from lib.evaluation import charts


def test_a_sweeps_runs_are_drawn_as_one_line_each_from_whatever_shape_their_steps_come_in():
    runs = {
        "1. 3 epochs": [{"step": 2, "train_loss": 1.5}, {"step": 1, "train_loss": 2.0}],  # monitor rows, any order
        "2. 6 epochs": [{"created_at": 1, "message": "Step 1/6: training loss=2.10"},  # OpenAI's event line
                        {"data": {"step": 2, "total_steps": 6, "train_loss": 1.2}}],   # a metrics event
        "3. <b>not yet</b>": [],
    }
    fig = charts.loss_overlay(runs)
    lines = {trace.name: (list(trace.x), list(trace.y)) for trace in fig.data}
    assert lines == {"1. 3 epochs": ([1, 2], [2.0, 1.5]), "2. 6 epochs": ([1, 2], [2.1, 1.2])}
    assert fig.layout.title.text == "Training loss, every run"


def test_a_metric_that_does_not_exist_is_refused_by_name():
    with pytest.raises(ValueError, match="Unknown metric 'loss'"):
        charts.loss_overlay({}, metric="loss")
