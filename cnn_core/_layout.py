"""Memory layouts of a batch: an (N, C, H, W) array may be stored channels last, as PyTorch's
``torch.channels_last``: its memory is (N, H, W, C) in C order and the array is a view of it
(``x_nhwc.transpose(0, 3, 1, 2)``). Like PyTorch, conv2d and the pools give such an input a result stored
the same way (the same numbers; only the strides differ), so that a chain of them never transposes."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_channels_last(x: np.ndarray[Any, Any]) -> bool:
    """True for a 4-D array stored channels last and not also channels first (one channel or 1x1 maps are
    both, and are taken as the usual layout)."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.transpose(0, 2, 3, 1).flags.c_contiguous


def flat_view(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """Every number of ``x`` as one 1-D view of its memory, in memory order (C order or channels last);
    None when ``x`` is not one contiguous block in either layout."""
    if x.flags.c_contiguous:
        return x.reshape(-1)
    if is_channels_last(x):
        return x.transpose(0, 2, 3, 1).reshape(-1)
    return None


def empty_channels_last(shape: tuple[int, int, int, int], dtype: Any) -> np.ndarray[Any, Any]:
    """An uninitialised (N, C, H, W) array stored channels last."""
    n, c, h, w = shape
    return np.empty((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)
