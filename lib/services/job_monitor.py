"""Following one job to its end: `JobMonitor` polls it and keeps a JSON-safe `MonitorState` for the page.

The Train page calls it from an auto-refreshing fragment, and `python -m lib train` in a loop; neither
owns a thread. Each poll reads the job and its new events (`lib.services.jobs`), turns metrics events
into curve rows (`lib.services.metrics.StepMetrics`), and once the job has ended fetches its checkpoints
and result file (`lib.services.job_results`) once:

    monitor = JobMonitor(client, job.id)
    state = monitor.poll()          # again when monitor.due(); state.to_dict() survives a refresh
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from lib.services import errors
from lib.services.job_results import ResultFile, download_result, read_curves
from lib.services.jobs import (
    TERMINAL,
    actual_cost,
    cancel,
    list_checkpoints,
    list_events,
    pause,
    resume,
    retrieve,
)
from lib.services.metrics import StepMetrics
from lib.services.sdk_objects import field_of, plain_dict

if TYPE_CHECKING:
    import openai

__all__ = ["JobMonitor", "MonitorState", "metrics_row"]


def metrics_row(event: Any) -> dict[str, Any] | None:
    """One row of the monitor's curves (`StepMetrics.to_dict()`) from a metrics event, or from its
    "Step 40/100: training loss=0.42" message; None for an event without metrics."""
    record = StepMetrics.from_event(event)
    return None if record is None else record.to_dict()


@dataclass
class MonitorState:
    """Everything the Train page shows about one job; JSON-safe (`to_dict` / `from_dict`)."""

    job_id: str
    status: str = "validating_files"
    job: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    new_events: list[dict[str, Any]] = field(default_factory=list)  # from the last poll
    metrics: list[dict[str, Any]] = field(default_factory=list)  # by step
    timeline: list[dict[str, Any]] = field(default_factory=list)  # [{"status", "at"}]
    step: int | None = None
    total_steps: int | None = None
    progress: float | None = None  # 0..1
    eta_seconds: float | None = None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    cost: float | None = None
    result: dict[str, Any] | None = None  # ResultFile.to_dict()
    error: dict[str, Any] | None = None  # JobFailed.to_dict() for a failed job
    warning: str | None = None  # a passing problem in the last poll (the next poll retries)
    curves: str | None = None  # read_curves(metrics)
    last_event_id: str | None = None
    next_poll_in: float | None = 1.0  # seconds; None once the job has ended and everything is fetched
    polled_at: float | None = None
    done: bool = False

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class JobMonitor:
    """Follows one job: `poll()` reads the job and its new events and returns the updated `MonitorState`.

    No threads: the caller decides when to poll (`due()` says when the next poll is worth it:
    backing off 1 → 2 → 4 → 10 s while the job waits in line, every `fast` seconds while it runs).
    A passing failure (429, 5xx, timeout, lost connection) is kept in `state.warning` and retried on
    the next poll; anything else raises the `StudioError`.
    """

    def __init__(
        self,
        client: openai.OpenAI,
        job_id: str,
        *,
        provider: str | None = None,
        fast: float = 1.0,
        slow_max: float = 10.0,
        page_size: int = 100,
        state: MonitorState | None = None,
        job: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`job`: the job as `launch`/`create` returned it, so the timeline starts at its first status."""
        self.client = client
        self.provider = provider
        self.fast = fast
        self.slow_max = slow_max
        self.page_size = page_size
        self.clock = clock
        self.state = state or MonitorState(job_id=job_id)
        self._seen = {e["id"] for e in self.state.events}
        self._extras_done = self.state.done
        if job is not None and not self.state.timeline:
            self._apply_job(job)

    # --- resuming after a refresh
    def to_dict(self) -> dict[str, Any]:
        return self.state.to_dict()

    @classmethod
    def from_dict(cls, client: openai.OpenAI, data: Mapping[str, Any], **kwargs: Any) -> JobMonitor:
        """Resume from `to_dict()`; from just `{"job_id": ...}` it reads the job's events again from the start."""
        state = MonitorState.from_dict(data)
        if not state.events:
            state.last_event_id = None  # nothing kept: read every event again
        return cls(client, state.job_id, state=state, **kwargs)

    @property
    def job_id(self) -> str:
        return self.state.job_id

    def due(self, now: float | None = None) -> bool:
        """Whether a poll is worth making now."""
        if self.state.done:
            return False
        if self.state.polled_at is None or self.state.next_poll_in is None:
            return True
        now = self.clock() if now is None else now
        return now - self.state.polled_at >= self.state.next_poll_in

    def maybe_poll(self) -> MonitorState:
        """`poll()` when due, else the current state."""
        return self.poll() if self.due() else self.state

    def poll(self) -> MonitorState:
        state = self.state
        previous = state.status
        state.new_events = []
        try:
            job = retrieve(self.client, state.job_id)
            self._apply_job(job)
            self._read_events()
            if state.terminal and not self._extras_done:
                self._finish(job)
        except errors.StudioError as exc:
            if not exc.retryable:
                raise
            state.warning = exc.message
            state.polled_at = self.clock()
            state.next_poll_in = min(self.slow_max, max(exc.retry_after or 0, (state.next_poll_in or 1) * 2))
            return state
        state.warning = None
        state.polled_at = self.clock()
        state.next_poll_in = self._interval(previous)
        state.done = state.terminal and self._extras_done
        if state.done:
            state.next_poll_in = None
        return state

    # --- actions, keeping the state in step
    def cancel(self) -> MonitorState:
        self._apply_job(cancel(self.client, self.job_id))
        return self.state

    def pause(self) -> MonitorState:
        self._apply_job(pause(self.client, self.job_id))
        return self.state

    def resume(self) -> MonitorState:
        self._apply_job(resume(self.client, self.job_id))
        return self.state

    # --- inside
    def _interval(self, previous: str) -> float | None:
        state = self.state
        if state.terminal:
            return 0.0 if not self._extras_done else None
        if state.status == "running":
            return self.fast
        if state.status != previous or state.next_poll_in is None:
            return 1.0
        return min(self.slow_max, max(1.0, (state.next_poll_in or 1.0) * 2))

    def _apply_job(self, job: Any) -> None:
        state = self.state
        state.job = plain_dict(job)
        status = str(field_of(job, "status") or state.status)
        if not state.timeline:
            state.timeline.append({"status": "created", "at": field_of(job, "created_at")})
        if not state.timeline or state.timeline[-1]["status"] != status:
            at = field_of(job, "finished_at") if status in TERMINAL else None
            state.timeline.append({"status": status, "at": at or round(self.clock())})
        state.status = status
        state.fine_tuned_model = field_of(job, "fine_tuned_model")
        state.trained_tokens = field_of(job, "trained_tokens")
        state.cost = actual_cost(job, provider=self.provider)
        if status == "failed":
            state.error = errors.JobFailed.from_job(job).to_dict()
        if status == "succeeded":
            state.progress = 1.0
            state.eta_seconds = 0.0
        elif status in TERMINAL:
            state.eta_seconds = None
        estimated = field_of(job, "estimated_finish")
        if status == "running" and state.eta_seconds is None and estimated:
            state.eta_seconds = max(0.0, float(estimated) - self.clock())

    def _read_events(self) -> None:
        state = self.state
        fresh = [
            e for e in list_events(self.client, state.job_id, since=state.last_event_id, page_size=self.page_size)
            if e.id not in self._seen
        ]
        if not fresh:
            return
        for event in fresh:
            self._seen.add(event.id)
            as_dict = {
                "id": event.id,
                "created_at": event.created_at,
                "level": event.level,
                "message": event.message,
                "type": field_of(event, "type"),
                "data": field_of(event, "data"),
            }
            state.events.append(as_dict)
            state.new_events.append(as_dict)
            row = metrics_row(event)
            if row is not None:
                self._add_metrics(row)
        state.last_event_id = fresh[-1].id
        self._update_progress()

    def _add_metrics(self, row: dict[str, Any]) -> None:
        metrics = self.state.metrics
        for existing in metrics:
            if existing["step"] == row["step"]:
                existing.update({k: v for k, v in row.items() if v is not None})
                return
        metrics.append(row)
        metrics.sort(key=lambda r: r["step"])

    def _update_progress(self) -> None:
        state = self.state
        if not state.metrics:
            return
        last = state.metrics[-1]
        state.step = last["step"]
        totals = [r["total_steps"] for r in state.metrics if r.get("total_steps")]
        state.total_steps = totals[-1] if totals else state.total_steps
        if state.total_steps:
            state.progress = 1.0 if state.status == "succeeded" else min(1.0, state.step / state.total_steps)
        state.curves = read_curves(state.metrics)
        if state.status in TERMINAL or not state.total_steps:
            return
        timed = [(r["created_at"], r["step"]) for r in state.metrics[-20:] if r.get("created_at") is not None]
        if len(timed) >= 2 and timed[-1][0] > timed[0][0] and timed[-1][1] > timed[0][1]:
            # Steps per second from the server's own timestamps (differences only, so clock skew
            # between here and the server does not matter).
            rate = (timed[-1][1] - timed[0][1]) / (timed[-1][0] - timed[0][0])
            state.eta_seconds = max(0.0, (state.total_steps - state.step) / rate)

    def _finish(self, job: Any) -> None:
        """Once the job has ended: its final events, checkpoints and result file, each fetched once."""
        state = self.state
        notes = []
        if state.status == "succeeded":
            try:
                state.checkpoints = list_checkpoints(self.client, state.job_id)
            except errors.StudioError as exc:
                if exc.retryable:
                    raise
                notes.append(f"Checkpoints unavailable: {exc.message}")
        if field_of(job, "result_files"):
            try:
                result = download_result(self.client, job)
            except errors.StudioError as exc:
                if exc.retryable:
                    raise
                notes.append(f"Result file unavailable: {exc.message}")
            else:
                state.result = result.to_dict() if result else None
                if result and result.rows:
                    self._metrics_from_result(result)
        self._read_events()
        self._extras_done = True
        if notes:
            state.warning = " ".join(notes)

    def _metrics_from_result(self, result: ResultFile) -> None:
        """Fill steps the events missed (providers thin out metrics events on long jobs) from the result CSV."""
        known = {r["step"] for r in self.state.metrics}
        for values in result.rows:
            record = StepMetrics.from_mapping(values, total_steps=self.state.total_steps)
            if record is None or record.step in known:
                continue
            self.state.metrics.append(record.to_dict())
        self.state.metrics.sort(key=lambda r: r["step"])
        self.state.curves = read_curves(self.state.metrics)
