"""conv2d's gradients, channels last (cnn_core._grad_pixels) and first (the weight gradient's groups of
samples and bands of rows), against a loop over every tap and position.

The reference scatters ``g[n, f, oy, ox] * w[f, c, i, j]`` onto the padded input position each product
came from, and correlates the padded input with ``g`` for the weight gradient, one tap at a time: the
definition of the two gradients, with nothing shared with the engine's tiling, transposes or BLAS
products. Shapes cover padding on some sides only, strides, dilations, several groups of samples with a
smaller last one (TILE_BYTES made small), and a padding mode that the caller folds back.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnn_core import _compute, _grad_pixels, grad
from cnn_core._grad_conv import weight_gradient

from . import naive


def reference(x: np.ndarray, w: np.ndarray, g: np.ndarray, stride: tuple[int, int], dilation: tuple[int, int],
              pads: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(gradient of the zero-padded input, gradient of the weight), by the definition."""
    top, bottom, left, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    sy, sx = stride
    dy, dx = dilation
    for oy in range(g.shape[2]):
        for ox in range(g.shape[3]):
            for i in range(w.shape[2]):
                for j in range(w.shape[3]):
                    r, c = oy * sy + i * dy, ox * sx + j * dx
                    gxp[:, :, r, c] += g[:, :, oy, ox] @ w[:, :, i, j]  # (N, F) @ (F, C)
                    gw[:, :, i, j] += g[:, :, oy, ox].T @ xp[:, :, r, c]  # (F, N) @ (N, C)
    return gxp, gw


def pad4(x: np.ndarray, mode: str) -> np.ndarray:
    """naive.pad by 1 on every side, for (N, C, H, W)."""
    return naive.pad(x.reshape(-1, *x.shape[2:]), 1, 1, 1, 1, mode).reshape(*x.shape[:2], x.shape[2] + 2, -1)


CASES = [  # (N, C, H, W), F, kernel, stride, dilation, pads
    ((5, 4, 7, 6), 3, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((3, 6, 9, 8), 5, (3, 2), (2, 1), (1, 1), (1, 0, 0, 1)),
    ((4, 5, 10, 9), 2, (2, 3), (1, 2), (2, 1), (2, 1, 1, 2)),
    ((7, 3, 6, 6), 4, (3, 3), (2, 2), (2, 2), (1, 1, 1, 1)),
    ((2, 8, 5, 5), 6, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
]


@pytest.mark.parametrize(("shape", "filters", "kernel", "stride", "dilation", "pads"), CASES)
@pytest.mark.parametrize("tile_bytes", [1 << 20, 700])
def test_pixels_gradients_equal_the_definition(shape: tuple[int, int, int, int], filters: int,
                                               kernel: tuple[int, int], stride: tuple[int, int],
                                               dilation: tuple[int, int], pads: tuple[int, int, int, int],
                                               tile_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compute, "TILE_BYTES", tile_bytes)  # 700: one or two samples per group
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((filters, shape[1], *kernel))
    hp, wp = shape[2] + pads[0] + pads[1], shape[3] + pads[2] + pads[3]
    oh = (hp - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (wp - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    g = rng.standard_normal((shape[0], filters, oh, ow))
    want_x, want_w = reference(x, w, g, stride, dilation, pads)
    got_w = _grad_pixels.weight_gradient_pixels(x, pads, g, kernel, stride, dilation)
    np.testing.assert_allclose(got_w, want_w, rtol=1e-12, atol=1e-12)
    whole = _grad_pixels.input_gradient_pixels(g, w, stride, dilation, (hp, wp), None)
    np.testing.assert_allclose(whole, want_x, rtol=1e-12, atol=1e-12)
    inside = _grad_pixels.input_gradient_pixels(g, w, stride, dilation, (hp, wp), pads)
    np.testing.assert_array_equal(inside, whole[:, :, pads[0]:hp - pads[1], pads[2]:wp - pads[3]])


@pytest.mark.parametrize(("padding_mode", "tile_bytes", "pixels"), [
    ("zeros", 1 << 20, True), ("reflect", 1 << 20, True), ("circular", 1 << 20, True), ("zeros", 1000, False)])
def test_conv2d_backward_takes_the_pixels_path_and_matches_a_naive_chain(padding_mode: str, tile_bytes: int,
                                                                         pixels: bool,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Many channels on a small map: the layout rule picks channels last, unless one sample's matrix is over
    the tile (then channels first, in bands of rows: its memory stays bounded); the gradients are those of
    the naive padded convolution (the padding's own adjoint checked through naive.pad by the chain rule)."""
    monkeypatch.setattr(_compute, "TILE_BYTES", tile_bytes)  # 1000: under one sample's 5*5*54*8 bytes
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 5, 5))
    w = rng.standard_normal((4, 6, 3, 3))
    assert _compute.channels_last_pays(6, 3, 1, 5)
    calls: list[bool] = []
    real = _grad_pixels.weight_gradient_pixels

    def spy(*args: object) -> np.ndarray:
        calls.append(True)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("cnn_core._grad_conv.weight_gradient_pixels", spy)
    g = rng.standard_normal((3, 4, 5, 5))
    gx, gw, gb = grad.conv2d_backward(g, x, w, 1, 1, 1, padding_mode)
    assert bool(calls) == pixels
    xp = pad4(x, padding_mode)
    want_xp, want_w = reference(xp, w, g, (1, 1), (1, 1), (0, 0, 0, 0))
    np.testing.assert_allclose(gw, want_w, rtol=1e-12)
    np.testing.assert_allclose(gb, g.sum(axis=(0, 2, 3)), rtol=1e-12)
    # the adjoint of padding: each input pixel collects the gradient of every padded pixel copied from it
    want_x = np.zeros_like(x)
    for index in np.ndindex(*x.shape[2:]):
        probe = np.zeros_like(x)
        probe[:, :, index[0], index[1]] = 1
        want_x[:, :, index[0], index[1]] = (pad4(probe, padding_mode) * want_xp).sum(axis=(2, 3))
    np.testing.assert_allclose(gx, want_x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("shape", "filters", "kernel", "stride", "dilation", "pads"), CASES)
@pytest.mark.parametrize("tile_bytes", [1 << 20, 900, 64])
def test_channels_first_weight_gradient_equals_the_definition(
        shape: tuple[int, int, int, int], filters: int, kernel: tuple[int, int], stride: tuple[int, int],
        dilation: tuple[int, int], pads: tuple[int, int, int, int], tile_bytes: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The channels-first weight gradient in groups of samples (1 MiB, 900 bytes: a few samples, a smaller
    last group) and in bands of rows when one sample's matrix is over the tile (64 bytes)."""
    monkeypatch.setattr(_compute, "TILE_BYTES", tile_bytes)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((filters, shape[1], *kernel))
    xp = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    oh = (xp.shape[2] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    g = rng.standard_normal((shape[0], filters, oh, ow))
    _, want_w = reference(x, w, g, stride, dilation, pads)
    np.testing.assert_allclose(weight_gradient(xp, g, kernel, stride, dilation), want_w, rtol=1e-12, atol=1e-12)
