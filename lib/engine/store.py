"""The engine's state: one SQLite database plus a folder of uploaded and produced files.

Both the server and the training process write here (WAL mode, one short transaction per write),
so progress survives a crash of either. Rows hold the wire objects' fields; `*_json` columns hold
the nested parts as JSON text.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import string
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_ALPHABET = string.ascii_letters + string.digits

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, seq INTEGER, created_at INTEGER, filename TEXT, purpose TEXT,
    bytes INTEGER, status TEXT, path TEXT, deleted INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, seq INTEGER, created_at INTEGER, model TEXT, training_file TEXT,
    validation_file TEXT, method_json TEXT, hyperparameters_json TEXT, suffix TEXT, seed INTEGER,
    metadata_json TEXT, status TEXT, fine_tuned_model TEXT, finished_at INTEGER, error_json TEXT,
    result_files_json TEXT DEFAULT '[]', trained_tokens INTEGER, estimated_finish INTEGER,
    step INTEGER, total_steps INTEGER, started_at REAL, pid INTEGER, options_json TEXT DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, job_id TEXT, created_at INTEGER,
    level TEXT, message TEXT, type TEXT, data_json TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events (job_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    id TEXT PRIMARY KEY, seq INTEGER, job_id TEXT, created_at INTEGER, step_number INTEGER,
    fine_tuned_model_checkpoint TEXT, metrics_json TEXT, path TEXT
);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, seq INTEGER, created_at INTEGER, base_model TEXT, job_id TEXT,
    kind TEXT, path TEXT, step INTEGER
);
CREATE TABLE IF NOT EXISTS runs (
    job_id TEXT PRIMARY KEY, created_at INTEGER, model TEXT, device TEXT, tokens INTEGER,
    examples INTEGER, steps INTEGER, seconds REAL, overhead_seconds REAL
);
"""


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


class Store:
    """Thin, thread-safe access to the database; one connection per call keeps it process-safe too."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir = self.data_dir / "files"
        self.jobs_dir = self.data_dir / "jobs"
        self.files_dir.mkdir(exist_ok=True)
        self.jobs_dir.mkdir(exist_ok=True)
        self.db_path = self.data_dir / "engine.sqlite3"
        self._seq_lock = threading.Lock()
        with self.connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; no fsync per progress row
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()

    def _next_seq(self, db: sqlite3.Connection, table: str) -> int:
        row = db.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()
        return int(row[0])

    # ---- files -------------------------------------------------------------------------------
    def add_file(self, file_id: str, filename: str, purpose: str, size: int, path: Path) -> dict:
        with self.connect() as db, self._seq_lock:
            db.execute(
                "INSERT INTO files (id, seq, created_at, filename, purpose, bytes, status, path) "
                "VALUES (?, ?, ?, ?, ?, ?, 'processed', ?)",
                (file_id, self._next_seq(db, "files"), now(), filename, purpose, size, str(path)),
            )
        return self.get_file(file_id)

    def remove_partial_uploads(self) -> int:
        """Delete uploads a killed engine left half-written (`files/.upload-*`); call only at the engine's start."""
        removed = 0
        for partial in self.files_dir.glob(".upload-*"):
            partial.unlink(missing_ok=True)
            removed += 1
        return removed

    def get_file(self, file_id: str) -> dict | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM files WHERE id = ? AND deleted = 0", (file_id,)).fetchone()
        return dict(row) if row else None

    def list_files(self, purpose: str | None = None) -> list[dict]:
        sql = "SELECT * FROM files WHERE deleted = 0"
        args: tuple = ()
        if purpose:
            sql += " AND purpose = ?"
            args = (purpose,)
        with self.connect() as db:
            return [dict(r) for r in db.execute(sql + " ORDER BY seq DESC", args)]

    def delete_file(self, file_id: str) -> None:
        with self.connect() as db:
            db.execute("UPDATE files SET deleted = 1 WHERE id = ?", (file_id,))

    def file_in_use(self, file_id: str) -> str | None:
        with self.connect() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE (training_file = ? OR validation_file = ?) "
                "AND status IN ('validating_files', 'queued', 'running', 'paused')",
                (file_id, file_id),
            ).fetchone()
        return row["id"] if row else None

    # ---- jobs --------------------------------------------------------------------------------
    def add_job(self, job: dict, events: Sequence[tuple[str, str]] = ()) -> dict:
        """Insert a job and its first events (message, level) in one transaction; the row as created.

        One transaction, because the scheduler polls for new jobs: it must never see a job without its
        "Created fine-tuning job" event, or move it on before the caller has read it back.
        """
        with self.connect() as db, self._seq_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                job = {**job, "seq": self._next_seq(db, "jobs")}
                columns = ", ".join(job)
                marks = ", ".join("?" for _ in job)
                db.execute(f"INSERT INTO jobs ({columns}) VALUES ({marks})", tuple(job.values()))
                for message, level in events:
                    self._insert_event(db, job["id"], message, level)
                row = dict(db.execute("SELECT * FROM jobs WHERE id = ?", (job["id"],)).fetchone())
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return row

    def get_job(self, job_id: str) -> dict | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def list_jobs(self, statuses: tuple[str, ...] | None = None) -> list[dict]:
        sql = "SELECT * FROM jobs"
        args: tuple = ()
        if statuses:
            sql += f" WHERE status IN ({', '.join('?' for _ in statuses)})"
            args = statuses
        with self.connect() as db:
            return [dict(r) for r in db.execute(sql + " ORDER BY seq DESC", args)]

    def update_job(self, job_id: str, **fields: Any) -> None:
        if not fields:
            return
        assignments = ", ".join(f"{key} = ?" for key in fields)
        with self.connect() as db:
            db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*fields.values(), job_id))

    def transition(self, job_id: str, from_statuses: tuple[str, ...], **fields: Any) -> bool:
        """Update a job only if it is still in one of `from_statuses` (so a cancel is never overwritten)."""
        assignments = ", ".join(f"{key} = ?" for key in fields)
        marks = ", ".join("?" for _ in from_statuses)
        with self.connect() as db:
            cursor = db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND status IN ({marks})",
                (*fields.values(), job_id, *from_statuses),
            )
            return cursor.rowcount == 1

    # ---- events ------------------------------------------------------------------------------
    def add_event(
        self, job_id: str, message: str, *, level: str = "info", type: str = "message", data: dict | None = None
    ) -> None:
        with self.connect() as db:
            self._insert_event(db, job_id, message, level, type, data)

    @staticmethod
    def _insert_event(db: sqlite3.Connection, job_id: str, message: str, level: str = "info",
                      type: str = "message", data: dict | None = None) -> None:
        db.execute(
            "INSERT INTO events (id, job_id, created_at, level, message, type, data_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (new_id("ftevent-"), job_id, now(), level, message, type, json.dumps(data) if data else None),
        )

    def record_step(self, job_id: str, step: int, total_steps: int, estimated_finish: int | None,
                    message: str | None = None, data: dict | None = None) -> None:
        """One training step's progress and its metrics event, in one transaction (called every step)."""
        with self.connect() as db:
            db.execute("BEGIN")
            db.execute("UPDATE jobs SET step = ?, total_steps = ?, estimated_finish = ? WHERE id = ?",
                       (step, total_steps, estimated_finish, job_id))
            if message is not None:
                db.execute(
                    "INSERT INTO events (id, job_id, created_at, level, message, type, data_json) "
                    "VALUES (?, ?, ?, 'info', ?, 'metrics', ?)",
                    (new_id("ftevent-"), job_id, now(), message, json.dumps(data)),
                )
            db.execute("COMMIT")

    def list_events(self, job_id: str, after: str | None = None, limit: int = 20) -> tuple[list[dict], bool]:
        """Newest first; `after` is an event id and returns the events older than it."""
        with self.connect() as db:
            before_seq = None
            if after:
                row = db.execute("SELECT seq FROM events WHERE id = ? AND job_id = ?", (after, job_id)).fetchone()
                if row is None:  # an unknown cursor gives nothing, as every other list does
                    return [], False
                before_seq = row["seq"]
            sql = "SELECT * FROM events WHERE job_id = ?"
            args: list[Any] = [job_id]
            if before_seq is not None:
                sql += " AND seq < ?"
                args.append(before_seq)
            rows = db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit + 1)).fetchall()
        return [dict(r) for r in rows[:limit]], len(rows) > limit

    def metrics(self, job_id: str) -> list[dict]:
        """Every metrics event's data, oldest first (for the result CSV)."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT data_json FROM events WHERE job_id = ? AND type = 'metrics' ORDER BY seq", (job_id,)
            ).fetchall()
        return [json.loads(r["data_json"]) for r in rows if r["data_json"]]

    # ---- checkpoints and models ----------------------------------------------------------------
    def add_checkpoint(self, job_id: str, step: int, model_id: str, metrics: dict, path: str) -> None:
        with self.connect() as db, self._seq_lock:
            db.execute(
                "INSERT INTO checkpoints (id, seq, job_id, created_at, step_number, "
                "fine_tuned_model_checkpoint, metrics_json, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (new_id("ftckpt_"), self._next_seq(db, "checkpoints"), job_id, now(), step, model_id,
                 json.dumps(metrics), path),
            )

    def list_checkpoints(self, job_id: str) -> list[dict]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM checkpoints WHERE job_id = ? ORDER BY step_number DESC", (job_id,))
            return [dict(r) for r in rows]

    def delete_checkpoints(self, job_id: str, keep_steps: set[int]) -> list[dict]:
        """Forget checkpoints not in `keep_steps`; returns the removed rows so their folders can go."""
        removed = [c for c in self.list_checkpoints(job_id) if c["step_number"] not in keep_steps]
        with self.connect() as db:
            for row in removed:
                db.execute("DELETE FROM checkpoints WHERE id = ?", (row["id"],))
                db.execute("DELETE FROM models WHERE id = ?", (row["fine_tuned_model_checkpoint"],))
        return removed

    def add_model(self, model_id: str, base_model: str, job_id: str, kind: str, path: str, step: int | None) -> None:
        with self.connect() as db, self._seq_lock:
            db.execute(
                "INSERT OR REPLACE INTO models (id, seq, created_at, base_model, job_id, kind, path, step) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (model_id, self._next_seq(db, "models"), now(), base_model, job_id, kind, path, step),
            )

    def get_model(self, model_id: str) -> dict | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
        return dict(row) if row else None

    def list_models(self) -> list[dict]:
        with self.connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM models ORDER BY seq")]

    def delete_model(self, model_id: str) -> None:
        with self.connect() as db:
            db.execute("DELETE FROM models WHERE id = ?", (model_id,))

    def remove_model_files(self, path: str) -> bool:
        """Delete a deleted model's folder (adapter or whole model), unless another model still uses it.

        The last checkpoint and the fine-tuned model share one folder. Only folders under jobs/ are removed.
        """
        folder = Path(path).resolve()
        if not folder.is_relative_to(self.jobs_dir.resolve()) or folder == self.jobs_dir.resolve():
            return False
        with self.connect() as db:
            if db.execute("SELECT 1 FROM models WHERE path = ?", (path,)).fetchone():
                return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    # ---- speed -------------------------------------------------------------------------------
    def add_run(self, job_id: str, model: str, device: str, tokens: int, examples: int, steps: int,
                seconds: float, overhead_seconds: float) -> None:
        with self.connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, now(), model, device, tokens, examples, steps, seconds, overhead_seconds),
            )

    def recent_runs(self, model: str | None = None, limit: int = 3) -> list[dict]:
        sql = "SELECT * FROM runs WHERE seconds > 0"
        args: tuple = ()
        if model:
            sql += " AND model = ?"
            args = (model,)
        with self.connect() as db:
            return [dict(r) for r in db.execute(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", (*args, limit))]
