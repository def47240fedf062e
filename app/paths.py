"""Where the page's files live: inside the installed app package, or beside it in a checkout.

A wheel installs ``static/`` and ``templates/`` as ``app/static`` and ``app/templates`` (see
``[tool.setuptools.package-dir]`` in pyproject.toml); a checkout or an editable install keeps them at the
top of the repository, next to ``app/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def asset_folder(name: str) -> Path:
    """The folder ``name`` (``"static"`` or ``"templates"``): installed in ``app``, else beside it."""
    package = resources.files("app")
    if not isinstance(package, Path):  # pragma: no cover - pip always installs wheels as files
        raise RuntimeError(f"Kernel Lens must be installed as files, not inside an archive, got {package!r}")
    for folder in (package / name, package.parent / name):
        if folder.is_dir():
            return folder
    raise RuntimeError(f"Kernel Lens' {name}/ folder is missing: looked in {package} and beside it")


TEMPLATES = asset_folder("templates")
STATIC = asset_folder("static")
