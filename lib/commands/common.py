"""What several commands share: the provider options, the client they give, and a clean exit.

One home, so `compare`, `score`, `sweep` and the other commands reach a provider the same way the
sidebar does (`lib.services.providers.config_from_env`) and leave no engine running behind them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

PROVIDERS = ("local", "openai", "azure", "url")


class CommandError(Exception):
    """A plain sentence for stderr."""


def add_provider_arguments(parser: argparse.ArgumentParser, *, default: str | None = "local") -> None:
    """--provider, --base-url and --api-key, worded the same for every command."""
    parser.add_argument("--provider", choices=PROVIDERS, default=default,
                        help=f"Where the models run (default: {default or 'from the environment'}; "
                        "local is the studio's engine).")
    parser.add_argument("--base-url", help="Server address for --provider url or local (local default: the engine at "
                        "http://127.0.0.1:8765, started when none answers); the endpoint for --provider azure.")
    parser.add_argument("--api-key", help="API key (else OPENAI_API_KEY, AZURE_OPENAI_API_KEY or FTS_ENGINE_KEY).")


def with_v1(url: str) -> str:
    """OpenAI-compatible servers answer under /v1: add it when the address has no path."""
    url = url.rstrip("/")
    return url + "/v1" if urlparse(url).path in ("", "/") else url


def provider_config(args: argparse.Namespace, **extra: Any) -> Any:
    """The provider config the options ask for; explicit options win over the environment."""
    from lib.services import providers

    kind = getattr(args, "provider", None) or providers.default_config().kind
    overrides: dict[str, Any] = {"api_key": getattr(args, "api_key", None), **extra}
    base_url = getattr(args, "base_url", None)
    if base_url:
        if kind == "azure":
            overrides["azure_endpoint"] = base_url
        else:
            overrides["base_url"] = with_v1(base_url) if kind in ("local", "url") else base_url
    return providers.config_from_env(kind, **overrides)


def plain(exc: BaseException) -> str:
    """One line for stderr: our own sentences as they are, a service's error in plain words."""
    if isinstance(exc, CommandError | ValueError | OSError) and not hasattr(exc, "status_code"):
        if isinstance(exc, FileNotFoundError):
            return f"No such file: {exc.filename}"
        return str(exc) or type(exc).__name__
    from lib.services.errors import one_line

    return one_line(exc)


def load_dataset(path: str | Path, *, what: str = "file") -> Any:
    """The dataset at `path` as `lib.dataprep.readers` reads it (JSONL, CSV, XLSX, legacy converted), or a
    CommandError naming the file and, for a malformed one, its line."""
    from lib.dataprep import dataset, readers

    file = Path(path)
    if not file.is_file():
        raise CommandError(f"No such {what}: {path}")
    try:
        return readers.load_file(file)
    except dataset.ParseError as exc:
        raise CommandError(f"{file.name}: {exc}") from exc


def stop_engines_we_started() -> None:
    """A one-off command leaves nothing running: stop a local engine that this command started."""
    if "lib.services.providers" not in sys.modules:
        return
    with contextlib.suppress(Exception):
        from lib.services.providers import get_provider

        for handle in list(getattr(get_provider("local"), "handles", {}).values()):
            if getattr(handle, "started", False):
                handle.stop()


def progress_line(done: int, total: int, what: str = "replies") -> None:
    """`3/20 replies` on a terminal, nothing when piped."""
    if sys.stderr.isatty():
        print(f"\r{done}/{total} {what}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def run_guarded(name: str, body: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command's body the way every command ends: never a traceback (one plain line on stderr and
    exit 1), and no engine this command started left running."""
    try:
        return body(args)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # never a traceback
        print(f"{name}: {plain(exc)}", file=sys.stderr)
        return 1
    finally:
        stop_engines_we_started()
