"""conv2d's two gradients channels last, for small maps with many channels (a network's deeper layers).

The forward's channels-last core (``_compute._correlate_pixels``) copies each output's window as ``kh`` runs
of ``kw*C`` numbers. Channels first, the gradients copy or add runs of one row of the map (``ow`` numbers,
11 for the seed network's second convolution) and spend more time on the copies than on the BLAS products.
Here both gradients work on groups of samples transposed to (samples, Hp, Wp, C), cache-sized:

* the weight gradient is the forward's column matrix (outputs, kh*kw*C), contracted with grad_output over
  the samples and positions by one BLAS product per tile;
* the input gradient is that product's adjoint: a batch of BLAS products, one per tap, turns grad_output
  (outputs, F) into each tap's contribution (outputs, C), contiguous, and each is added into a zeroed
  (samples, Hp, Wp, C) canvas at the tap's offset (a col2im in runs of ``ow*C`` numbers at stride 1; one
  product for all taps would leave runs of C, and the adds took three times longer).

Which layout runs is ``_compute.channels_last_pays``, the forward's own rule.
"""

from __future__ import annotations

import numpy as np

from cnn_core import _compute
from cnn_core._checks import FloatArray, Pair
from cnn_core._compute import Pads

__all__ = ["fits_a_tile", "input_gradient_pixels", "weight_gradient_pixels"]


def fits_a_tile(out_shape: Pair, kernel: Pair, channels: int, itemsize: int) -> bool:
    """Whether one sample's matrix (outputs, kh*kw*C) fits the forward's tile: these gradients go by whole
    samples; a larger sample goes channels first, in bands of rows."""
    return out_shape[0] * out_shape[1] * kernel[0] * kernel[1] * channels * itemsize <= _compute.TILE_BYTES


def _group(batch: int, sample_bytes: int) -> int:
    """Samples per tile, as the forward groups them (``_compute._tiles``): as many as fit, split evenly."""
    return _compute._tiles(batch, 1, sample_bytes)[0]


def weight_gradient_pixels(maps: FloatArray, pads: Pads, g: FloatArray, kernel: Pair, stride: Pair,
                           dilation: Pair) -> FloatArray:
    """``sum over n, oy, ox of g[n, f, oy, ox] * xp[n, c, oy*sy + i*dy, ox*sx + j*dx]``: (F, C, kh, kw), where
    ``xp`` is ``maps`` (N, C, H, W) zero-padded by ``pads`` (top, bottom, left, right), never copied whole.

    Per group of samples: the padded group channels last, the column matrix (outputs, kh*kw*C) as the
    forward builds it, and ``g`` of the group as (F, outputs) times it, summed into (F, kh*kw*C).
    """
    batch, channels = maps.shape[:2]
    filters, oh, ow = g.shape[1:]
    kh, kw = kernel
    taps = kh * kw * channels
    group = _group(batch, oh * ow * taps * maps.itemsize)
    pixels = _compute.PixelWindows(maps, group, pads, kernel, stride, dilation, (oh, ow))
    cols = np.empty((group, oh, ow, kh, kw, channels), dtype=maps.dtype)
    out = np.zeros((filters, taps), dtype=maps.dtype)
    for n0 in range(0, batch, group):
        samples = min(group, batch - n0)
        cols[:samples] = pixels.load(n0, samples)
        rows = g[n0:n0 + samples].transpose(1, 0, 2, 3).reshape(filters, samples * oh * ow)
        out += rows @ cols[:samples].reshape(samples * oh * ow, taps)
    return np.ascontiguousarray(out.reshape(filters, kh, kw, channels).transpose(0, 3, 1, 2))


def input_gradient_pixels(g: FloatArray, weight: FloatArray, stride: Pair, dilation: Pair,
                          padded_shape: Pair, crop: Pads | None) -> FloatArray:
    """The gradient of conv2d's padded input (N, C, Hp, Wp) for ``g`` (N, F, oh, ow) and ``weight``
    (F, C, kh, kw): the transposed convolution of ``g`` with the weight, (F, C) read as (in, out).

    ``crop`` (top, bottom, left, right) returns only the interior instead (the input's own gradient when the
    padding was zeros); None returns the whole padded canvas (for reflect, replicate and circular padding,
    whose borders are folded back by the caller). Rows and columns no window reached get zeros.
    """
    batch, filters, oh, ow = g.shape
    _, channels, kh, kw = weight.shape
    sy, sx = stride
    dy, dx = dilation
    hp, wp = padded_shape
    tap_weights = np.ascontiguousarray(weight.transpose(2, 3, 0, 1).reshape(kh * kw, filters, channels))
    group = _group(batch, oh * ow * kh * kw * channels * g.itemsize)
    top, bottom, left, right = crop or (0, 0, 0, 0)
    height, width = hp - top - bottom, wp - left - right
    out = np.empty((batch, channels, height, width), dtype=g.dtype)
    canvas = np.empty((group, hp, wp, channels), dtype=g.dtype)
    product = np.empty((kh * kw, group * oh * ow, channels), dtype=g.dtype)
    for n0 in range(0, batch, group):
        samples = min(group, batch - n0)
        rows = g[n0:n0 + samples].transpose(0, 2, 3, 1).reshape(samples * oh * ow, filters)
        planes = product[:, :samples * oh * ow]
        np.matmul(rows[None], tap_weights, out=planes)
        contributions = planes.reshape(kh, kw, samples, oh, ow, channels)
        target = canvas[:samples]
        target[...] = 0
        for i in range(kh):
            for j in range(kw):
                target[:, i * dy:i * dy + (oh - 1) * sy + 1:sy, j * dx:j * dx + (ow - 1) * sx + 1:sx] += \
                    contributions[i, j]
        out[n0:n0 + samples] = target[:, top:top + height, left:left + width].transpose(0, 3, 1, 2)
    return out
