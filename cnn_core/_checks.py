"""Argument normalisation shared by the engine: int-or-pair, dtype rule, array ranks, messages."""

from __future__ import annotations

import numbers
from typing import Any, SupportsIndex, TypeGuard

import numpy as np
from numpy.typing import NDArray

from cnn_core._layout import flat_view
from cnn_core.errors import ArgumentError, ArgumentTypeError

FloatArray = NDArray[np.floating[Any]]
Pair = tuple[int, int]
PADDING_STRINGS = ("valid", "same", "full")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def is_int(value: object) -> TypeGuard[SupportsIndex]:
    """True for Python and NumPy integers, False for bools and everything else. A plain int is settled
    first: the Integral check is an ABC lookup, about 1.5 us, and a pool's geometry asks 19 times."""
    return type(value) is int or (isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_))


def to_pair(value: object, name: str, minimum: int = 1) -> Pair:
    """Normalise an int or a (rows, cols) pair of ints, refusing values below ``minimum``."""
    pair = (value, value) if is_int(value) else value
    if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(is_int(v) for v in pair)):
        raise ArgumentTypeError(f"{name} must be an int or a (rows, cols) pair of ints, got {value!r}")
    rows, cols = int(pair[0]), int(pair[1])
    if min(rows, cols) < minimum:
        rule = "a positive integer" if minimum == 1 else f">= {minimum}"
        raise ArgumentError(f"{name} must be {rule}, got {value!r}")
    return rows, cols


def compute_dtype(array: np.ndarray[Any, Any], name: str) -> np.dtype[Any]:
    """The dtype a result is computed in: float32 and float64 stay, integers and bools go to float64."""
    kind = array.dtype.kind
    if kind in "biu":
        return np.dtype(np.float64)
    if kind == "f":
        return np.dtype(np.float32) if array.dtype.itemsize <= 4 else np.dtype(np.float64)
    raise ArgumentTypeError(f"{name} must hold real numbers (int, bool or float), got dtype {array.dtype}")


def as_array(value: object, name: str) -> np.ndarray[Any, Any]:
    """Turn array-likes into an ndarray, with a TypeError that names the argument."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, str | bytes) or value is None:
        raise ArgumentTypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ArgumentTypeError(f"{name} must be a rectangular array of numbers ({error})") from None
    if array.dtype == object:
        raise ArgumentTypeError(f"{name} must be a rectangular array of numbers, got {type(value).__name__}")
    return array


def _all_finite(array: np.ndarray[Any, Any]) -> bool:
    """True when no NaN or infinity, with no temporary array. One pass settles the usual case: a contiguous
    float32 or float64 array's (C order or channels last) dot product with itself (one BLAS call, 2-3x faster
    than numpy's sum: 0.16 against 0.47 ms on 64x32x26x26 float32, 10 against 22 us on 64x64x3x3) is finite
    unless a number is NaN or infinite or the squares overflow; another array's sum likewise. A non-finite
    result (perhaps only an overflow) is settled by min and max."""
    with np.errstate(over="ignore", invalid="ignore"):
        flat = flat_view(array) if array.dtype in _BLAS_FLOATS else None
        if flat is not None:
            total = np.dot(flat, flat)
        else:
            total = array.sum()
        if np.isfinite(total):
            return True
    return bool(np.isfinite(array.min()) and np.isfinite(array.max()))


def check_finite(array: np.ndarray[Any, Any], name: str) -> None:
    """Refuse NaN and infinity so that no op silently propagates them."""
    if array.dtype.kind == "f" and array.size and not _all_finite(array):
        raise ArgumentError(f"{name} must contain only finite numbers (no NaN or infinity)")


def as_image(x: object, name: str = "x") -> tuple[FloatArray, bool]:
    """Validate an input map; returns it as float (C, H, W) and whether it came in as (H, W)."""
    array = as_array(x, name)
    if array.ndim not in (2, 3):
        raise ArgumentError(f"{name} must be a (H, W) or (C, H, W) array, got shape {array.shape}")
    if 0 in array.shape:
        raise ArgumentError(f"{name} must not be empty, got shape {array.shape}")
    dtype = compute_dtype(array, name)
    check_finite(array, name)
    out = array.astype(dtype, copy=False)
    return (out[None] if out.ndim == 2 else out), array.ndim == 2


def as_maps(x: object, name: str = "x", finite: bool = True) -> tuple[FloatArray, int]:
    """Validate an input map or batch; returns it as float (N, C, H, W) and the rank it came in with.

    (H, W) is one sample of one channel, (C, H, W) one sample, (N, C, H, W) a batch, as PyTorch reads them.
    ``finite=False`` skips the NaN/infinity scan, for an input that an engine op has just checked (training).
    """
    array = as_array(x, name)
    if array.ndim not in (2, 3, 4):
        raise ArgumentError(f"{name} must be a (H, W), (C, H, W) or (N, C, H, W) array, got shape {array.shape}")
    if 0 in array.shape:
        raise ArgumentError(f"{name} must not be empty, got shape {array.shape}")
    dtype = compute_dtype(array, name)
    if finite:
        check_finite(array, name)
    out = array.astype(dtype, copy=False)
    return out.reshape((1,) * (4 - out.ndim) + out.shape), array.ndim


def as_values(x: object, name: str = "x") -> FloatArray:
    """Validate an array of any shape for an elementwise op: real numbers, finite, float dtype rule."""
    array = as_array(x, name)
    check_finite(array, name)
    return array.astype(compute_dtype(array, name), copy=False)


def from_batch(result: FloatArray, rank: int, squeeze_channels: bool) -> FloatArray:
    """Give a (N, C, H, W) result back in the caller's rank: a batch stays 4-D, a sample drops N, and a
    (H, W) input also drops C when ``squeeze_channels`` (a single map, as the op documents)."""
    if rank == 4:
        return result
    sample: FloatArray = result[0]
    return sample[0] if rank == 2 and squeeze_channels and sample.shape[0] == 1 else sample


def as_kernel(weight: object, dtype: np.dtype[Any], name: str = "weight") -> FloatArray:
    """Validate a (kh, kw) or (F, C, kh, kw) weight and cast it to the compute dtype."""
    array = as_array(weight, name)
    if array.ndim not in (2, 4):
        raise ArgumentError(f"{name} must be a (kh, kw) or (F, C, kh, kw) array, got shape {array.shape}")
    if 0 in array.shape:
        raise ArgumentError(f"{name} must not be empty, got shape {array.shape}")
    compute_dtype(array, name)
    check_finite(array, name)
    return array.astype(dtype, copy=False)


def as_bias(bias: object, count: int, dtype: np.dtype[Any], allow_scalar: bool) -> FloatArray:
    """Validate a bias: None, a number (2-D kernels only) or a (count,) vector; returns (count,)."""
    if bias is None:
        return np.zeros(count, dtype=dtype)
    if isinstance(bias, numbers.Real) and not isinstance(bias, bool | np.bool_):
        if not allow_scalar:
            raise ArgumentError(f"bias must be a ({count},) array for a 4-D weight, got the number {bias!r}")
        value = np.full(count, bias, dtype=dtype)
    else:
        array = as_array(bias, "bias")
        compute_dtype(array, "bias")
        if array.ndim == 0 and allow_scalar:
            array = np.full(count, array.item())
        if array.shape != (count,):
            raise ArgumentError(f"bias must have shape ({count},) (one value per output map), got {array.shape}")
        value = array.astype(dtype)
    check_finite(value, "bias")
    return value


def check_choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    """Check a string option against its allowed values."""
    if not isinstance(value, str) or value not in allowed:
        raise ArgumentError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value


def check_bool(value: object, name: str) -> bool:
    """Check a flag is a real bool (not 0/1 or a string)."""
    if not isinstance(value, bool | np.bool_):
        raise ArgumentTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class ResultOverflowError(ArgumentError):
    """Finite inputs whose result is too large for the dtype (so training can tell divergence from bad input)."""


def check_result(result: FloatArray, op: str) -> FloatArray:
    """Refuse a result that overflowed to infinity (finite inputs, too large to multiply or add up)."""
    if result.size and not _all_finite(result):
        raise ResultOverflowError(f"{op} overflowed: the inputs are finite but their products or sums are too large "
                                  f"for {result.dtype} (scale the input or the kernel down)")
    return result
