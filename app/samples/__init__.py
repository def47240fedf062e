"""Bundled sample images and their provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).parent


@dataclass(frozen=True)
class Sample:
    """A sample image file shipped with the package."""

    name: str
    file: str
    title: str
    description: str
    license: str

    def read(self) -> bytes:
        """The file's bytes."""
        return (FOLDER / self.file).read_bytes()


SAMPLES = (
    Sample("shapes", "shapes.png", "Shapes",
           "Flat shapes with sharp edges at every angle, stripes and a one-pixel line: made for edge detectors.",
           "CC0 1.0: drawn for Kernel Lens by app/samples/make_shapes.py"),
    Sample("astronaut", "astronaut.png", "Astronaut Eileen Collins",
           "A NASA portrait photograph (512x512): faces, fabric, flags and fine detail.",
           "Public domain (NASA); copied from scikit-image's data folder (skimage/data/astronaut.png)"),
)
