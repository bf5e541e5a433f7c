"""lib.dataprep.workspace: autosave with versions, atomic writes that survive a crash, diff and undo."""

from __future__ import annotations

import dataclasses
import json
import os
import time

import pytest

from lib import paths
from lib.dataprep import workspace as ws
from lib.dataprep.dataset import Dataset, make_example
from lib.dataprep.workspace import MAX_VERSIONS, RowChange, Workspace


def elle(n: int = 3, name: str = "Elle limericks") -> Dataset:
    examples = [make_example(f"Tell me about element {i}", f"Limerick {i}") for i in range(n)]
    return Dataset(name=name, examples=examples, split=["train"] * n)


def test_default_root_is_the_studios_workspace_folder():
    assert Workspace().root == paths.workspace_dir()


def test_save_and_load(tmp_path):
    space = Workspace(tmp_path)
    data = elle()
    data.split[1] = "validation"
    version = space.save(data, note="Imported")
    assert (version.id, version.examples, version.note) == (1, 3, "Imported")
    assert abs(version.created_at - time.time()) < 60
    loaded = space.load("Elle limericks")
    assert loaded == data
    assert space.names() == ["Elle limericks"]
    assert space.load("nothing") is None and space.load(None) is None


def test_unchanged_dataset_makes_no_new_version(tmp_path):
    space = Workspace(tmp_path)
    first = space.save(elle())
    assert space.save(elle(), note="again") == first
    assert len(space.versions("Elle limericks")) == 1


def test_versions_history_is_bounded(tmp_path):
    space = Workspace(tmp_path)
    for n in range(1, MAX_VERSIONS + 6):
        space.save(elle(n), note=f"{n} rows")
    versions = space.versions("Elle limericks")
    assert len(versions) == MAX_VERSIONS
    assert [v.id for v in versions] == list(range(6, MAX_VERSIONS + 6))
    assert versions[-1].examples == MAX_VERSIONS + 5 and versions[-1].note == f"{MAX_VERSIONS + 5} rows"
    assert len(list((tmp_path / "datasets" / "Elle limericks").glob("v*.json"))) == MAX_VERSIONS
    assert space.load_version("Elle limericks", 5) is None
    assert len(space.load_version("Elle limericks", 6).examples) == 6


def test_restore_an_old_version(tmp_path):
    space = Workspace(tmp_path)
    space.save(elle(3))
    space.save(elle(5))
    version = space.restore("Elle limericks", 1)
    assert (version.id, version.note) == (3, "Restored version 1")
    assert len(space.load("Elle limericks").examples) == 3
    with pytest.raises(KeyError):
        space.restore("Elle limericks", 99)


def test_diff_rows_added_removed_changed():
    old = elle(4).examples
    new = [old[0], make_example("Tell me about element 1", "A better limerick"), old[3], make_example("x", "y")]
    changes = ws.diff(old, new)
    assert [(c.kind, c.old_index, c.new_index) for c in changes] == [
        ("changed", 1, 1), ("removed", 2, None), ("added", None, 3)]
    assert changes[0].before == old[1] and changes[0].after == new[1]
    assert [c.row for c in changes] == [2, 3, 4] == [c.line for c in changes]
    assert ws.diff(elle(2), elle(2)) == []
    assert Workspace.diff(old, old) == []


def test_deleted_rows_and_undo():
    old = elle(6)
    new = dataclasses.replace(old, examples=[old.examples[i] for i in (0, 2, 3, 5)], split=["train"] * 4)
    removed = ws.deleted_rows(old, new)
    assert removed == [RowChange("removed", 1, None, old.examples[1]), RowChange("removed", 4, None, old.examples[4])]
    assert ws.undelete(new.examples, removed) == old.examples
    back = ws.undelete(new, removed)
    assert back.examples == old.examples and back.split == ["train"] * 6


def test_deleted_rows_with_identical_rows():
    row = make_example("same", "same")
    old = [row, row, make_example("a", "b"), row]
    assert [c.old_index for c in ws.deleted_rows(old, [row, make_example("a", "b"), row])] == [1]


def test_delete_rename_and_current(tmp_path):
    space = Workspace(tmp_path)
    space.save(elle(name="a/b: Elle."))
    space.save(elle(name="Other"))
    assert space.names() == ["a/b: Elle.", "Other"]
    space.set_current("a/b: Elle.")
    assert space.current() == "a/b: Elle."
    space.rename("a/b: Elle.", "Elle v2")
    assert space.names() == ["Elle v2", "Other"] and space.current() == "Elle v2"
    assert space.load("Elle v2").name == "Elle v2"
    assert len(space.versions("Elle v2")) == 1
    with pytest.raises(ValueError, match="already exists"):
        space.rename("Elle v2", "Other")
    space.rename("never saved", "x")  # nothing to move: the next save uses the new name
    assert "x" not in space.names()
    space.delete("Elle v2")
    assert space.names() == ["Other"] and space.current() is None
    assert Workspace(tmp_path).current() is None


def test_leftover_temp_file_from_a_killed_process_does_not_break_load(tmp_path):
    space = Workspace(tmp_path)
    space.save(elle(3))
    folder = tmp_path / "datasets" / "Elle limericks"
    # What a process killed between write and rename leaves behind: a half-written temporary file.
    (folder / ".v000002.json.abc123.tmp").write_text('{"id": 2, "dataset": {"examples": [', encoding="utf-8")
    (folder / ".index.json.def456.tmp").write_text("{", encoding="utf-8")
    assert len(space.load("Elle limericks").examples) == 3
    assert [v.id for v in space.versions("Elle limericks")] == [1]
    assert space.save(elle(4)).id == 2
    assert len(space.load("Elle limericks").examples) == 4


def test_crash_during_the_rename_keeps_the_previous_version(tmp_path, monkeypatch):
    space = Workspace(tmp_path)
    space.save(elle(3))

    def killed(src, dst):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(ws.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        space.save(elle(7))
    monkeypatch.undo()
    folder = tmp_path / "datasets" / "Elle limericks"
    assert not list(folder.glob(".*.tmp"))  # the temporary file is removed on the way out
    assert len(Workspace(tmp_path).load("Elle limericks").examples) == 3


def test_crash_between_version_and_index_is_repaired(tmp_path, monkeypatch):
    space = Workspace(tmp_path)
    space.save(elle(3))
    real = ws.atomic_write_text
    calls = []

    def index_write_fails(path, text):
        calls.append(path.name)
        if path.name == "index.json":
            raise OSError("disk full")
        real(path, text)

    monkeypatch.setattr(ws, "atomic_write_text", index_write_fails)
    with pytest.raises(OSError):
        space.save(elle(4), note="lost index")
    monkeypatch.undo()
    assert [(v.id, v.examples, v.note) for v in space.versions("Elle limericks")] == [(1, 3, ""), (2, 4, "lost index")]
    assert len(space.load("Elle limericks").examples) == 4
    assert space.save(elle(5)).id == 3


def test_corrupt_latest_version_falls_back_to_the_one_before(tmp_path):
    space = Workspace(tmp_path)
    space.save(elle(3))
    space.save(elle(4))
    folder = tmp_path / "datasets" / "Elle limericks"
    (folder / "v000002.json").write_text("{not json", encoding="utf-8")
    (folder / "index.json").unlink()
    assert len(space.load("Elle limericks").examples) == 3
    assert [v.id for v in space.versions("Elle limericks")] == [1]


def test_atomic_write_fsyncs_file_and_folder(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(ws.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    ws.atomic_write_text(tmp_path / "f.json", json.dumps({"a": 1}))
    assert json.loads((tmp_path / "f.json").read_text()) == {"a": 1}
    assert len(synced) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def _save_many(root: str, writer: int, count: int) -> None:
    space = Workspace(root)
    for n in range(count):
        data = elle(n + 1)
        data.examples[0] = make_example(f"Writer {writer}", f"Save {n}")  # every save differs
        space.save(data, note=f"writer {writer} save {n}")


def _assert_every_save_kept(space: Workspace, saves: int) -> None:
    folder = space._dir("Elle limericks")
    index = json.loads((folder / "index.json").read_text())
    assert len(index["versions"]) == saves
    assert len({e["note"] for e in index["versions"]}) == saves  # no save overwrote another
    for entry in index["versions"]:
        record = json.loads((folder / f"v{entry['id']:06d}.json").read_text())
        assert (record["note"], record["sha256"]) == (entry["note"], entry["sha256"])


def test_two_sessions_saving_the_same_dataset_from_threads_lose_no_version(tmp_path):
    import threading

    start = threading.Barrier(2)

    def writer(n: int) -> None:
        start.wait()
        _save_many(str(tmp_path), n, 20)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _assert_every_save_kept(Workspace(tmp_path), 40)


def test_two_processes_saving_the_same_dataset_lose_no_version(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_save_many, args=(str(tmp_path), n, 10)) for n in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0]
    _assert_every_save_kept(Workspace(tmp_path), 20)


def test_a_version_file_is_the_same_json_as_before_rows_were_remembered(tmp_path):
    space = Workspace(tmp_path)
    data = elle(3)
    space.save(data, note="first")
    edited = ws.dataclasses.replace(data, examples=[make_example("Tell me about Neon", "Neon glows.")] + data.examples[1:])
    space.save(edited, note="one row edited")
    folder = space._dir(data.name)
    record = json.loads((folder / "v000002.json").read_text(encoding="utf-8"))
    assert (folder / "v000002.json").read_text(encoding="utf-8") == json.dumps(record, ensure_ascii=False)
    assert record["dataset"]["examples"] == edited.examples
    assert space.save(edited).id == 2  # unchanged content: no new version
