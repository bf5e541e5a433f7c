"""Where the studio keeps its files: one home folder, overridable for tests and servers."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The studio's data folder (`$FTS_HOME`, else `~/.fine-tune-studio`)."""
    path = Path(os.environ.get("FTS_HOME") or Path.home() / ".fine-tune-studio")
    path.mkdir(parents=True, exist_ok=True)
    return path


def workspace_dir() -> Path:
    """Autosaved datasets and their versions."""
    path = home() / "workspace"
    path.mkdir(parents=True, exist_ok=True)
    return path


def engine_dir() -> Path:
    """The local engine's SQLite database, uploaded files and adapters."""
    path = home() / "engine"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_cache_dir() -> Path:
    """Converted base models (SmolLM2 de-quantized once), shared by every engine data dir.

    Kept apart from `home()` so tests that move `FTS_HOME` to a temporary folder do not
    convert the 98 MB GGUF again for each test.
    """
    path = Path(os.environ.get("FTS_MODEL_CACHE") or Path.home() / ".cache" / "fine-tune-studio" / "models")
    path.mkdir(parents=True, exist_ok=True)
    return path
