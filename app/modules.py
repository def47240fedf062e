"""The page's JavaScript modules, found by following ``import ... from "./x.js"`` from ``static/js/boot.js`` and
``static/js/main.js``.

The page lists them as ``<link rel="modulepreload">`` so the browser fetches all of them at once, instead of
discovering them one import level at a time (four round trips before the first run could be asked for).
"""

from __future__ import annotations

import posixpath
import re
from functools import cache
from pathlib import Path

from app.paths import STATIC

IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;'"]*?\bfrom\s+["'](\.{1,2}/[^"']+\.js)["']""", re.MULTILINE)


def imports_of(path: Path) -> list[str]:
    """The relative module paths a module imports statically (``import ... from "./x.js"``)."""
    return IMPORT.findall(path.read_text(encoding="utf-8"))


@cache
def page_modules(entries: tuple[str, ...] = ("boot.js", "main.js")) -> tuple[str, ...]:
    """Every module the ``static/js/<entry>`` scripts load, directly or not, as paths under ``static/js`` (the
    entries excluded: the page loads them with their own ``<script>``), in the order first reached, the first
    entry's modules first: the page runs ``boot.js`` as soon as its few modules are in, so they are asked for
    ahead of the rest."""
    root = STATIC / "js"
    seen: list[str] = []
    for entry in entries:
        pending = [entry]
        while pending:
            current = pending.pop(0)
            for relative in imports_of(root / current):
                name = posixpath.normpath(posixpath.join(posixpath.dirname(current), relative))
                if name not in entries and name not in seen and (root / name).is_file():
                    seen.append(name)
                    pending.append(name)
    return tuple(seen)
