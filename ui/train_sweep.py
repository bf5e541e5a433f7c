"""The Train page's "Try several settings": plan a small grid with its time or price on it, queue the runs,
watch them together, and keep the model that scores best on questions it did not train on.

The sweep itself is `lib.evaluation.sweep`'s (kept in the workspace, so the panel picks it up after a refresh); this
module only draws it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from lib.evaluation import charts, scoring
from lib.evaluation import sweep as sweeps
from lib.services import errors, job_monitor, jobs, providers, recipe
from ui import pages, render, state, train_launch, train_scores

EPOCHS: list[int | str] = ["auto", 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20]
RATES = [0.25, 0.5, 1.0, 2.0, 4.0]
ADAPTERS: list[int | str | None] = [None, 4, 8, 16, 32, 64, "full"]
ADAPTER_HELP = (
    "The local engine normally leaves the model's own weights alone and trains an **adapter** (also called "
    "LoRA): a small set of extra weights laid beside them, quick to train and small to keep. The adapter's "
    "**rank** is its size: 4 or 8 is small and quick; 32 or 64 can learn more, and takes a little longer. "
    "**Train every weight** changes the whole model instead: slower and larger on disk, and on a small model "
    "sometimes the best."
)
WAITING = {"validating_files": "waiting in line", "queued": "waiting in line", "running": "training",
           "succeeded": "done", "failed": "failed", "cancelled": "cancelled", "paused": "paused",
           "not started": "not started"}


def _adapter_words(value: int | str | None) -> str:
    if value is None:
        return "Adapter (default size)"
    return "Train every weight" if value == "full" else f"Adapter, rank {value}"


def _total(config: providers.ProviderConfig, planned: sweeps.Plan) -> str:
    if config.kind == "local":
        where = "this computer" if providers.on_this_computer(config) else "the engine"
        if planned.total_seconds is None:
            return f"free on {where}; the time is not measured yet"
        return f"about {render.duration(planned.total_seconds)} in all, free on {where}"
    if planned.total_dollars is None:
        return "price unknown for this model"
    return f"about ${planned.total_dollars:,.2f} in all" if planned.total_dollars else "no charge in the price table"


def _plan(config: providers.ProviderConfig, client) -> None:
    data = state.dataset()
    if train_launch.blocked(data):
        return
    if data.format == "dpo":
        st.info("A sweep trains question-and-answer datasets; this one holds preference pairs (DPO). Launch it "
                "from Launch instead.")
        return
    try:
        available = train_launch.trainable_models(config)
    except errors.StudioError as exc:
        train_launch.show_error(exc)
        return
    choices = [m.id for m in available if m.trainable] or [m.id for m in available]
    if not choices:
        st.warning("This provider lists no model it can fine-tune.")
        return
    local = config.kind == "local"
    model = st.selectbox("Base model", choices, key="sweep_model")
    cols = st.columns(3 if local else 2)
    # On the local engine "automatic" is the studio's measured recipe (as on Launch): the default sweep sets it
    # against the engine's base learning rate. Elsewhere two epoch counts at the provider's rate.
    epochs = cols[0].multiselect("Epochs (passes over the data)", EPOCHS, default=["auto"] if local else [3, 6],
                                 key="sweep_epochs", format_func=lambda e: "automatic" if e == "auto" else str(e))
    rates = cols[1].multiselect(
        "Learning-rate multiplier", ["auto", *RATES], default=["auto", 1.0] if local else [1.0], key="sweep_lr",
        format_func=lambda r: "automatic" if r == "auto" else f"×{r:g}",
        help="How big a step the model takes at each example: ×2 learns faster and can overshoot, ×0.5 is gentler.")
    adapters: list = [None]
    if local:
        adapters = cols[2].multiselect("What to train", ADAPTERS, default=[None], key="sweep_adapters",
                                       format_func=_adapter_words, help=ADAPTER_HELP)
        with st.popover("What is an adapter, and its rank?"):
            st.markdown(ADAPTER_HELP)
    try:
        settings = sweeps.with_recipe(sweeps.grid(epochs, rates, adapters), config.kind, len(data.train_examples()))
    except ValueError as exc:
        st.error(render.escape(str(exc)))
        return
    if local:
        st.caption(recipe.describe(len(data.train_examples())))
    if len(settings) < 2:
        st.info("Choose two values or more in one of the lists: a sweep compares settings.")
    card = train_launch.facts_card_choice(data.train_examples(), key="sweep_facts_card")
    planned = sweeps.plan(config, data, model, settings, client=client)
    prompts = scoring.held_out_prompts(data)
    order = "trained one after the other" if local else "the provider may train them side by side"
    st.info(f"{len(settings)} run{'s' if len(settings) != 1 else ''}, {order}: "
            f"{_total(config, planned)}. Each model is then asked {len(prompts)} questions it did not train on, "
            "and so is the base model, to rank them.", icon=":material/receipt_long:")
    st.dataframe(pd.DataFrame([
        {"run": i, "settings": s.label(),
         "time" if local else "price": (render.duration(sec) if sec is not None else "not measured") if local
         else (f"${usd:,.2f}" if usd is not None else "unknown")}
        for i, (s, sec, usd) in enumerate(zip(settings, planned.seconds, planned.dollars, strict=True), 1)]),
        hide_index=True, width="stretch")
    if local and planned.total_seconds is None:
        st.page_link(pages.get(pages.ESTIMATE), icon=":material/timer:",
                     label="To see the time first, measure this computer's speed on the Estimate page (once, about 20 s)")
    what = "time" if local else "price"
    confirm = st.checkbox(f"I have checked the {what} and want to start {len(settings)} training runs",
                          key="sweep_confirm")
    if not st.button(f"Queue {len(settings)} runs", type="primary", disabled=not confirm, key="sweep_start"):
        return
    bar = st.progress(0.0, text="Uploading the dataset…")
    try:
        result = sweeps.start(client, data, model, settings, provider=config.kind, prompts=prompts, with_facts_card=card,
                              progress=lambda f, text: bar.progress(min(f, 1.0), text=text))
    except (errors.StudioError, ValueError) as exc:
        bar.empty()
        st.error(render.escape(getattr(exc, "message", None) or str(exc)))
        return
    sweeps.SweepStore().save(result)
    st.session_state.pop("sweep_confirm", None)
    state.notify(f"{len(result.runs)} runs queued.", ":material/rocket_launch:")
    st.rerun()


def _run_words(run: sweeps.Run, curves: dict) -> str:
    words = WAITING.get(run.status, run.status)
    if run.status == "running":
        rows = (curves.get(run.job_id) or {}).get("rows") or []
        if rows and rows[-1].get("total_steps"):
            words += f": step {rows[-1]['step']} of {rows[-1]['total_steps']}"
    if run.status == "succeeded" and run.score is None:
        words = "done, being scored"
    if run.error:
        words += f": {run.error}"
    return words


def _read_curves(sweep: sweeps.Sweep, client) -> dict:
    """Each started run's metrics rows, read again only while it trains."""
    curves: dict = st.session_state.setdefault(state.SWEEP_CURVES, {})
    for run in sweep.runs:
        if not run.job_id or run.status in ("not started", "validating_files", "queued"):
            continue
        if (curves.get(run.job_id) or {}).get("final"):
            continue
        try:
            events = jobs.list_events(client, run.job_id)
        except errors.StudioError:
            continue
        curves[run.job_id] = {"rows": [row for row in map(job_monitor.metrics_row, events) if row],
                              "final": run.status in sweeps.TERMINAL}
    return curves


@dataclass
class _Scoring:
    """A sweep's newly succeeded runs being scored in a thread: a few models × 20 questions take minutes on a
    laptop, and a click elsewhere on the page must not throw that work away. Only the page writes the sweep's
    file: the thread scores a copy, and the page takes its scores over when it ends."""

    sweep_id: str
    runs: int
    done: int = 0
    total: int = 0
    result: sweeps.Sweep | None = None
    error: str | None = None
    finished: bool = False


_SCORING: dict[str, _Scoring] = {}  # by sweep id, for the whole app


def _unscored(sweep: sweeps.Sweep) -> list[sweeps.Run]:
    return [r for r in sweep.runs if r.status == "succeeded" and r.score is None and r.fine_tuned_model]


def _take_scores(sweep: sweeps.Sweep, scored: sweeps.Sweep) -> None:
    by_job = {r.job_id: r.score for r in scored.runs if r.job_id and r.score is not None}
    for run in sweep.runs:
        if run.score is None and run.job_id in by_job:
            run.score = by_job[run.job_id]
    if sweep.base is None:
        sweep.base = scored.base


def _score_new(sweep: sweeps.Sweep, config: providers.ProviderConfig, client) -> None:
    """Take over the scores of a scoring that ended; start one for runs that have just succeeded (and the
    base model, once); show its progress, or why it stopped."""
    task = _SCORING.get(sweep.id)
    if task is not None and task.finished and not task.error:
        _SCORING.pop(sweep.id)
        if task.result is not None:
            _take_scores(sweep, task.result)
            sweeps.keep_scores(sweep)
        task = None
    if task is not None and task.error:
        st.warning(f"Scoring stopped: {render.escape(task.error)}", icon=":material/rule:")
        if not st.button("Try scoring again", key="sweep_score_retry"):
            return
        _SCORING.pop(sweep.id)
        task = None
    new = _unscored(sweep)
    if task is None and new:
        task = _SCORING[sweep.id] = _Scoring(sweep.id, runs=len(new))
        copy = sweeps.Sweep.from_dict(sweep.to_dict())

        def progress(done: int, total: int) -> None:
            task.done, task.total = done, total

        def work() -> None:
            try:
                task.result = sweeps.advance(copy, config, client=client, progress=progress)
            except (errors.StudioError, ValueError) as exc:
                task.error = getattr(exc, "message", None) or str(exc)
            except Exception as exc:  # no page to show a traceback on: say it plainly, log the rest
                logging.getLogger(__name__).exception("Scoring sweep %s failed", sweep.id)
                task.error = f"something went wrong while scoring ({type(exc).__name__})."
            finally:
                task.finished = True

        threading.Thread(target=work, name=f"score-{sweep.id}", daemon=True).start()
    if task is not None and not task.finished:
        st.progress(min(task.done / (task.total or 1), 1.0),
                    text=f"Scoring {task.runs} new model{'s' if task.runs > 1 else ''}: {task.done} of "
                         f"{task.total or '…'} replies checked")


def _ranking(sweep: sweeps.Sweep, curves: dict) -> None:
    rows = []
    for rank, run in enumerate(sweep.ranked(), 1):
        score = run.score
        rows.append({"rank": str(rank) if score else "", "settings": run.setting.label(),
                     "clean limericks": f"{score.clean}/{score.n}" if score else "",
                     "right facts": f"{score.right}/{score.n}" if score else "",
                     "wrong facts": f"{score.wrong}/{score.n}" if score else "",
                     "status": _run_words(run, curves), "model": run.fine_tuned_model or ""})
    if sweep.base is not None:
        b = sweep.base
        rows.append({"rank": "", "settings": "Base model, not trained", "clean limericks": f"{b.clean}/{b.n}",
                     "right facts": f"{b.right}/{b.n}", "wrong facts": f"{b.wrong}/{b.n}", "status": "",
                     "model": b.model})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    scored = [r for r in sweep.ranked() if r.score is not None and r.fine_tuned_model]
    if not scored:
        return
    best = scored[0]
    if sweep.base is not None and best.score.points <= sweep.base.points:
        st.warning(f"No run scores higher than the base model on these questions{' yet' if not sweep.done else ''}. "
                   "More epochs, a higher learning rate or more examples may help.", icon=":material/trending_flat:")
    else:
        st.success(f"Best {'so far' if not sweep.done else 'of these runs'}: {render.escape(best.setting.label())} "
                   f"({best.score.headline()}).", icon=":material/emoji_events:")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    pick = left.selectbox("Model to keep", range(len(scored)), key="sweep_pick",
                          format_func=lambda i: f"{i + 1}. {scored[i].setting.label()} · {scored[i].score.headline()}")
    if right.button("Use this model", type="primary", key="sweep_use",
                    help="Makes it the fine-tuned model in the Playground."):
        chosen = scored[pick or 0]
        train_scores.use_model(chosen.fine_tuned_model, chosen.job_id)


def _cancel(sweep: sweeps.Sweep, config: providers.ProviderConfig, client) -> None:
    for run in sweep.runs:
        if run.job_id and run.status not in sweeps.TERMINAL:
            try:
                jobs.cancel(client, run.job_id)
            except errors.StudioError as exc:
                st.warning(render.escape(exc.message))
    sweeps.advance(sweep, config, client=client, score=False)


def _watch(sweep_id: str, config: providers.ProviderConfig, client) -> None:
    store = sweeps.SweepStore()
    first = store.load(sweep_id)
    if first is None:
        return
    refreshing = not first.done

    @st.fragment(run_every=2.0 if refreshing else None)
    def live() -> None:
        sweep = store.load(sweep_id)
        if sweep is None:
            return
        if not sweep.done:
            try:
                sweeps.advance(sweep, config, client=client, score=False)
            except errors.StudioError as exc:
                st.warning(f"{render.escape(exc.message)} Trying again…")
        curves = _read_curves(sweep, client)
        ended = sum(r.status in sweeps.TERMINAL for r in sweep.runs)
        st.subheader(f"Settings tried on “{render.escape(sweep.dataset)}” · {render.escape(sweep.model)}")
        order = " · the engine trains one run at a time" if sweep.provider == "local" else ""
        st.caption(f"{ended} of {len(sweep.runs)} runs ended · each scored on {len(sweep.prompts)} questions the "
                   f"dataset does not train on{order}")
        if not sweep.done:
            _score_new(sweep, config, client)
            store.save(sweep)
        series = {f"{i}. {run.setting.label()}": curves[run.job_id]["rows"]
                  for i, run in enumerate(sweep.runs, 1) if run.job_id in curves}
        if any(series.values()):
            st.plotly_chart(charts.loss_overlay(series), width="stretch", key="sweep_loss_chart")
        _ranking(sweep, curves)
        if not sweep.done and st.button("Cancel the runs not finished", key="sweep_cancel"):
            _cancel(sweep, config, client)
            store.save(sweep)
        if sweep.done and refreshing:
            st.rerun()  # every run ended and was scored: stop refreshing

    live()


def render_sweep(config: providers.ProviderConfig, client) -> None:
    st.markdown("Train your dataset several ways, score every model on the same questions it did not train on, "
                "and keep the one that writes the best limericks with the right facts.")
    latest = sweeps.SweepStore().latest()
    if latest is not None:
        _watch(latest.id, config, client)
    with st.expander("Try other settings" if latest else "Choose the settings to try", expanded=latest is None):
        _plan(config, client)
