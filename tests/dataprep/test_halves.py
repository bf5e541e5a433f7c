"""lib.dataprep.halves: half of a large job in a forked child, the same answer as doing it all here."""

from __future__ import annotations

import os

import pytest

from lib.dataprep import halves


def rows_with_their_process(start: int, stop: int) -> list[tuple[int, int]]:
    return [(i * i, os.getpid()) for i in range(start, stop)]


@pytest.fixture
def splittable(monkeypatch):
    monkeypatch.setattr(halves, "AT_LEAST", 10)
    monkeypatch.setattr(halves.threading, "active_count", lambda: 1)  # pytest's own threads aside
    monkeypatch.delenv("FTS_ONE_CORE", raising=False)
    monkeypatch.setattr(halves, "cores", lambda: 2)


def test_the_second_half_is_worked_out_in_a_child_and_the_answer_is_whole_and_in_order(splittable):
    out = halves.in_two(rows_with_their_process, 101)
    assert [value for value, _ in out] == [i * i for i in range(101)]
    assert {pid for _, pid in out[:50]} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in out[50:]}  # really another process


def test_a_child_that_fails_leaves_its_half_to_this_process(splittable):
    parent = os.getpid()

    def fails_in_the_child(start: int, stop: int) -> list[int]:
        if os.getpid() != parent:
            raise RuntimeError("out of memory, say")
        return list(range(start, stop))

    assert halves.in_two(fails_in_the_child, 40) == list(range(40))


def test_small_jobs_threads_and_the_opt_out_keep_everything_in_this_process(monkeypatch):
    monkeypatch.setattr(halves, "cores", lambda: 2)
    monkeypatch.setattr(halves.threading, "active_count", lambda: 1)
    monkeypatch.delenv("FTS_ONE_CORE", raising=False)
    assert halves.can_split(halves.AT_LEAST) is (os.name == "posix" and halves.sys.platform == "linux")
    assert not halves.can_split(halves.AT_LEAST - 1)
    monkeypatch.setenv("FTS_ONE_CORE", "1")
    assert not halves.can_split(halves.AT_LEAST)
    monkeypatch.delenv("FTS_ONE_CORE")
    monkeypatch.setattr(halves.threading, "active_count", lambda: 2)
    assert not halves.can_split(halves.AT_LEAST)  # forking with another thread running is not safe
    assert {pid for _, pid in halves.in_two(rows_with_their_process, 30)} == {os.getpid()}


def test_nowhere_to_write_the_childs_answer_means_everything_is_done_here(splittable, monkeypatch):
    def no_temporary_file(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(halves.tempfile, "TemporaryFile", no_temporary_file)
    out = halves.in_two(rows_with_their_process, 30)
    assert [value for value, _ in out] == [i * i for i in range(30)]
    assert {pid for _, pid in out} == {os.getpid()}
