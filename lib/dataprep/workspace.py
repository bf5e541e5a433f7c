"""Autosave: every dataset the user works on, with its last versions, on disk in the studio's home.

Layout (all JSON, readable by hand):
    <root>/current.json                       {"name": "..."}: the dataset that is open
    <root>/datasets/<quoted name>/index.json  {"next_id": N, "versions": [{id, created_at, examples, note, sha256}]}
    <root>/datasets/<quoted name>/v000007.json {"id", "created_at", "note", "sha256", "dataset": Dataset.to_dict()}
Every file is written to a temporary file in the same folder, flushed and fsync'ed, then moved into
place with os.replace (atomic), and the folder is fsync'ed: a process killed mid-write leaves the old
file intact and at worst a stray temporary file, which is ignored (and cleaned up later). The index
is a cache: versions missing from it are read back from their files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

from lib import paths
from lib.dataprep.check import PerExample, row_digest
from lib.dataprep.dataset import Dataset

MAX_VERSIONS = 50
_TMP_SUFFIX = ".tmp"
_STALE_TMP_S = 3600


@dataclass(frozen=True)
class Version:
    id: int
    created_at: float  # Unix time in seconds, like OpenAI's created_at
    examples: int
    note: str = ""


@dataclass(frozen=True)
class RowChange:
    kind: Literal["added", "removed", "changed"]
    old_index: int | None  # 0-based position in the old list
    new_index: int | None  # 0-based position in the new list
    before: Any = None
    after: Any = None

    @property
    def row(self) -> int:
        """1-based row: in the new dataset, or in the old one for a removed row."""
        return (self.new_index if self.new_index is not None else self.old_index or 0) + 1

    line = row


# ------------------------------------------------------------------------------------- file helpers


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its renames are durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the folder's lock file: two tabs, threads or processes saving one dataset take turns, so
    each gets its own version number and no save overwrites another."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as handle:  # one open file per caller: flock excludes threads too
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _now() -> float:
    return round(time.time(), 3)


def _digest(payload: dict[str, Any]) -> str:
    """The content digest of a saved dataset: its rows' digests (remembered per example object, so an
    autosave after a one-row edit hashes one row) and its other fields."""
    h = hashlib.sha256()
    rest = {k: v for k, v in payload.items() if k != "examples"}
    h.update(json.dumps(rest, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    for example in payload.get("examples") or []:
        h.update(row_digest(example).encode("ascii"))
    return h.hexdigest()


# An example's JSON, serialised once per example object (an unchanged row is not serialised again).
_example_text = PerExample(lambda example: json.dumps(example, ensure_ascii=False), limit=200_000)


def _record_text(value: dict[str, Any]) -> str:
    """Exactly `json.dumps(value, ensure_ascii=False)` of a version record, but its examples' texts are
    reused (`_example_text`): the autosave after an edit writes 10 MB without re-serialising 10 MB."""
    parts = []
    for key, item in value.items():
        if key == "examples" and isinstance(item, list):
            text = "[" + ", ".join(map(_example_text, item)) + "]"
        elif key == "dataset" and isinstance(item, dict):
            text = _record_text(item)
        else:
            text = json.dumps(item, ensure_ascii=False)
        parts.append(f"{json.dumps(key, ensure_ascii=False)}: {text}")
    return "{" + ", ".join(parts) + "}"


def _folder_name(name: str) -> str:
    """A reversible, file-system-safe folder name ("Elle v2" -> "Elle v2", "a/b" -> "a%2Fb")."""
    return quote(name, safe=" -_()[]'!,&+=").replace(".", "%2E")


def _payload(dataset: Dataset) -> dict[str, Any]:
    data = dataset.to_dict()
    data.pop("name", None)  # the folder carries the name, so a rename needs no rewrite
    return data


# ----------------------------------------------------------------------------------------- workspace


class Workspace:
    """Datasets saved under `root` (default: the studio's workspace folder)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else paths.workspace_dir()
        self.datasets_dir = self.root / "datasets"
        self.datasets_dir.mkdir(parents=True, exist_ok=True)

    # ---- names
    def _dir(self, name: str) -> Path:
        if not name or not name.strip():
            raise ValueError("A dataset needs a name.")
        folder = _folder_name(name)
        if len(folder.encode("utf-8")) > 200:
            raise ValueError("That name is too long to save: choose a shorter one.")
        return self.datasets_dir / folder

    def names(self) -> list[str]:
        """Saved datasets, alphabetically."""
        found = []
        for folder in self.datasets_dir.iterdir():
            if folder.is_dir() and not folder.name.startswith(".") and self._version_files(folder):
                found.append(unquote(folder.name))
        return sorted(found, key=str.casefold)

    def exists(self, name: str) -> bool:
        return self._dir(name).is_dir() and bool(self._version_files(self._dir(name)))

    # ---- versions
    @staticmethod
    def _version_files(folder: Path) -> dict[int, Path]:
        files = {}
        if folder.is_dir():
            for path in folder.glob("v*.json"):
                with contextlib.suppress(ValueError):
                    files[int(path.stem[1:])] = path
        return files

    def _index(self, folder: Path) -> dict[str, Any]:
        """The index, repaired from the version files when a crash left it behind them."""
        index = _read_json(folder / "index.json")
        if not isinstance(index, dict) or not isinstance(index.get("versions"), list):
            index = {"next_id": 1, "versions": []}
        files = self._version_files(folder)
        entries = {e["id"]: e for e in index["versions"] if isinstance(e, dict) and e.get("id") in files}
        for vid in sorted(set(files) - set(entries)):
            record = _read_json(files[vid])
            if isinstance(record, dict) and isinstance(record.get("dataset"), dict):
                entries[vid] = self._entry(record)
        index["versions"] = [entries[k] for k in sorted(entries)]
        index["next_id"] = max([int(index.get("next_id") or 1), *(k + 1 for k in files)])
        return index

    @staticmethod
    def _entry(record: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": int(record["id"]),
            "created_at": float(record.get("created_at") or 0.0),
            "examples": len(record["dataset"].get("examples") or []),
            "note": record.get("note", ""),
            "sha256": record.get("sha256") or _digest(record["dataset"]),
        }

    def versions(self, name: str) -> list[Version]:
        """Saved versions of a dataset, oldest first."""
        folder = self._dir(name)
        return [Version(e["id"], e["created_at"], e["examples"], e["note"]) for e in self._index(folder)["versions"]]

    def save(self, dataset: Dataset, note: str = "") -> Version:
        """Save a new version (or return the latest one when nothing changed); keeps the last 50."""
        folder = self._dir(dataset.name or "untitled")
        with _locked(folder):
            return self._save_locked(folder, dataset, note)

    def _save_locked(self, folder: Path, dataset: Dataset, note: str) -> Version:
        self._clean_temp_files(folder)
        payload = _payload(dataset)
        digest = _digest(payload)
        index = self._index(folder)
        if index["versions"] and index["versions"][-1]["sha256"] == digest:
            last = index["versions"][-1]
            return Version(last["id"], last["created_at"], last["examples"], last["note"])
        vid = index["next_id"]
        record = {"id": vid, "created_at": _now(), "note": note, "sha256": digest, "dataset": payload}
        atomic_write_text(folder / f"v{vid:06d}.json", _record_text(record))
        index["versions"].append(self._entry(record))
        index["next_id"] = vid + 1
        dropped = index["versions"][:-MAX_VERSIONS]
        index["versions"] = index["versions"][-MAX_VERSIONS:]
        atomic_write_text(folder / "index.json", json.dumps(index, ensure_ascii=False, indent=1))
        for entry in dropped:
            with contextlib.suppress(OSError):
                (folder / f"v{entry['id']:06d}.json").unlink()
        return Version(vid, record["created_at"], len(dataset.examples), note)

    @staticmethod
    def _clean_temp_files(folder: Path) -> None:
        """Temporary files older than an hour are leftovers of a killed process."""
        cutoff = time.time() - _STALE_TMP_S
        for path in folder.glob(f".*{_TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()

    def _read_version(self, folder: Path, vid: int) -> Dataset | None:
        record = _read_json(folder / f"v{vid:06d}.json")
        if not isinstance(record, dict) or not isinstance(record.get("dataset"), dict):
            return None
        dataset = Dataset.from_dict(record["dataset"])
        dataset.name = unquote(folder.name)
        return dataset

    def load(self, name: str | None) -> Dataset | None:
        """The latest readable version, or None when there is no such dataset."""
        if not name:
            return None
        folder = self._dir(name)
        for vid in sorted(self._version_files(folder), reverse=True):
            dataset = self._read_version(folder, vid)
            if dataset is not None:
                return dataset
        return None

    def load_version(self, name: str, version_id: int) -> Dataset | None:
        return self._read_version(self._dir(name), int(version_id))

    def restore(self, name: str, version_id: int) -> Version:
        """Make an old version the latest again (saved as a new version, so the restore can be undone)."""
        dataset = self.load_version(name, version_id)
        if dataset is None:
            raise KeyError(f"{name!r} has no version {version_id}.")
        return self.save(dataset, note=f"Restored version {version_id}")

    # ---- whole datasets
    def delete(self, name: str) -> None:
        folder = self._dir(name)
        if folder.is_dir():
            shutil.rmtree(folder)
        current = _read_json(self.root / "current.json")
        if isinstance(current, dict) and current.get("name") == name:
            self.set_current(None)

    def rename(self, old: str, new: str) -> None:
        """Rename a dataset with its versions (nothing to move when `old` was never saved). Raises
        ValueError when `new` is taken."""
        source, target = self._dir(old), self._dir(new)
        if source == target:
            return
        if target.exists():
            raise ValueError(f"A dataset called {new!r} already exists: choose another name.")
        if source.is_dir():
            os.replace(source, target)
            _fsync_dir(self.datasets_dir)
        current = _read_json(self.root / "current.json")
        if isinstance(current, dict) and current.get("name") == old:
            self.set_current(new)

    def current(self) -> str | None:
        """The dataset that was open last, if it still exists."""
        data = _read_json(self.root / "current.json")
        name = data.get("name") if isinstance(data, dict) else None
        return name if isinstance(name, str) and name and self.exists(name) else None

    def set_current(self, name: str | None) -> None:
        if _read_json(self.root / "current.json") == {"name": name}:
            return  # every autosave sets it: write (and fsync) only when it changes
        atomic_write_text(self.root / "current.json", json.dumps({"name": name}, ensure_ascii=False))

    def remember_job(self, provider_kind: str, job_id: str | None) -> None:
        """The job the Train page follows, per provider kind, so monitoring resumes after a refresh or a
        restart (ids only: never a key or an address)."""
        data = _read_json(self.root / "jobs.json")
        data = data if isinstance(data, dict) else {}
        data[provider_kind] = job_id
        atomic_write_text(self.root / "jobs.json", json.dumps(data))

    def last_job(self, provider_kind: str) -> str | None:
        data = _read_json(self.root / "jobs.json")
        job_id = data.get(provider_kind) if isinstance(data, dict) else None
        return job_id if isinstance(job_id, str) and job_id else None

    def remember_origin(self, name: str, origin: dict[str, Any]) -> None:
        """Where a dataset came from (a hosted job and its original file ids), kept beside its versions
        so the JSONL itself stays exactly the examples."""
        folder = self._dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "origin.json", json.dumps(origin, ensure_ascii=False, indent=1))

    def origin(self, name: str) -> dict[str, Any] | None:
        data = _read_json(self._dir(name) / "origin.json")
        return data if isinstance(data, dict) else None

    # the row-level helpers, reachable from a Workspace too
    @staticmethod
    def diff(old: Any, new: Any) -> list[RowChange]:
        return diff(old, new)

    @staticmethod
    def deleted_rows(old: Any, new: Any) -> list[RowChange]:
        return deleted_rows(old, new)


# ------------------------------------------------------------------------------------------ diffing


def _examples(value: Any) -> list[Any]:
    return list(value.examples) if isinstance(value, Dataset) else list(value or [])


def _key(example: Any) -> str:
    return row_digest(example)  # the canonical JSON's digest, remembered per example object


def diff(old: Any, new: Any) -> list[RowChange]:
    """Row-level differences between two datasets (or lists of examples), in row order: rows added,
    removed, or changed in place (a replaced row pairs with the one it replaced)."""
    before, after = _examples(old), _examples(new)
    # The rows both share at the start and at the end are equal (an edit's two versions share their
    # example objects, so this is mostly `is`): only the middle is diffed.
    start, most = 0, min(len(before), len(after))
    while start < most and (before[start] is after[start] or _key(before[start]) == _key(after[start])):
        start += 1
    end = 0
    while end < most - start and (before[-1 - end] is after[-1 - end] or _key(before[-1 - end]) == _key(after[-1 - end])):
        end += 1
    matcher = difflib.SequenceMatcher(a=[_key(e) for e in before[start:len(before) - end]],
                                      b=[_key(e) for e in after[start:len(after) - end]], autojunk=False)
    changes: list[RowChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        i1, i2, j1, j2 = i1 + start, i2 + start, j1 + start, j2 + start
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            changes.append(RowChange("changed", i1 + k, j1 + k, before[i1 + k], after[j1 + k]))
        for i in range(i1 + paired, i2):
            changes.append(RowChange("removed", i, None, before[i], None))
        for j in range(j1 + paired, j2):
            changes.append(RowChange("added", None, j, None, after[j]))
    return changes


def deleted_rows(old: Any, new: Any) -> list[RowChange]:
    """The rows `new` lost compared with `old` (what an Undo after a delete puts back)."""
    before, after = _examples(old), _examples(new)
    if len(after) >= len(before):
        return [c for c in diff(before, after) if c.kind == "removed"]
    # Deleting rows only: match what is left, in order, and everything else was deleted.
    keys = [_key(e) for e in after]
    removed, j = [], 0
    for i, example in enumerate(before):
        if j < len(keys) and _key(example) == keys[j]:
            j += 1
        else:
            removed.append(RowChange("removed", i, None, example, None))
    if j == len(keys):
        return removed
    return [c for c in diff(before, after) if c.kind == "removed"]


def undelete(examples: Any, removed: Sequence[RowChange]) -> Any:
    """Put deleted rows back where they were (a list, or a Dataset whose split follows as "train")."""
    if isinstance(examples, Dataset):
        rows = list(examples.examples)
        split = examples.splits()
        for change in sorted(removed, key=lambda c: c.old_index or 0):
            at = min(change.old_index or 0, len(rows))
            rows.insert(at, change.before)
            split.insert(at, "train")
        return dataclasses.replace(examples, examples=rows, split=split)
    rows = list(examples)
    for change in sorted(removed, key=lambda c: c.old_index or 0):
        rows.insert(min(change.old_index or 0, len(rows)), change.before)
    return rows
