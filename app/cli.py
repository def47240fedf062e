"""The ``kernel-lens`` command: ``kernel-lens serve [--host] [--port] [--reload]``, ``kernel-lens --version``."""

from __future__ import annotations

import argparse

import uvicorn

from app import __version__
from app.memory import return_freed_memory


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and start the server."""
    parser = argparse.ArgumentParser(prog="kernel-lens", description="Kernel Lens: watch a CNN compute, step by step.")
    parser.add_argument("--version", action="version", version=f"kernel-lens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    args = parser.parse_args(argv)
    return_freed_memory()
    # frame batches are float arrays: compressing them costs ~40 ms per MB and saves little
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, reload=args.reload,
                ws_max_size=1 << 20, ws_per_message_deflate=False)


if __name__ == "__main__":
    main()
