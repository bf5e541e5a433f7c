"""Shared test set-up: every test gets its own studio home, so nothing touches the user's files."""

from __future__ import annotations

import pytest

# Fixture plugins, one module per concern (the engine server, fault injection, ...).
pytest_plugins: list[str] = [
    "tests.plugins.apptest", "tests.plugins.browser", "tests.plugins.engine", "tests.plugins.faults",
    "tests.plugins.writer", "tests.plugins.fake_engine", "tests.plugins.together_stub",
]


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch):
    """Move the studio's home folder (workspace, engine data) to a temporary folder."""
    home = tmp_path / "studio-home"
    monkeypatch.setenv("FTS_HOME", str(home))
    # Pages that need the engine get one from the engine fixtures; others must not start a stray one
    # on the default port, so the default points at an address where nothing listens.
    monkeypatch.setenv("FTS_ENGINE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    return home
