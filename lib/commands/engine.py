"""`python -m lib engine`: start the local OpenAI-compatible fine-tuning engine.

    python -m lib engine --host 127.0.0.1 --port 8765 --data-dir DIR [--api-key-file FILE]

Point any OpenAI client at http://HOST:PORT/v1. With a key ($FTS_ENGINE_API_KEY, --api-key-file, or
--api-key, which `ps` shows to every user of the machine) every /v1 request must carry it, so the same
command on a GPU server serves a whole team. Off this computer's own addresses a key is required.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="database, uploaded files and models (default: the studio's engine folder)")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--api-key-file", type=Path, default=None, metavar="FILE",
                      help="require the key in FILE (its first line) on every /v1 request")
    keys.add_argument("--api-key", default=None,
                      help="require this key on every /v1 request; visible to anyone who runs `ps`: prefer "
                           "--api-key-file or $FTS_ENGINE_API_KEY (default: $FTS_ENGINE_API_KEY, then "
                           "$FTS_ENGINE_KEY, else none)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help="a name clients reach the engine by (checked against the Host header; 127.0.0.1, "
                             "localhost and --host always work); repeatable")
    parser.add_argument("--no-key-i-know", action="store_true",
                        help="listen on a non-local address without a key (anyone who can reach it may use it)")
    parser.add_argument("--max-upload-mb", type=float, default=512.0, help="largest upload in MB (default 512)")
    parser.add_argument("--max-waiting-jobs", type=int, default=20,
                        help="jobs allowed to wait for training before answering 429 (default 20)")
    parser.add_argument("--model", action="append", default=[], metavar="ID_OR_PATH",
                        help="offer another base model (Hub id or local folder); repeatable")
    parser.add_argument("--no-prewarm", action="store_true",
                        help="do not start the next training process in advance (saves ~400 MB of memory)")
    parser.add_argument("--launcher", default=None, metavar="COMMAND",
                        help="run each job under a launcher, e.g. \"accelerate launch --num_processes 4\" "
                             "for several GPUs (the job runs as COMMAND -m lib.engine.training CONFIG)")
    parser.add_argument("--prepare", action="store_true",
                        help="convert the bundled SmolLM2 model once (about 15 s) and build the test model, then exit")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def prepare() -> int:
    """Do the slow one-off work at setup time, so the first training job does not wait for it."""
    try:
        from lib.engine import models

        path, seconds = models.convert_smollm2()
        models.build_tiny()
    except Exception as exc:  # never a traceback: say what is missing
        print(f"Could not prepare the engine's models: {exc}", file=sys.stderr)
        return 1
    print(f"SmolLM2-135M-Instruct ready in {path}" + (f" (converted in {seconds:.0f} s)" if seconds else ""),
          file=sys.stderr)
    return 0


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from --api-key, --api-key-file, $FTS_ENGINE_API_KEY or $FTS_ENGINE_KEY, in that order."""
    if args.api_key:
        return args.api_key
    if args.api_key_file:
        try:
            lines = args.api_key_file.read_text().splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read the key file {args.api_key_file} ({exc.strerror})") from None
        key = lines[0].strip() if lines else ""
        if not key:
            raise ValueError(f"the key file {args.api_key_file} is empty")
        return key
    return os.environ.get("FTS_ENGINE_API_KEY") or os.environ.get("FTS_ENGINE_KEY") or None


def run(args: argparse.Namespace) -> int:
    if args.prepare:
        return prepare()
    try:  # the engine's own packages (an app-only install may lack them)
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        print(f"The engine needs its packages ({exc.name} is missing): pip install -r requirements.txt",
              file=sys.stderr)
        return 1
    from lib import paths
    from lib.engine.guard import is_loopback
    from lib.engine.server import Settings, create_app

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        api_key = _api_key(args)
    except ValueError as exc:
        print(f"Cannot start the engine: {exc}", file=sys.stderr)
        return 2
    if not api_key and not is_loopback(args.host) and not args.no_key_i_know:
        print(f"Refusing to listen on {args.host} without a key: anyone who can reach it could read every dataset "
              "and model. Set one with FTS_ENGINE_API_KEY=... or --api-key-file FILE (or add --no-key-i-know).",
              file=sys.stderr)
        return 2
    try:
        settings = Settings(
            data_dir=args.data_dir or paths.engine_dir(),
            api_key=api_key,
            secret=os.environ.pop("FTS_ENGINE_SECRET", None) or None,  # popped: training processes never see it
            host=args.host,
            allowed_hosts=tuple(args.allowed_host),
            max_upload_bytes=max(1, int(args.max_upload_mb * 1024 * 1024)),
            max_waiting_jobs=args.max_waiting_jobs,
            prewarm=not args.no_prewarm,
            extra_models=tuple(args.model),
            launcher=args.launcher,
        )
        app = create_app(settings)
    except (OSError, ValueError) as exc:
        print(f"Cannot start the engine: {exc}", file=sys.stderr)
        return 1
    print(f"Local engine on http://{args.host}:{args.port}/v1 (data in {settings.data_dir})", file=sys.stderr,
          flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5)
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
