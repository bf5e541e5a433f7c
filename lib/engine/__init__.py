"""The local engine: an OpenAI-compatible fine-tuning and chat server that really trains open models.

Public API:
    ensure_running(host, port, data_dir, api_key, timeout) -> EngineHandle   (lib.engine.process)
    estimate(model, tokens, examples, epochs, data_dir=None) -> {"seconds", "tokens_per_second", "basis", ...}
    create_app(settings) / Settings                                           (lib.engine.server)
    DEFAULT_MODEL, TINY_MODEL

Importing this package is cheap: FastAPI, torch and transformers load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lib.engine.models import DEFAULT_MODEL, TINY_MODEL
from lib.engine.process import EngineHandle, EngineStartError, ensure_running

if TYPE_CHECKING:
    from lib.engine.server import Settings, create_app

__all__ = ["DEFAULT_MODEL", "TINY_MODEL", "EngineHandle", "EngineStartError", "Settings", "create_app",
           "ensure_running", "estimate"]


def estimate(model: str = DEFAULT_MODEL, tokens: int = 0, examples: int = 0, epochs: int | str = "auto",
             *, data_dir: Any = None, calibrate: bool = True) -> dict:
    """How long a job takes on this machine (see lib.engine.speed.estimate)."""
    from lib.engine.speed import estimate as _estimate

    return _estimate(model, tokens, examples, epochs, data_dir=data_dir, calibrate=calibrate)


def __getattr__(name: str):
    if name in ("Settings", "create_app"):
        from lib.engine import server

        return getattr(server, name)
    raise AttributeError(name)
