"""Bilinear up-sampling (align_corners=False) computed band by band, against whole-array references.

cnn_core._upsample.bilinear runs the column pass and then the row pass on bands of input rows with one
edge-clamped row of halo each side (several small maps to a band). Checked here with bands of one row, a
few rows and whole maps: bit for bit against the same two passes done on whole arrays, and against the
gather definition (each output blends the two sources of cnn_core._plans.upsample_sources).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import _upsample, ops
from cnn_core._plans import upsample_sources

CASES = [((3, 5, 7), (2, 2)), ((2, 3, 12, 9), (3, 2)), ((1, 1, 1), (2, 3)), ((2, 30, 7), (2, 2)),
         ((4, 9, 1), (1, 4)), ((5, 1, 6), (4, 1))]


def whole_array_passes(x: np.ndarray, scale: tuple[int, int]) -> np.ndarray:
    """Columns then rows on the whole array, each output phase one multiply and one add (no bands)."""
    out = x
    for axis, factor in ((x.ndim - 1, scale[1]), (x.ndim - 2, scale[0])):
        n = out.shape[axis]
        padded = np.concatenate([out.take([0], axis), out, out.take([n - 1], axis)], axis=axis)
        steps = np.diff(padded, axis=axis)
        result = np.empty((*out.shape[:axis], n * factor, *out.shape[axis + 1:]), dtype=x.dtype)
        for phase in range(factor):
            offset = (2 * phase + 1 - factor) / (2 * factor)
            start, weight = (1, offset) if offset >= 0 else (0, 1 + offset)
            source = np.take(padded, range(start, start + n), axis=axis)
            blended = np.take(steps, range(start, start + n), axis=axis) * x.dtype.type(weight) + source
            index = [slice(None)] * x.ndim
            index[axis] = slice(phase, None, factor)
            result[tuple(index)] = blended
        out = result
    return out


def gathered(x: np.ndarray, scale: tuple[int, int]) -> np.ndarray:
    """Each output from its two sources per axis (float64), as upsample_sources defines them."""
    rows = upsample_sources(x.shape[-2], scale[0], "bilinear", False)
    cols = upsample_sources(x.shape[-1], scale[1], "bilinear", False)
    wide = x[..., cols[0]] * (1 - cols[2]) + x[..., cols[1]] * cols[2]
    result: np.ndarray = wide[..., rows[0], :] * (1 - rows[2][:, None]) + wide[..., rows[1], :] * rows[2][:, None]
    return result


@pytest.mark.parametrize("band_bytes", [1, 64, 1 << 17])  # one row a band; a few rows; several maps a band
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "scale"), CASES)
def test_bilinear_bands_match_whole_array_passes(shape: tuple[int, ...], scale: tuple[int, int], dtype: type,
                                                 band_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_upsample, "BAND_BYTES", band_bytes)
    x: np.ndarray = np.random.default_rng(len(shape) + scale[0]).standard_normal(shape).astype(dtype)
    got = _upsample.bilinear(x, scale)
    assert got.dtype == dtype and got.shape == (*shape[:-2], shape[-2] * scale[0], shape[-1] * scale[1])
    assert_array_equal(got, whole_array_passes(x, scale))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(got, gathered(x.astype(np.float64), scale), rtol=tolerance, atol=tolerance)


def test_upsample_bilinear_reads_a_non_contiguous_batch() -> None:
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 6)).transpose(0, 1, 3, 2)  # (2, 3, 6, 8) view
    got = ops.upsample(x, 2, "bilinear")
    assert_allclose(got, gathered(np.ascontiguousarray(x), (2, 2)), rtol=1e-12, atol=1e-12)
