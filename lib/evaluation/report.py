"""A stakeholder report: ONE self-contained HTML file that opens offline and prints well.

Everything is inline: the CSS, the charts (plotly figures with plotly.js embedded once, not a
CDN), no external scripts, fonts, stylesheets or images. Every piece of model or user text is
escaped, so a reply that says `<script>` shows as text. Every section is optional: a report
works with just a batch, or just a training job.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from lib.checks import facts, quality
from lib.dataprep import validation
from lib.evaluation import blind_votes, scoring
from lib.evaluation import comparison as playground
from lib.evaluation.charts import plot_text
from lib.services import job_results, pricing
from lib.services.metrics import StepMetrics

__all__ = [
    "build_report",
    "conclusion",
    "cost_figure",
    "dataset_summary",
    "form_figure",
    "loss_figure",
    "win_rate_figure",
]

_COLOURS = ["#2563eb", "#dc2626", "#059669", "#7c3aed"]
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

_CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --good:#047857; --bad:#b91c1c; --panel:#f9fafb; }
* { box-sizing: border-box; }
body { font-family: __FONT__; color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 24px 32px;
       line-height: 1.45; font-size: 15px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 0 0 12px; border-bottom: 2px solid var(--line);
       padding-bottom: 4px; } h3 { font-size: 16px; margin: 16px 0 8px; }
.meta { color: var(--muted); margin: 0 0 16px; }
section { margin: 28px 0; }
.conclusion { background: #eff6ff; border-left: 5px solid #2563eb; padding: 12px 16px; font-size: 17px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.kv th { width: 32%; }
table.replies { table-layout: fixed; } table.replies th:first-child { width: 22%; }
.samples { display: grid; gap: 12px; grid-template-columns: repeat(var(--cols, 2), minmax(0, 1fr)); }
.reply { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: #fff; }
.reply h4 { margin: 0 0 6px; font-size: 14px; }
.reply pre, pre.text { white-space: pre-wrap; word-wrap: break-word; font-family: inherit; margin: 0 0 8px;
                       font-size: 14px; }
.prompt { background: var(--panel); padding: 6px 10px; border-radius: 4px; margin: 16px 0 8px; }
.small { font-size: 12px; color: var(--muted); }
.good { color: var(--good); } .bad { color: var(--bad); } .error { color: var(--bad); font-weight: 600; }
.chart { margin: 8px 0 16px; overflow: hidden; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 12px; }
  table { font-size: 11px; } th, td { padding: 4px 5px; }
  .reply pre, pre.text { font-size: 12px; }
  @page { margin: 14mm; }
  section { break-inside: auto; }
  section.page { break-before: page; }
  .reply, tr, .chart, .conclusion, .prompt { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .modebar, .modebar-container { display: none !important; }
  a { color: inherit; text-decoration: none; }
}
""".replace("__FONT__", _FONT)


# --------------------------------------------------------------------------- small helpers


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """A field from a dict or an object (an SDK model), trying several names."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def _money(value: Any) -> str:
    if value is None:
        return "unknown"
    value = float(value)
    if value == 0:
        return "$0"
    if value < 0.1:
        value = float(f"{value:.2g}")  # two significant digits: $0.057, $0.00015
    if value >= 0.1:
        return f"${value:,.2f}"
    decimals = min(10, 1 - math.floor(math.log10(value)))
    return f"${value:.{decimals}f}".rstrip("0")


def _num(value: Any, fmt: str = "{:.2f}", missing: str = "–") -> str:
    if value is None:
        return missing
    with contextlib.suppress(TypeError, ValueError):
        return fmt.format(value)
    return _e(value)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.0f}%"


def _seconds(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f} s"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _summary_of(batch: Any, summary: dict | None, votes: Any) -> dict | None:
    if summary is not None:
        return summary
    if batch is None:
        return None
    return blind_votes.summary(batch, votes)


def _reply_dict(reply: Any) -> dict[str, Any]:
    """A reply as a dict with its scores, whether it is a playground.Reply or already a dict."""
    if isinstance(reply, dict):
        return {**reply, **playground.Reply.from_dict(reply).scores()}
    data = reply.to_dict() if hasattr(reply, "to_dict") else dict(vars(reply))
    if hasattr(reply, "scores"):
        data.update(reply.scores())
    return data


# --------------------------------------------------------------------------- dataset


def dataset_summary(dataset: Any, *, format: str | None = None) -> dict[str, Any]:
    """Examples, validity, share of well-formed limericks and contradicted facts, from a Dataset or examples.

    The Dataset page's own figures: lib.dataprep.validation's rules and lib.checks.quality's limerick and fact checks.
    """
    examples = list(_get(dataset, "examples", default=dataset) or [])
    out: dict[str, Any] = {"examples": len(examples)}
    name = _get(dataset, "name") if not isinstance(dataset, list) else None
    if name:
        out["name"] = name
    split = _get(dataset, "split") if not isinstance(dataset, list) else None
    if isinstance(split, list) and split:
        out["train"] = sum(1 for s in split if s == "train")
        out["validation"] = sum(1 for s in split if s == "validation")
    fmt = format or (_get(dataset, "format") if not isinstance(dataset, list) else None) or "chat"
    report = validation.validate(examples, format=fmt)
    out["valid"] = bool(report.valid)
    out["errors"] = sum(1 for i in report.issues if i.severity == "error")
    out["warnings"] = sum(1 for i in report.issues if i.severity == "warning")
    figures = quality.summary(quality.score_examples(examples))  # chat, legacy and DPO rows alike
    answered = figures.rows - len(figures.empty_answers)
    out.update({"limericks": figures.limericks, "answered": answered, "contradicted": figures.contradicted})
    if answered:
        out["limerick_share"] = figures.limerick_share
    return out


# --------------------------------------------------------------------------- figures


def _figure_defaults(fig: Any, title: str) -> Any:
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        font={"family": _FONT, "size": 12},
        margin={"l": 50, "r": 20, "t": 50, "b": 80},
        paper_bgcolor="white",
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.22, "x": 0},
    )
    fig.update_yaxes(gridcolor="#e5e7eb", zerolinecolor="#9ca3af")
    return fig


def win_rate_figure(summary: dict) -> Any | None:
    """Human preferences per pair: share of the votes won by each side, and ties."""
    pairs = [p for p in summary.get("pairs") or [] if p.get("votes")]
    if not pairs:
        return None
    import plotly.graph_objects as go

    fig = go.Figure()
    for p in pairs:
        a_label, b_label = plot_text(p["a_label"]), plot_text(p["b_label"])  # shown as written, never markup
        prefix = f"{a_label} vs {b_label}: " if len(pairs) > 1 else ""
        names = [f"{prefix}{a_label}", f"{prefix}tie", f"{prefix}{b_label}"]
        counts = [p["a_wins"], p["ties"], p["b_wins"]]
        fig.add_bar(x=names, y=[100 * c / p["votes"] for c in counts], name=prefix or "votes",
                    marker_color=[_COLOURS[0], "#9ca3af", _COLOURS[1]],
                    text=[f"{100 * c / p['votes']:.0f}% ({c})" for c in counts], textposition="outside",
                    showlegend=False, cliponaxis=False)
    fig.update_yaxes(range=[0, 115], ticksuffix="%")
    return _figure_defaults(fig, "Which reply did people prefer? (% of votes)")


def form_figure(summary: dict) -> Any | None:
    """Share of replies in limerick form and mean form score, per contender."""
    rows = [c for c in summary.get("contenders") or [] if c.get("limerick_rate") is not None
            or c.get("mean_form_score") is not None]
    if not rows:
        return None
    import plotly.graph_objects as go

    labels = [plot_text(c["label"]) for c in rows]
    fig = go.Figure()
    fig.add_bar(x=labels, y=[100 * (c.get("limerick_rate") or 0) for c in rows], name="% of replies in limerick form",
                marker_color=_COLOURS[0], text=[_pct(c.get("limerick_rate")) for c in rows],
                textposition="outside", cliponaxis=False)
    fig.add_bar(x=labels, y=[c.get("mean_form_score") or 0 for c in rows], name="mean form score (of 100)",
                marker_color=_COLOURS[2], text=[_num(c.get("mean_form_score"), "{:.0f}") for c in rows],
                textposition="outside", cliponaxis=False)
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 115])
    return _figure_defaults(fig, "Limerick form")


def cost_figure(summary: dict) -> Any | None:
    """Cost per 1,000 replies, per contender (only those with a known price)."""
    rows = [c for c in summary.get("contenders") or [] if c.get("cost_per_1000") is not None]
    if not rows:
        return None
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=[plot_text(c["label"]) for c in rows], y=[c["cost_per_1000"] for c in rows],
                           marker_color=[_COLOURS[i % len(_COLOURS)] for i in range(len(rows))],
                           text=[_money(c["cost_per_1000"]) for c in rows], textposition="outside",
                           cliponaxis=False))
    fig.update_yaxes(tickprefix="$", range=[0, 1.2 * max(c["cost_per_1000"] for c in rows) or 1])
    return _figure_defaults(fig, "Cost per 1,000 replies (USD)")


def _loss_points(job: Any) -> list[dict[str, Any]]:
    """The job's `loss_curve`/`metrics` as `StepMetrics` rows, whatever shape they were saved in
    (the Train page's rows, metrics events, checkpoint metrics or result-CSV rows)."""
    points = _get(job, "loss_curve", "metrics", "points", default=None) or []
    return [record.to_dict() for record in map(StepMetrics.from_any, points) if record is not None]


def loss_figure(job_or_points: Any) -> Any | None:
    """Training (and validation) loss by step: from a job dict's `loss_curve`/`metrics`, or the points."""
    points = (_loss_points({"metrics": job_or_points}) if isinstance(job_or_points, list)
              else _loss_points(job_or_points))
    if not any(p["train_loss"] is not None for p in points):
        return None
    import plotly.graph_objects as go

    fig = go.Figure()
    train = [p for p in points if p["train_loss"] is not None]
    fig.add_scatter(x=[p["step"] for p in train], y=[p["train_loss"] for p in train], mode="lines",
                    name="training loss", line={"color": _COLOURS[0]})
    valid = [p for p in points if p["valid_loss"] is not None]
    if len(valid) < 3:  # as job_results.read_curves reads them: some providers report validation only over the whole set, at epoch ends
        valid = [{**p, "valid_loss": p["full_valid_loss"]} for p in points if p["full_valid_loss"] is not None] or valid
    if valid:
        fig.add_scatter(x=[p["step"] for p in valid], y=[p["valid_loss"] for p in valid], mode="lines+markers",
                        name="validation loss", line={"color": _COLOURS[1]})
    fig.update_xaxes(title_text="step")
    return _figure_defaults(fig, "Loss during training (lower is better)")


class _Charts:
    """Turns figures into inline HTML; plotly.js goes into the first one only."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.js_included = False

    def html(self, fig: Any, width: int = 500) -> str:
        """The figure at a fixed size: 500 px fits two a row on screen and one a row on an A4 page."""
        if fig is None or not self.enabled:
            return ""
        try:
            import plotly.io as pio
        except ImportError:
            return ""
        fig.update_layout(width=width, height=340)
        div = pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=not self.js_included,  # True: the whole library inline, never a CDN
            include_mathjax=False,
            config={"displaylogo": False, "displayModeBar": False, "responsive": False},
            default_width=f"{width}px",
            default_height="340px",
        )
        self.js_included = True
        return f'<div class="chart" style="width:{width}px">{div}</div>'


# --------------------------------------------------------------------------- conclusion


def _names(contenders: Sequence[dict]) -> list[str]:
    """How the sentence names each contender: by role when the roles are unambiguous, else by label."""
    tuned = [c for c in contenders if c.get("fine_tuned")]
    few = [c for c in contenders if not c.get("fine_tuned") and c.get("few_shot")]
    base = [c for c in contenders if not c.get("fine_tuned") and not c.get("few_shot")]
    names = []
    for c in contenders:
        if c.get("fine_tuned") and len(tuned) == 1:
            names.append("the fine-tuned model")
        elif not c.get("fine_tuned") and c.get("few_shot") and len(few) == 1:
            names.append("the base model with examples in its prompt")
        elif not c.get("fine_tuned") and not c.get("few_shot") and len(base) == 1 and tuned:
            names.append("the base model")
        else:
            names.append(f"“{c['label']}”")
    return names


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def conclusion(summary: dict | None) -> str:
    """The plain-language verdict a stakeholder reads first.

    "The fine-tuned model answered in limerick form 9 times out of 10; the base model 0 times.
    It got 3 facts wrong; the base model 1."
    """
    if not summary or not summary.get("contenders"):
        return ""
    rows = sorted(summary["contenders"], key=lambda c: (not c.get("fine_tuned"), bool(c.get("few_shot"))))
    names = _names(rows)
    sentences = []
    form = [(n, c) for n, c in zip(names, rows, strict=True) if c.get("form_checked")]
    if form:
        first_name, first = form[0]
        parts = [f"{_capital(first_name)} answered in limerick form {first['limericks']} "
                 f"{'time' if first['limericks'] == 1 else 'times'} out of {first['form_checked']}"]
        parts += [f"{n} {_times(c['limericks']) if c['limericks'] else '0 times'}"
                  + ("" if c["form_checked"] == first["form_checked"] else f" out of {c['form_checked']}")
                  for n, c in form[1:]]
        sentences.append("; ".join(parts) + ".")
    fact_rows = [(n, c) for n, c in zip(names, rows, strict=True) if c.get("contradicted") is not None]
    if fact_rows:
        first_name, first = fact_rows[0]
        subject = "It" if form and form[0][0] == first_name else _capital(first_name)
        wrong = first["contradicted"]
        if not any(c["contradicted"] for _, c in fact_rows):
            sentences.append("Neither model got a fact wrong." if len(fact_rows) == 2
                             else "None of them got a fact wrong." if len(fact_rows) > 2
                             else f"{subject} got no facts wrong.")
        else:
            parts = [f"{subject} got {_plural(wrong, 'fact')} wrong" if wrong else f"{subject} got no facts wrong"]
            parts += [f"{n} {c['contradicted']}" for n, c in fact_rows[1:]]
            sentences.append("; ".join(parts) + ".")
    for pair in summary.get("pairs") or []:
        if not pair.get("votes"):
            continue
        a_name, b_name = names[rows.index(_by_index(rows, pair["a"]))], names[rows.index(_by_index(rows, pair["b"]))]
        lead, lead_wins, other, other_wins = (
            (a_name, pair["a_wins"], b_name, pair["b_wins"]) if pair["a_wins"] >= pair["b_wins"]
            else (b_name, pair["b_wins"], a_name, pair["a_wins"])
        )
        ties = f" ({_plural(pair['ties'], 'tie')})" if pair["ties"] else ""
        sentences.append(f"Reviewers preferred {lead} in {lead_wins} of {pair['votes']} comparisons, "
                         f"{other} in {other_wins}{ties}.")
    costs = [(n, c) for n, c in zip(names, rows, strict=True) if c.get("cost_per_1000") is not None]
    if costs and all(c["cost_per_1000"] == 0 for _, c in costs) and len(costs) == len(rows):
        sentences.append("All of them ran on this computer, at no cost per reply.")
    elif costs:
        sentences.append("Per 1,000 replies: " + ", ".join(
            f"{n} {_money(c['cost_per_1000'])}" for n, c in costs) + ".")
    errors = summary.get("errors") or 0
    if errors:
        sentences.append(f"{_plural(errors, 'reply', 'replies')} failed (see the scores table).")
    return " ".join(sentences)


def _by_index(rows: Sequence[dict], index: int) -> dict:
    return next(c for c in rows if c.get("index") == index)


# --------------------------------------------------------------------------- sections


def _section_dataset(data: dict) -> str:
    rows = [("Examples", _e(data.get("examples")))]
    if data.get("name"):
        rows.insert(0, ("Dataset", _e(data["name"])))
    if data.get("version") is not None:
        rows.append(("Version", _e(data["version"])))
    if data.get("train") is not None:
        rows.append(("Training / validation split", f"{_e(data['train'])} / {_e(data.get('validation', 0))}"))
    if data.get("valid") is not None:
        verdict = ('<span class="good">valid: ready to train</span>' if data["valid"]
                   else f'<span class="bad">{_plural(int(data.get("errors") or 0), "problem")} to fix</span>')
        if data.get("warnings"):
            verdict += f' <span class="small">({_plural(int(data["warnings"]), "warning")})</span>'
        rows.append(("Format check", verdict))
    if data.get("limerick_share") is not None:
        rows.append(("Answers that are well-formed limericks",
                     f"{_pct(data['limerick_share'])} ({_e(data.get('limericks'))} of "
                     f"{_e(data.get('answered', data.get('examples')))})"))
    if data.get("contradicted") is not None:
        wrong = int(data["contradicted"])
        rows.append(("Facts in the answers that contradict element data",
                     f'<span class="{"bad" if wrong else "good"}">{wrong}</span>'))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<section id="dataset"><h2>The dataset</h2><table class="kv">{body}</table></section>'


def _section_job(job: Any, charts: _Charts) -> str:
    hyper = _get(job, "hyperparameters")
    epochs = _get(job, "epochs", "n_epochs") or (_get(hyper, "n_epochs") if hyper is not None else None)
    rows = []
    for label, value in (
        ("Provider", _get(job, "provider")),
        ("Base model", _get(job, "model", "base_model")),
        ("Fine-tuned model", _get(job, "fine_tuned_model")),
        ("Dataset version", _get(job, "dataset_version", "dataset")),
        ("Status", _get(job, "status")),
        ("Epochs", epochs),
        ("Trained tokens", _num(_get(job, "trained_tokens"), "{:,}", missing="") or None),
        ("Estimated cost", _money(_get(job, "estimated_cost")) if _get(job, "estimated_cost") is not None else None),
        ("Actual cost", _money(_get(job, "actual_cost")) if _get(job, "actual_cost") is not None else None),
        ("Training time", _get(job, "duration")),
    ):
        if value is not None and value != "":
            rows.append(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>")
    chart = charts.html(loss_figure(job), width=680)
    reading = _get(job, "curve_reading")
    if reading is None and _loss_points(job):
        reading = job_results.read_curves(_loss_points(job))
    if reading:
        chart += f"<p>{_e(reading)}</p>"
    if not rows and not chart:
        return ""
    return (f'<section id="job" class="page"><h2>The training job</h2><table class="kv">{"".join(rows)}</table>'
            f"{chart}</section>")


def _metrics_line(r: dict) -> str:
    bits = []
    if r.get("prompt_tokens") is not None:
        est = " (estimated)" if r.get("usage_estimated") else ""
        bits.append(f"{_e(r.get('prompt_tokens'))} tokens in, {_e(r.get('completion_tokens'))} out{est}")
    if r.get("time_to_first_token") is not None:
        bits.append(f"first token {_seconds(r['time_to_first_token'])}")
    if r.get("latency") is not None:
        bits.append(f"total {_seconds(r['latency'])}")
    bits.append(f"cost {_e(_money(r.get('cost_usd')))}")
    return " · ".join(bits)


def _checks_html(r: dict) -> str:
    out = []
    if r.get("is_limerick") is not None:
        verdict = ('<span class="good">a limerick</span>' if r["is_limerick"]
                   else '<span class="bad">not a limerick</span>')
        score = f" (form score {_num(r.get('form_score'), '{:.0f}')}/100)" if r.get("form_score") is not None else ""
        problems = ((r.get("checks") or {}).get("limerick") or {}).get("problems") or []
        detail = f'<br><span class="small">{_e("; ".join(map(str, problems[:3])))}</span>' if problems else ""
        out.append(f"Form: {verdict}{score}{detail}")
    claims = ((r.get("checks") or {}).get("facts") or {}).get("claims")
    if claims is not None:
        wrong = [c for c in claims if facts.is_contradiction(c)]
        if wrong:
            items = "".join(
                f"<li>{_e(_get(c, 'text'))}: stated {_e(_get(c, 'stated'))}, actually {_e(_get(c, 'actual'))}</li>"
                for c in wrong)
            out.append(f'Facts: <span class="bad">{_plural(len(wrong), "fact")} wrong</span><ul>{items}</ul>')
        else:
            out.append(f'Facts: <span class="good">none wrong</span> ({_plural(len(claims), "claim")} checked)')
    return "".join(f'<div class="small">{line}</div>' for line in out)


def _reply_card(r: dict, heading: str) -> str:
    if r.get("error"):
        body = f'<p class="error">{_e(r["error"])}</p>'
        if r.get("text"):
            body += f'<pre>{_e(r["text"])}</pre>'
    else:
        body = f'<pre>{_e(r.get("text"))}</pre>'
    return (f'<div class="reply"><h4>{_e(heading)}</h4>{body}'
            f'<div class="small">{_metrics_line(r)}</div>{_checks_html(r)}</div>')


def _section_samples(samples: Sequence[dict], system_prompt: str | None) -> str:
    if not samples:
        return ""
    parts = ['<section id="samples" class="page"><h2>Side by side</h2>']
    if system_prompt:
        parts.append(f'<p class="small">System prompt for all: {_e(system_prompt)}</p>')
    for sample in samples:
        replies = [_reply_dict(r) for r in sample.get("replies") or []]
        parts.append(f'<div class="prompt"><strong>Prompt:</strong> {_e(sample.get("prompt"))}</div>')
        parts.append(f'<div class="samples" style="--cols:{max(1, len(replies))}">')
        for r in replies:
            parts.append(_reply_card(r, f"{r.get('label') or ''} ({r.get('model') or ''})"))
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _section_batch(summary: dict, batch: Any, charts: _Charts, include_replies: bool) -> str:
    heads = ["Model", "Replies", "In limerick form", "Mean form score (of 100)", "Facts wrong", "Mean words",
             "Mean latency", "Cost per 1,000 replies", "Errors", "Retries"]
    rows = []
    for c in summary["contenders"]:
        form = (f"{c['limericks']} of {c['form_checked']} ({_pct(c['limerick_rate'])})"
                if c.get("form_checked") else "–")
        rows.append("<tr>" + "".join([
            f"<td>{_e(c['label'])}<br><span class=\"small\">{_e(c['model'])}</span></td>",
            f'<td class="num">{c["answered"]} of {c["replies"]}</td>',
            f'<td class="num">{form}</td>',
            f'<td class="num">{_num(c.get("mean_form_score"), "{:.0f}")}</td>',
            f'<td class="num">{_e(c["contradicted"]) if c.get("contradicted") is not None else "–"}</td>',
            f'<td class="num">{_num(c.get("mean_words"), "{:.0f}")}</td>',
            f'<td class="num">{_seconds(c.get("mean_latency"))}</td>',
            f'<td class="num">{_e(_money(c.get("cost_per_1000")))}</td>',
            f'<td class="num">{c["errors"]}</td>',
            f'<td class="num">{c["retries"]}</td>',
        ]) + "</tr>")
    table = ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    votes = ""
    if summary.get("pairs"):
        vote_rows = "".join(
            f"<tr><td>{_e(p['a_label'])} vs {_e(p['b_label'])}</td><td class=\"num\">{p['votes']}</td>"
            f"<td>{_e(p['a_label'])}: {p['a_wins']} ({_pct(p['a_win_rate'])})</td>"
            f"<td>{_e(p['b_label'])}: {p['b_wins']} ({_pct(p['b_win_rate'])})</td>"
            f"<td class=\"num\">{p['ties']}</td></tr>"
            for p in summary["pairs"])
        votes = ("<h3>Human preferences</h3><table><thead><tr><th>Pair</th><th class=\"num\">Votes</th>"
                 "<th>Preferred the first</th><th>Preferred the second</th>"
                 f"<th class=\"num\">Ties</th></tr></thead><tbody>{vote_rows}</tbody></table>")
    figs = [charts.html(f) for f in (win_rate_figure(summary), form_figure(summary), cost_figure(summary))]
    figs_html = f'<div class="charts">{"".join(figs)}</div>' if any(figs) else ""
    replies_html = ""
    if include_replies and batch is not None:
        labels = [c["label"] for c in batch.contenders]
        body = []
        for p, prompt in enumerate(batch.prompts):
            cells = "".join(
                f'<td><pre class="text">{_e(r.text) if not r.error else ""}</pre>'
                + (f'<span class="error">{_e(r.error)}</span>' if r.error else "")
                + f'<span class="small">{"limerick" if r.is_limerick else ("not a limerick" if r.is_limerick is False else "")}'
                + (f", {_plural(r.contradicted, 'fact')} wrong" if r.contradicted else "") + "</span></td>"
                for r in batch.replies[p])
            body.append(f"<tr><td>{p + 1}. {_e(prompt)}</td>{cells}</tr>")
        replies_html = ("<h3>Every reply</h3><table class=\"replies\"><thead><tr><th>Prompt</th>"
                        + "".join(f"<th>{_e(label)}</th>" for label in labels) + "</tr></thead><tbody>"
                        + "".join(body) + "</tbody></table>")
    stopped = "" if summary.get("finished", True) else '<p class="bad">The run was stopped before the end.</p>'
    return (f'<section id="batch" class="page"><h2>Scores on {summary["prompts"]} prompts</h2>{stopped}{table}'
            f"{votes}{figs_html}{replies_html}</section>")


def _samples_from_batch(batch: Any, n: int) -> list[dict]:
    return [{"prompt": prompt, "replies": list(batch.replies[p])} for p, prompt in enumerate(batch.prompts[:n])]


# --------------------------------------------------------------------------- the report


def _section_shutdowns(batch: Any, job: Any, samples: Sequence[dict] | None) -> str:
    """Models in the report that stop answering (or stopped), with the date (lib.services.lifecycle)."""
    from lib.services import lifecycle

    models = [str(_get(c, "model") or "") for c in (_get(batch, "contenders") or [])]
    models += [str(_get(r, "model") or "") for s in (samples or []) for r in (s.get("replies") or [])]
    models.append(str(_get(job, "fine_tuned_model") or "") if job is not None else "")
    notices = {m: lifecycle.stop_notice(m) for m in dict.fromkeys(m for m in models if m)}
    items = "".join(f"<li><code>{_e(m)}</code>: {_e(n)}</li>" for m, n in notices.items() if n)
    return f'<section id="shutdowns"><h2>Shutdown dates</h2><ul>{items}</ul></section>' if items else ""


def _section_scores(scores: Any) -> str:
    """The job's stored held-out scores (`lib.evaluation.scoring.JobScore` or its dict): fine-tuned, checkpoints and base."""
    score = scores if isinstance(scores, scoring.JobScore) else scoring.JobScore.from_dict(scores)
    models = [("Fine-tuned model", score.final), *((f"Checkpoint at step {c.step}", c) for c in score.checkpoints)]
    if score.base is not None:
        models.append(("Base model", score.base))
    rows = "".join(
        f"<tr><td>{_e(label)}<br><span class=\"small\">{_e(m.model)}</span></td>"
        f'<td class="num">{m.clean} of {m.n}</td><td class="num">{m.right} of {m.n}</td>'
        f'<td class="num">{m.wrong} of {m.n}</td></tr>'
        for label, m in models)
    advice = score.advice()
    return (f'<section id="scores"><h2>Held-out score ({_plural(len(score.prompts), "question")} the model did not '
            "train on)</h2><table><thead><tr><th>Model</th><th class=\"num\">Clean limericks</th>"
            "<th class=\"num\">Right facts</th><th class=\"num\">Wrong facts</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>" + (f"<p>{_e(advice)}</p>" if advice else "") + "</section>")


def build_report(
    *,
    batch: Any = None,
    summary: dict | None = None,
    votes: Iterable[Any] | None = None,
    dataset: Any = None,
    job: Any = None,
    samples: Sequence[dict] | None = None,
    scores: Any = None,
    title: str = "Fine-tuned model vs base model",
    date: _dt.date | _dt.datetime | str | None = None,
    conclusion_text: str | None = None,
    sample_count: int = 3,
    include_replies: bool = True,
    charts: bool = True,
) -> str:
    """One self-contained HTML page with whatever was given; every section is optional.

    batch: a `playground.BatchResult`; summary/votes: its summary (computed from batch and votes when
    absent); dataset: `dataset_summary(...)`'s dict, a Dataset, or a list of examples; job: a dict or
    SDK job (model, fine_tuned_model, dataset_version, epochs or hyperparameters.n_epochs,
    estimated_cost, actual_cost, trained_tokens, status, and `loss_curve`/`metrics` as
    [{step, train_loss, valid_loss}]); samples: [{"prompt", "replies": [Reply or dict]}] from the
    side-by-side view (else the first `sample_count` prompts of the batch); scores: the job's stored
    `lib.evaluation.scoring.JobScore` (or its dict), shown as the held-out score section.
    """
    summary = _summary_of(batch, summary, votes)
    when = date or _dt.date.today()
    when_text = when.strftime("%d %B %Y").lstrip("0") if isinstance(when, _dt.date | _dt.datetime) else str(when)
    verdict = conclusion_text if conclusion_text is not None else conclusion(summary)
    chart_maker = _Charts(charts)
    sections = []
    if verdict:
        sections.append(f'<section id="conclusion"><div class="conclusion">{_e(verdict)}</div></section>')
    if dataset is not None:
        data = dataset if isinstance(dataset, dict) and "examples" in dataset and not isinstance(
            dataset.get("examples"), list) else dataset_summary(dataset)
        sections.append(_section_dataset(data))
    if job is not None:
        sections.append(_section_job(job, chart_maker))
    if scores is not None:
        sections.append(_section_scores(scores))
    if samples is None and batch is not None:
        samples = _samples_from_batch(batch, sample_count)
    sections.append(_section_shutdowns(batch, job, samples))
    sections.append(_section_samples(samples or [], getattr(batch, "system_prompt", None)))
    if summary is not None:
        sections.append(_section_batch(summary, batch, chart_maker, include_replies))
    if not any(sections):
        sections.append('<section><p>Nothing to report yet: run a comparison first.</p></section>')
    price_note = f" Prices from the price table dated {_e(pricing.PRICE_DATE)}."
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p class=\"meta\">Report made on {_e(when_text)} with Fine-Tune Studio."
        "</p></header>"
        + "".join(sections)
        + f"<footer>This file is self-contained: it opens without a network connection.{price_note} "
        "Limerick form and facts are checked automatically (rhyme, line count, syllables; element data); "
        "human votes are the reviewers' own.</footer></body></html>\n"
    )
