"""AppTest helpers: run the real app.py and move between its pages, failing on any exception."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


class Studio:
    """One browser session of the app."""

    def __init__(self, timeout: float = 120) -> None:
        self.at = AppTest.from_file(APP, default_timeout=timeout)
        self.at.run()
        self.assert_ok()

    def page(self, name: str) -> AppTest:
        self.at.switch_page(f"views/{name}.py").run()
        self.assert_ok()
        return self.at

    def run(self) -> AppTest:
        self.at.run()
        self.assert_ok()
        return self.at

    def assert_ok(self) -> None:
        from ui.render import UNEXPECTED

        assert not self.at.exception, [e.value for e in self.at.exception]
        assert UNEXPECTED not in self.texts("error"), "a page failed (see the log above)"

    def texts(self, kind: str) -> list[str]:
        return [str(e.value) for e in getattr(self.at, kind)]


@pytest.fixture(autouse=True)
def _stop_background_scoring() -> Iterator[None]:
    """A job the Train page scores in the background must not go on asking the shared engine after its test."""
    yield
    scores = sys.modules.get("ui.train_scores")
    if scores is not None:
        scores.stop_all()


@pytest.fixture
def studio() -> Studio:
    return Studio()


@pytest.fixture
def new_session():
    """Open a second, independent session (like a browser refresh)."""
    return Studio
