"""The ``kernel-lens`` command: ``kernel-lens serve [--host] [--port] [--reload]``, ``kernel-lens worker [--burst]``
(queued GIF and training jobs, with KERNEL_LENS_REDIS_URL), ``kernel-lens --version``."""

from __future__ import annotations

import argparse
import inspect
import os
from typing import Any

import uvicorn
from pydantic import ValidationError

from app import __version__, config, prefix, render_cli


def _root_path(value: str) -> str:
    try:
        return prefix.root_path(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _workers(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes, at least 1, got {value!r}")
    return int(value)


def check_settings(parser: argparse.ArgumentParser) -> None:
    """Read the KERNEL_LENS_* settings now: a bad one stops here with one line per mistake (exit 2), not with a
    traceback from inside the server."""
    try:
        config.get_settings()
    except ValidationError as error:
        lines = [f"KERNEL_LENS_{'_'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
                 for e in error.errors()]
        parser.exit(2, "".join(f"kernel-lens: {line}\n" for line in lines))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and start the server."""
    parser = argparse.ArgumentParser(prog="kernel-lens", description="Kernel Lens: watch a CNN compute, step by step.")
    parser.add_argument("--version", action="version", version=f"kernel-lens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the web app")
    # defaults from the environment, so a container sets them once for the server and its HEALTHCHECK
    serve.add_argument("--host", default=os.environ.get("KERNEL_LENS_HOST", "127.0.0.1"),
                       help="address to listen on (default $KERNEL_LENS_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=os.environ.get("KERNEL_LENS_PORT", "8000"),
                       help="port (default $KERNEL_LENS_PORT or 8000)")
    serve.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    serve.add_argument("--workers", type=_workers, default=1, metavar="N",
                       help="server processes (uvicorn's workers; default 1); more than 1 needs KERNEL_LENS_REDIS_URL")
    serve.add_argument("--root-path", type=_root_path, default=None, metavar="PREFIX",
                       help="the path prefix a reverse proxy serves the app under, e.g. /lens (sets "
                            "KERNEL_LENS_ROOT_PATH); the proxy may strip it or pass it on")
    worker = commands.add_parser("worker", help="run queued GIF and training jobs (needs KERNEL_LENS_REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="stop once the queue is empty")
    worker.add_argument("--name", default=None, help="the worker's name in RQ (default: generated)")
    render_cli.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "render":
        check_settings(parser)
        raise SystemExit(render_cli.run(args, config.get_settings()))
    if args.command == "worker":
        check_settings(parser)
        from app.worker import work  # the worker's own modules load only for this command

        work(config.get_settings(), burst=args.burst, name=args.name)
        return
    if args.root_path is not None:
        os.environ["KERNEL_LENS_ROOT_PATH"] = args.root_path  # read by every server process the factory makes
        config.get_settings.cache_clear()
    check_settings(parser)
    if args.workers > 1 and args.reload:
        parser.error("--reload restarts one process: use it without --workers")
    if args.workers > 1 and not config.get_settings().redis_url:
        parser.exit(2, f"kernel-lens serve: --workers {args.workers} needs KERNEL_LENS_REDIS_URL (e.g. "
                       "redis://localhost:6379/0). Without Redis each process keeps its own images, runs and chains "
                       "in memory, so an image uploaded to one process is a 404 on the others. Start Redis and set "
                       "KERNEL_LENS_REDIS_URL, or serve with --workers 1.\n")
    extra: dict[str, Any] = {}
    if args.workers > 1 and "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        # a worker must answer uvicorn's ping within this while it imports NumPy and decodes the samples: 5 s
        # (the default) is not enough on a busy machine, and each restart would start over (uvicorn >= 0.37)
        extra["timeout_worker_healthcheck"] = 60
    # frame batches are float arrays: compressing them costs ~40 ms per MB and saves little
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, reload=args.reload,
                workers=args.workers, ws_max_size=1 << 20, ws_per_message_deflate=False, **extra)


if __name__ == "__main__":
    main()
