"""Print the runtime dependencies of pyproject.toml, one requirement a line (a requirements.txt).

The Dockerfile installs them in their own layer before the wheel, so a code change does not reinstall NumPy:
the layer changes only when the dependencies do. Usage: ``python deploy/requirements.py [pyproject.toml]``.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path) -> list[str]:
    """The ``[project] dependencies`` of ``pyproject``, as written there."""
    with pyproject.open("rb") as file:
        project = tomllib.load(file)["project"]
    return [str(requirement) for requirement in project.get("dependencies", [])]


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    print("\n".join(requirements(path)))
