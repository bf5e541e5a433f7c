"""The job card's held-out score: a job that succeeds is scored once, on questions it did not train on, by the
same limerick and fact checks the dataset gets; the score is kept with the job (`lib.evaluation.scoring.ScoreStore`), so
the card, the job history and the report show it without asking the models again."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import streamlit as st

from lib.evaluation import scoring
from lib.services import errors, job_monitor, providers
from ui import pages, render, state


def stored(job_id: str) -> scoring.JobScore | None:
    return scoring.ScoreStore().load(job_id)


def headline(job_id: str) -> str:
    """The job history's line for a job: its stored score, or nothing (it never asks a model)."""
    score = stored(job_id)
    return score.final.headline() if score else ""


def use_model(model: str, job_id: str | None = None) -> None:
    """Make `model` the Playground's fine-tuned model and open the Playground."""
    st.session_state[state.LATEST_MODEL] = model
    if job_id:  # the monitor must not put that job's final model back
        st.session_state.setdefault(state.LATEST_MODEL_FROM, set()).add(job_id)
    st.session_state.pop(state.PLAYGROUND_PAIR, None)  # a bring-home pair would hide the fine-tuned column
    st.switch_page(pages.get(pages.PLAYGROUND))


def _retry(message: str) -> bool:
    """Why the model has no score, and a button to try again (True when pressed)."""
    st.warning(f"This model has no held-out score yet: {render.escape(message)}", icon=":material/rule:")
    return st.button("Try scoring again", key="train_score_retry")


@dataclass
class ScoringTask:
    """One job being scored in a thread of its own: scoring a 135M model's replies to 20 questions, for the
    model, each checkpoint and the base model, takes minutes on a laptop, and the page must stay usable
    (and the scoring go on) while the user looks elsewhere."""

    job_id: str
    done: int = 0
    total: int = 0
    error: str | None = None
    finished: bool = False
    stop: threading.Event = field(default_factory=threading.Event)


_TASKS: dict[str, ScoringTask] = {}  # by job id, for the whole app: one scoring per job, whoever opened it
_TASKS_LOCK = threading.Lock()


def _start(config: providers.ProviderConfig, s: job_monitor.MonitorState) -> ScoringTask:
    """Score the job in the background, once; the score is stored with the job when it is complete."""
    data = state.dataset()
    prompts = scoring.held_out_prompts(data)
    job = {**s.job, "id": s.job_id, "status": s.status, "fine_tuned_model": s.fine_tuned_model}
    store = scoring.ScoreStore()  # this studio home's, fixed now
    task = ScoringTask(s.job_id)

    def progress(done: int, total: int) -> None:
        task.done, task.total = done, total

    def work() -> None:
        try:
            score = scoring.score_job(config, job, prompts, system_prompt=data.system_prompt or None,
                                      progress=progress, should_stop=task.stop.is_set)
            if task.stop.is_set():
                task.error = "you stopped the scoring."
            elif score.final.n and score.final.errors == score.final.n:  # nothing answered: nothing to keep
                task.error = next((r.error for r in score.final.replies if r.error), None) or "no reply came back."
            else:
                store.save(score)
        except (errors.StudioError, ValueError) as exc:
            task.error = getattr(exc, "message", None) or str(exc)
        except Exception as exc:  # a thread has no page to show a traceback on: say it plainly, log the rest
            logging.getLogger(__name__).exception("Scoring job %s failed", s.job_id)
            task.error = f"something went wrong while scoring ({type(exc).__name__})."
        finally:
            task.finished = True

    with _TASKS_LOCK:
        running = _TASKS.get(s.job_id)
        if running is not None:
            return running
        _TASKS[s.job_id] = task
    threading.Thread(target=work, name=f"score-{s.job_id}", daemon=True).start()
    return task


def stop_all() -> None:
    """Stop every scoring still running and forget them all (each test ends with this)."""
    with _TASKS_LOCK:
        for task in _TASKS.values():
            task.stop.set()
        _TASKS.clear()


def _progress(task: ScoringTask) -> None:
    total = task.total or 1
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.progress(min(task.done / total, 1.0),
                  text=f"Scoring the model: {task.done} of {task.total or '…'} replies checked (questions it did not "
                       "train on, asked of the fine-tuned model, each checkpoint and the base model). You can leave "
                       "this page meanwhile.")
    if right.button("Stop scoring", key="train_score_stop", disabled=task.stop.is_set()):
        task.stop.set()


def _fact_words(reply: scoring.ReplyVerdict) -> str:
    if reply.error:
        return f"not answered: {reply.error}"
    if reply.wrong_facts:
        return "wrong: " + "; ".join(reply.wrong_facts)
    if reply.right_facts:
        return f"{reply.right_facts} right, none wrong"
    return "no fact it could check"


def _form_words(reply: scoring.ReplyVerdict) -> str:
    if reply.error:
        return ""
    if reply.clean_limerick:
        return "a clean limerick"
    return "not a limerick" + (": " + "; ".join(reply.problems[:2]) if reply.problems else "")


def _models(score: scoring.JobScore) -> dict[str, scoring.ModelScore]:
    found = {"Fine-tuned model": score.final}
    found.update({f"Checkpoint at step {c.step}": c for c in score.checkpoints})
    if score.base is not None:
        found["Base model"] = score.base
    return found


def _replies(score: scoring.JobScore) -> None:
    """Every model's counts, then one model's replies with what the checks found, in plain words."""
    models = _models(score)
    st.dataframe(pd.DataFrame([{"model": label, "clean limericks": f"{m.clean}/{m.n}",
                                "right facts": f"{m.right}/{m.n}", "wrong facts": f"{m.wrong}/{m.n}",
                                "name": m.model} for label, m in models.items()]),
                 hide_index=True, width="stretch")
    label = st.selectbox("Show the replies of", list(models), key="train_score_replies_of")
    st.dataframe(
        pd.DataFrame([{"question": r.prompt, "reply": r.text, "form": _form_words(r), "facts": _fact_words(r)}
                      for r in models[label].replies]),
        hide_index=True, width="stretch", row_height=112, height=470,  # tall rows: a limerick's five lines wrap
        column_config={"question": st.column_config.TextColumn("question", width="small"),
                       "reply": st.column_config.TextColumn("reply", width="large"),
                       "form": st.column_config.TextColumn("form", width="medium"),
                       "facts": st.column_config.TextColumn("facts", width="medium")},
    )


def show(score: scoring.JobScore, *, job_id: str) -> None:
    """The scores against the base model's, the best-checkpoint flag, and every reply on demand."""
    st.markdown(f"**Held-out score** · {len(score.prompts)} questions the model did not train on, each reply "
                "checked for limerick form and element facts")
    final, base = score.final, score.base
    cols = st.columns(3)
    for col, (name, mine, theirs, inverse) in zip(cols, [
            ("Clean limericks", final.clean, base.clean if base else None, False),
            ("Right facts", final.right, base.right if base else None, False),
            ("Wrong facts", final.wrong, base.wrong if base else None, True)], strict=True):
        if theirs is None:
            col.metric(name, f"{mine}/{final.n}")
        elif mine == theirs:
            col.metric(name, f"{mine}/{final.n}", delta="same as the base model", delta_color="off",
                       delta_arrow="off")
        else:
            col.metric(name, f"{mine}/{final.n}", delta=f"{mine - theirs:+d} vs the base model",
                       delta_color="inverse" if inverse else "normal")
    line = f"**Fine-tuned:** {score.final.headline()}"
    if score.base is not None:
        line += f"  \n**Base:** {score.base.headline()}"
    st.markdown(line)
    best = score.best_checkpoint()
    if best is not None:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.success(render.escape(score.advice() or ""), icon=":material/star:")
        if right.button("Use this checkpoint", key="train_score_use_checkpoint", type="primary",
                        help="Makes it the fine-tuned model in the Playground."):
            use_model(best.model, job_id)
    with st.expander("Every reply, and what the checks found"):
        _replies(score)
        st.caption(f"Scored {datetime.fromtimestamp(score.scored_at):%Y-%m-%d %H:%M}. The replies are greedy "
                   "(temperature 0), so the same model gives the same score.")


def render_job_scores(config: providers.ProviderConfig, s: job_monitor.MonitorState, *, live: bool) -> None:
    """The job card's score. A succeeded job without one is scored in the background (started by the page's
    first full run after the job ended), with a progress bar that refreshes itself until the score is in."""
    if not s.fine_tuned_model or (live and stored(s.job_id) is None):
        return
    if stored(s.job_id) is None and s.job_id not in _TASKS:
        _start(config, s)
    task = _TASKS.get(s.job_id)
    scoring_now = task is not None and not task.finished

    @st.fragment(run_every=1.0 if scoring_now else None)
    def card() -> None:
        task = _TASKS.get(s.job_id)
        if task is not None and not task.finished:
            _progress(task)
            return
        if scoring_now:
            st.rerun()  # it has just ended: a full run shows the score and stops the refresh
        score = stored(s.job_id)
        if score is not None:
            show(score, job_id=s.job_id)
        elif task is not None and task.error and _retry(task.error):
            _TASKS.pop(s.job_id, None)
            st.rerun()

    card()
