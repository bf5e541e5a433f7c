"""The Playground's batch evaluation, blind votes and the stakeholder report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from lib.evaluation import blind_votes, charts, prompt_sets, report, scoring
from lib.evaluation import comparison as pg
from ui import render, state

HELD_OUT = Path(__file__).resolve().parent.parent / "sample_data" / "held_out_prompts.jsonl"


def _prompts() -> list[str]:
    source = st.radio("Prompts", ["Held-out elements (sample)", "Upload a file", "The validation split"],
                      horizontal=True, key="batch_source")
    if source == "Upload a file":
        upload = st.file_uploader("JSONL with a \"prompt\" field, chat JSONL, or one prompt per line",
                                  type=["jsonl", "txt", "json"], key="batch_upload")
        if upload is None:
            return []
        try:
            return prompt_sets.load_prompts(upload.getvalue())
        except ValueError as exc:
            st.error(str(exc))
            return []
    if source == "The validation split":
        prompts = prompt_sets.prompts_from_examples(state.dataset().validation_examples())
        if not prompts:
            st.caption("No validation rows: make a split on the Dataset page.")
        return prompts
    return prompt_sets.load_prompts(HELD_OUT)


def render_batch(contenders: list[pg.Contender], settings: dict) -> None:
    prompts = _prompts()
    if prompts:
        st.caption(f"{len(prompts)} prompts × {len(contenders)} models.")
    if len(contenders) < 2:
        st.info("Pick at least two models above to compare.")
        return
    if st.button("Run the comparison", type="primary", key="batch_run", disabled=not prompts):
        bar = st.progress(0.0, text="Starting…")
        result = pg.run_batch(contenders, prompts, concurrency=4, system_prompt=settings["system"],
                              temperature=settings["temperature"], max_tokens=settings["max_tokens"],
                              seed=settings["seed"],
                              progress=lambda done, total: bar.progress(done / total, text=f"{done}/{total} replies"))
        bar.empty()
        st.session_state[state.BATCH] = result.to_dict()
        st.session_state[state.VOTES] = {}
        st.session_state.pop("batch_order", None)
    saved = st.session_state.get(state.BATCH)
    if not saved:
        return
    batch = pg.BatchResult.from_dict(saved)
    labels = [c["label"] for c in batch.contenders]
    blind = st.toggle("Blind voting for stakeholders (sides shuffled, names hidden until the end)",
                      key="batch_blind")
    order = st.session_state.setdefault("batch_order", blind_votes.blind_order(len(batch.prompts), seed=13))
    if not blind:
        order = [(0, 1)] * len(batch.prompts)
    votes: dict[int, str] = st.session_state.setdefault(state.VOTES, {})
    for p, prompt in enumerate(batch.prompts):
        with st.container(border=True):
            st.markdown(f"**{p + 1}. {render.escape(prompt)}**")
            left_index, right_index = order[p]
            cols = st.columns(2)
            for col, index, side in ((cols[0], left_index, "left"), (cols[1], right_index, "right")):
                reply = batch.replies[p][index]
                with col:
                    st.caption("Answer " + ("A" if side == "left" else "B") if blind else render.escape(labels[index]))
                    render.text_block(reply.text if reply.ok else reply.error)
                    if not blind and reply.ok:
                        st.caption(f"form {reply.form_score or 0:.0f}/100 · facts wrong {reply.contradicted or 0} · "
                                   f"{reply.latency or 0:.1f} s")
            choice = st.segmented_control("Which is better?", ["left", "tie", "right"], key=f"batch_vote_{p}",
                                          format_func={"left": "◀ Left", "tie": "Tie", "right": "Right ▶"}.get)
            if choice:
                votes[p] = choice
    tally = blind_votes.tally(votes, order, labels, reveal=not blind or st.session_state.get("batch_reveal", False))
    st.subheader("Results")
    if blind and not st.session_state.get("batch_reveal"):
        standings = " · ".join(f"{render.escape(r['name'])}: {r['wins']} win{'s' if r['wins'] != 1 else ''}"
                               for r in tally["standings"])
        st.markdown(f"**Live tally** ({tally['voted']} of {tally['pairs']} voted, {tally['ties']} ties): {standings}")
        if st.button("Reveal the models", key="batch_reveal_button"):
            st.session_state["batch_reveal"] = True
            st.rerun()
    summary = blind_votes.summary(batch, tally["votes"])
    rows = summary["contenders"]
    frame = pd.DataFrame([{"model": r["label"], "limericks": f"{r['limericks']}/{r['form_checked']}",
                           "mean form score": r["mean_form_score"], "facts wrong": r.get("contradicted"),
                           "mean latency (s)": r.get("mean_latency"), "cost per 1,000 replies": r["cost_per_1000"]}
                          for r in rows])
    st.dataframe(frame, hide_index=True, width="stretch")
    for pair in summary.get("pairs", []):
        st.markdown(f"**Human votes:** {render.escape(pair['a_label'])} won {pair['a_wins']}, "
                    f"{render.escape(pair['b_label'])} won "
                    f"{pair['b_wins']}, {pair['ties']} ties ({pair['votes']} votes).")
    st.plotly_chart(charts.grouped_bars([r["label"] for r in rows],
                                        {"Mean form score": [r["mean_form_score"] or 0 for r in rows]},
                                        "Limerick form (0–100)"), width="stretch")
    st.info(render.escape(report.conclusion(summary)))
    html = report.build_report(batch=batch, summary=summary, votes=tally["votes"],
                               dataset=state.dataset(), job=_job_for_report(),
                               samples=_samples(), scores=_stored_scores(batch))
    st.download_button("Download the report (one HTML file, works offline)", html, "fine-tune-report.html",
                       mime="text/html", key="batch_report", type="primary")


def _job_for_report() -> dict | None:
    job = st.session_state.get(state.JOB_STATE)
    if not job:
        return None
    info = dict(job.get("job") or {})
    estimate = st.session_state.get(state.ESTIMATE) or {}
    return {**info, "metrics": job.get("metrics") or [], "actual_cost": job.get("cost"),
            "estimated_cost": estimate.get("cost_usd"),
            "dataset_version": (info.get("metadata") or {}).get("dataset_version")}


def _stored_scores(batch: pg.BatchResult) -> scoring.JobScore | None:
    """The held-out scores stored with the job behind a model compared (the first column that has some)."""
    store = scoring.ScoreStore()
    return next((found for found in map(store.find, [c.get("model") for c in batch.contenders]) if found), None)


def _samples() -> list[dict] | None:
    saved = st.session_state.get(state.PLAYGROUND_REPLIES)
    if not saved:
        return None
    return [{"prompt": saved["prompt"], "replies": list(saved["replies"].values())}]
