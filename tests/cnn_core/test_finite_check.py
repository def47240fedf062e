"""The finiteness check's paths against np.isfinite(x).all().

cnn_core._checks._all_finite takes a contiguous float32 or float64 array's dot product with itself (one
BLAS call) and any other array's sum; a non-finite result, which may be only an overflow of finite numbers,
is settled by min and max. Every path must agree with the elementwise definition.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnn_core._checks import _all_finite, check_finite
from cnn_core.errors import ArgumentError


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
@pytest.mark.parametrize("shape", [(1,), (5, 7), (2, 3, 9, 9)])
def test_all_finite_agrees_with_isfinite_on_every_path(shape: tuple[int, ...], dtype: type) -> None:
    rng = np.random.default_rng(len(shape))
    finite: np.ndarray = rng.standard_normal(shape).astype(dtype)
    huge: np.ndarray = np.full(shape, np.finfo(dtype).max / 2, dtype=dtype)  # finite, but its squares and sum overflow
    for array in (finite, huge, finite[..., ::-1], huge.T):
        assert _all_finite(array)
        for bad in (np.inf, -np.inf, np.nan):
            spoiled = array.copy()
            spoiled.reshape(-1)[-1] = bad
            assert not _all_finite(spoiled)
            assert not _all_finite(spoiled[..., ::-1])


def test_check_finite_names_the_argument_without_warning() -> None:
    with pytest.raises(ArgumentError, match=r"^grads\[0\] must contain only finite numbers"):
        check_finite(np.array([1.0, np.inf], dtype=np.float32), "grads[0]")
    check_finite(np.full(4, 3e38, dtype=np.float32), "x")  # the squares overflow, quietly
