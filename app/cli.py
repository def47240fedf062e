"""The ``kernel-lens`` command: ``kernel-lens serve [--host] [--port] [--reload]``, ``kernel-lens --version``."""

from __future__ import annotations

import argparse
import os

import uvicorn
from pydantic import ValidationError

from app import __version__, config, prefix
from app.memory import return_freed_memory


def _root_path(value: str) -> str:
    try:
        return prefix.root_path(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    serve.add_argument("--root-path", type=_root_path, default=None, metavar="PREFIX",
                       help="the path prefix a reverse proxy serves the app under, e.g. /lens (sets "
                            "KERNEL_LENS_ROOT_PATH); the proxy may strip it or pass it on")
    args = parser.parse_args(argv)
    if args.root_path is not None:
        os.environ["KERNEL_LENS_ROOT_PATH"] = args.root_path  # read by every server process the factory makes
        config.get_settings.cache_clear()
    check_settings(parser)
    return_freed_memory()
    # frame batches are float arrays: compressing them costs ~40 ms per MB and saves little
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, reload=args.reload,
                ws_max_size=1 << 20, ws_per_message_deflate=False)


if __name__ == "__main__":
    main()
