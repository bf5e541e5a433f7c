"""The SDK's objects and plain dicts, read the same way.

A job, an event or a checkpoint reaches the studio as an `openai` SDK object, as a dict (a stub in a
test, a job the page kept in its session) or as a provider's own shape (Together); every module that
reads one asks these two functions rather than guessing which it got.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["field_of", "plain_dict"]


def plain_dict(obj: Any) -> dict[str, Any]:
    """A JSON-safe dict of an SDK object (or a dict already)."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    return dict(vars(obj))


def field_of(obj: Any, name: str, default: Any = None) -> Any:
    """`obj.name` or `obj[name]`, whichever `obj` is (`default` when it is None or has no such field)."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)
