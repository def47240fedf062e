"""``python -m app.healthcheck``: exit 0 when the server on this machine answers GET /healthz, else 1.

It asks the port and address ``kernel-lens serve`` uses by default (KERNEL_LENS_PORT, KERNEL_LENS_HOST; 8000
and 127.0.0.1), so a container's HEALTHCHECK follows the configured port. Standard library only: it runs
while the server may be stuck, and must not import the app.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

WILDCARDS = ("", "0.0.0.0", "::", "[::]")  # listening everywhere: ask over loopback


def url(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The /healthz URL of the server this environment configures."""
    port = environ.get("KERNEL_LENS_PORT", "8000").strip() or "8000"
    host = environ.get("KERNEL_LENS_HOST", "127.0.0.1").strip()
    if host in WILDCARDS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{int(port)}/healthz"


def check(address: str, timeout: float = 3.0) -> str | None:
    """None when the server is healthy, else why not."""
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:
            body = json.loads(response.read())
    except (OSError, ValueError) as error:  # refused, timed out, HTTP error, not JSON
        return f"{address}: {error}"
    if not isinstance(body, dict) or body.get("status") != "ok":
        return f"{address}: unexpected answer {body!r}"
    return None


def main() -> int:
    """Check, print why on failure, and return the exit status."""
    try:
        address = url()
    except ValueError as error:
        print(f"healthcheck: KERNEL_LENS_PORT is not a port number: {error}", file=sys.stderr)
        return 1
    problem = check(address)
    if problem is not None:
        print(f"healthcheck: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
