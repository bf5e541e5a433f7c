"""The Train page's monitor (a fragment that refreshes itself) and job history."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from lib.evaluation import charts
from lib.services import errors, job_monitor, jobs, lifecycle, providers
from ui import export_panel, pages, render, state, train_scores
from ui.train_launch import show_error

STEPS = ["validating_files", "queued", "running", "succeeded"]


def _monitor(client, config: providers.ProviderConfig) -> job_monitor.JobMonitor | None:
    data = st.session_state.get(state.JOB_STATE)
    if not data:
        job_id = state.workspace().last_job(config.kind)  # after a refresh: pick the job up again
        if not job_id:
            return None
        data = {"job_id": job_id}
        st.session_state[state.JOB_STATE] = data
    return job_monitor.JobMonitor.from_dict(client, data, provider=config.kind)


def _timeline(status: str) -> None:
    end = status if status in ("failed", "cancelled", "paused") else None
    shown = STEPS if end is None else [*STEPS[:3], end]
    reached = STEPS.index(status) if status in STEPS else 2
    cols = st.columns(len(shown))
    for i, (col, name) in enumerate(zip(cols, shown, strict=True)):
        done = i < reached or (status == "succeeded") or (end and i < 3)
        current = name == status
        mark = "●" if current else ("✓" if done else "○")
        col.markdown(f"{mark} **{name.replace('_', ' ')}**" if current else f"{mark} {name.replace('_', ' ')}")


def _progress(s: job_monitor.MonitorState) -> None:
    if s.total_steps:
        text = f"Step {s.step or 0}/{s.total_steps}"
        if s.eta_seconds and s.status == "running":
            text += f" · about {render.duration(s.eta_seconds)} left"
        st.progress(min(1.0, (s.step or 0) / s.total_steps), text=text)
    elif s.status in ("validating_files", "queued"):
        st.progress(0.0, text="Waiting for the provider to start…")


def _finished(s: job_monitor.MonitorState) -> None:
    if s.fine_tuned_model:
        st.success("Your fine-tuned model is ready. Copy its name, or try it in the Playground.")
        st.code(s.fine_tuned_model, language=None)
        notice = lifecycle.stop_notice(s.fine_tuned_model)
        if notice:
            st.warning(notice, icon=":material/event_busy:")
        if st.button("Try it in the Playground", type="primary", key="train_to_playground"):
            st.session_state[state.LATEST_MODEL] = s.fine_tuned_model
            st.switch_page(pages.get(pages.PLAYGROUND))
    cols = st.columns(3)
    if s.trained_tokens is not None:
        cols[0].metric("Trained tokens", f"{s.trained_tokens:,}")
    if s.cost is not None:
        cols[1].metric("Actual cost", f"${s.cost:,.2f}" if s.cost else "free")
    if s.result:
        cols[2].download_button("Result file (CSV)", s.result.get("csv") or s.result.get("text", ""),
                                file_name=f"{s.job_id}-results.csv", mime="text/csv", key="train_result_csv")
    if s.checkpoints:
        st.markdown("**Checkpoints** (each is a model you can try)")
        for cp in s.checkpoints:
            left, right = st.columns([4, 1], vertical_alignment="center")
            metrics = cp.get("metrics") or {}
            loss = metrics.get("train_loss")
            left.markdown(f"Step {cp.get('step_number')} · {render.escape(str(cp.get('fine_tuned_model_checkpoint')))}"
                          + (f" · loss {loss:.3f}" if isinstance(loss, int | float) else ""))
            if right.button("Try it", key=f"train_ckpt_{cp.get('step_number')}"):
                st.session_state[state.LATEST_MODEL] = cp.get("fine_tuned_model_checkpoint")
                st.switch_page(pages.get(pages.PLAYGROUND))


def render_monitor(client, config: providers.ProviderConfig) -> None:
    monitor = _monitor(client, config)
    if monitor is None:
        st.info("No job yet. Launch one, or open an earlier job from the history.")
        return
    active = not monitor.state.done

    @st.fragment(run_every=1.0 if active else None)
    def live() -> None:
        mon = _monitor(client, config)
        if mon is None:
            return
        if mon.due():
            try:
                mon.poll()
            except errors.StudioError as exc:
                show_error(exc)
                return
            st.session_state[state.JOB_STATE] = mon.to_dict()
        s = mon.state
        shown = st.session_state.setdefault(state.LATEST_MODEL_FROM, set())
        if s.fine_tuned_model and s.job_id not in shown:  # once per job: a model chosen later sticks
            st.session_state[state.LATEST_MODEL] = s.fine_tuned_model
            shown.add(s.job_id)
        st.markdown(f"**Job** {render.escape(str(s.job_id))} · {render.escape(str(s.job.get('model', '')))}")
        _timeline(s.status)
        _progress(s)
        if s.warning:
            st.warning(s.warning + " Retrying…")
        if s.error:
            st.error(s.error.get("message") or "The job failed.")
        if s.status in ("running", "validating_files", "queued", "paused"):
            left, right, _ = st.columns([1, 1, 3])
            if left.button("Cancel the job", key="train_cancel"):
                try:
                    mon.cancel()
                    st.session_state[state.JOB_STATE] = mon.to_dict()
                except errors.StudioError as exc:
                    show_error(exc)
                st.rerun(scope="fragment")
            verb = "Resume" if s.status == "paused" else "Pause"
            if right.button(verb, key="train_pause"):
                try:
                    (mon.resume if verb == "Resume" else mon.pause)()
                    st.session_state[state.JOB_STATE] = mon.to_dict()
                except errors.StudioError as exc:
                    st.warning(exc.message)
        if s.metrics:
            accuracy = any(r.get("train_mean_token_accuracy") is not None for r in s.metrics)
            left, right = st.columns(2) if accuracy else (st.container(), None)
            left.plotly_chart(charts.training_curves(s.metrics, metric="loss"), width="stretch",
                              key="train_loss_chart")
            if right is not None:
                right.plotly_chart(charts.training_curves(s.metrics, metric="accuracy"), width="stretch",
                                   key="train_accuracy_chart")
        if s.curves:
            st.info(s.curves, icon=":material/insights:")
        if s.status == "succeeded":
            _finished(s)
            export_panel.render_export(config, [s.fine_tuned_model, *(cp.get("fine_tuned_model_checkpoint")
                                                                       for cp in s.checkpoints or [])],
                                       key="train_export")
            train_scores.render_job_scores(config, s, live=active)
        if s.events:
            with st.expander(f"Event log ({len(s.events)})", expanded=s.status != "succeeded"):
                st.dataframe(
                    pd.DataFrame([{"time": datetime.fromtimestamp(e.get("created_at") or 0).strftime("%H:%M:%S"),
                                   "level": e.get("level"), "message": e.get("message")}
                                  for e in reversed(s.events)]),
                    hide_index=True, width="stretch", height=260,
                )
        if s.done and active:
            st.rerun()  # the job ended: stop refreshing

    live()


def render_history(client, config: providers.ProviderConfig) -> None:
    try:
        rows = [jobs.job_row(job, provider=config.kind) for job in jobs.list_jobs(client)]
    except errors.StudioError as exc:
        show_error(exc)
        return
    if not rows:
        st.info("No jobs on this provider yet.")
        return
    frame = pd.DataFrame(rows)
    left, right = st.columns(2)
    statuses = left.multiselect("Status", sorted(frame["status"].dropna().unique()), key="train_history_status")
    text = right.text_input("Search (model, suffix, dataset)", key="train_history_search")
    if statuses:
        frame = frame[frame["status"].isin(statuses)]
    if text:
        haystack = frame[["id", "model", "fine_tuned_model", "suffix", "dataset"]].astype(str).agg(" ".join, axis=1)
        frame = frame[haystack.str.contains(text, case=False, regex=False)]
    frame["created"] = pd.to_datetime(frame["created_at"], unit="s")
    frame["held-out score"] = [train_scores.headline(str(job_id)) for job_id in frame["id"]]  # stored, not asked
    st.dataframe(frame[["id", "status", "held-out score", "model", "fine_tuned_model", "dataset", "dataset_version",
                        "created", "trained_tokens", "cost"]], hide_index=True, width="stretch")
    if frame.empty:
        return
    chosen = st.selectbox("Open a job", list(frame["id"]), key="train_history_pick")
    picked = frame[frame["id"] == chosen].iloc[0]
    if picked["status"] == "succeeded" and isinstance(picked["fine_tuned_model"], str):
        export_panel.render_export(config, [picked["fine_tuned_model"]], key="train_history_export")
    if st.button("Open in the monitor", key="train_history_open"):
        state.follow_job(config, {"job_id": chosen})
        st.session_state[state.TRAIN_SECTION_NEXT] = "Monitor"
        st.rerun()
