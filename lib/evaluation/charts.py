"""Plotly figures the pages and the report share (one figure, one function)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from lib.services.metrics import METRIC_NAMES, StepMetrics

LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=320, legend=dict(orientation="h", y=-0.2))


def token_histograms(tokens: Sequence[int], assistant_tokens: Sequence[int], limit: int | None = None) -> go.Figure:
    """Tokens per example (whole conversation and answer only), with the model's limit marked."""
    fig = go.Figure()
    fig.add_histogram(x=list(tokens), name="Whole example", opacity=0.75, nbinsx=30)
    fig.add_histogram(x=list(assistant_tokens), name="Answer only", opacity=0.75, nbinsx=30)
    fig.update_layout(barmode="overlay", title="Tokens per example", xaxis_title="tokens",
                      yaxis_title="examples", **LAYOUT)
    if limit and tokens and max(tokens) > 0.5 * limit:
        fig.add_vline(x=limit, line_dash="dash", line_color="red", annotation_text="limit (truncated beyond)")
    return fig


def cost_by_model(models: Sequence[str], costs: Sequence[float | None]) -> go.Figure:
    pairs = [(m, c) for m, c in zip(models, costs, strict=True) if c is not None]
    fig = go.Figure(go.Bar(x=[c for _, c in pairs], y=[plot_text(m) for m, _ in pairs], orientation="h",
                           text=[f"${c:,.2f}" for _, c in pairs], textposition="auto"))
    fig.update_layout(title="Training cost per model", xaxis_title="USD", **LAYOUT)
    return fig


def cumulative_cost(months: Sequence[float], series: dict[str, Sequence[float]],
                    break_even_month: float | None) -> go.Figure:
    """Money spent so far, month by month, for each way of getting the behaviour."""
    fig = go.Figure()
    for name, values in series.items():
        fig.add_scatter(x=list(months), y=list(values), mode="lines+markers", name=name)
    if break_even_month is not None and break_even_month <= max(months, default=0):
        fig.add_vline(x=break_even_month, line_dash="dot", annotation_text="break-even")
    fig.update_layout(title="Total spent", xaxis_title="months in use", yaxis_title="USD", **LAYOUT)
    return fig


def training_curves(rows: Sequence[dict], *, metric: str = "loss") -> go.Figure:
    """Training (and validation) loss or token accuracy against step, from metrics events or the result CSV."""
    fig = go.Figure()
    keys = (("train_loss", "Training loss"), ("valid_loss", "Validation loss")) if metric == "loss" else (
        ("train_mean_token_accuracy", "Training accuracy"), ("valid_mean_token_accuracy", "Validation accuracy"))
    for key, name in keys:
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None and r.get("step") is not None]
        if points:
            fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name,
                            marker=dict(size=4))
    fig.update_layout(title="Loss" if metric == "loss" else "Token accuracy", xaxis_title="step", **LAYOUT)
    return fig


def loss_overlay(runs: dict[str, Sequence[Any]], *, metric: str = "train_loss") -> go.Figure:
    """Several jobs' curves on one chart (a sweep's runs), one line per run label; `metric` is one of
    `lib.services.metrics.METRIC_NAMES`, each row anything `StepMetrics.from_any` reads."""
    if metric not in METRIC_NAMES:
        raise ValueError(f"Unknown metric {metric!r}; one of {', '.join(METRIC_NAMES)}.")
    fig = go.Figure()
    for label, rows in runs.items():
        points = sorted((m.step, getattr(m, metric)) for m in map(StepMetrics.from_any, rows)
                        if m is not None and getattr(m, metric) is not None)
        if points:
            fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines", name=plot_text(label))
    title = metric.replace("_", " ").replace("train ", "training ").replace("valid ", "validation ").capitalize()
    fig.update_layout(title=f"{title}, every run", xaxis_title="step", **LAYOUT)
    return fig


def plot_text(text: Any) -> str:
    """User or model text (a model label, a prompt) for a Plotly label, shown as written. Plotly reads
    `<a href>`, `<b>`, `<br>` in labels as markup, so a label `<a href=...>` would be a live link."""
    return html.escape(str(text), quote=False)


def grouped_bars(categories: Sequence[str], series: dict[str, Sequence[float]], title: str) -> go.Figure:
    """One bar per contender and category (batch evaluation scores)."""
    fig = go.Figure()
    for name, values in series.items():
        fig.add_bar(x=[plot_text(c) for c in categories], y=list(values), name=plot_text(name))
    fig.update_layout(barmode="group", title=title, **LAYOUT)
    return fig
