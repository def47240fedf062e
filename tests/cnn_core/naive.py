"""Loop implementations written straight from the definitions: slow, obvious, independent oracles."""

from __future__ import annotations

import math

import numpy as np


def pad(x: np.ndarray, top: int, bottom: int, left: int, right: int, mode: str = "zeros",
        value: float = 0.0) -> np.ndarray:
    """Pad (C, H, W) by copying pixel by pixel with the mode's index rule."""
    channels, height, width = x.shape
    out = np.full((channels, height + top + bottom, width + left + right), value, dtype=np.float64)
    for r in range(out.shape[1]):
        for c in range(out.shape[2]):
            i, j = r - top, c - left
            if mode == "zeros" and not (0 <= i < height and 0 <= j < width):
                continue
            if mode == "reflect":
                i = -i if i < 0 else (2 * (height - 1) - i if i >= height else i)
                j = -j if j < 0 else (2 * (width - 1) - j if j >= width else j)
            elif mode == "replicate":
                i, j = min(max(i, 0), height - 1), min(max(j, 0), width - 1)
            elif mode == "circular":
                i, j = i % height, j % width
            out[:, r, c] = x[:, i, j]
    return out


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: tuple[int, int] = (1, 1),
           pads: tuple[int, int, int, int] = (0, 0, 0, 0), dilation: tuple[int, int] = (1, 1),
           mode: str = "zeros") -> np.ndarray:
    """out[f, oy, ox] = bias[f] + sum_c,i,j xpad[c, oy*sy + i*dy, ox*sx + j*dx] * weight[f, c, i, j]."""
    xp = pad(x, *pads, mode=mode)
    filters, channels, kh, kw = weight.shape
    oh = (xp.shape[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (xp.shape[2] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((filters, oh, ow))
    for f in range(filters):
        for oy in range(oh):
            for ox in range(ow):
                total = bias[f]
                for c in range(channels):
                    for i in range(kh):
                        for j in range(kw):
                            total += xp[c, oy * stride[0] + i * dilation[0], ox * stride[1] + j * dilation[1]] \
                                * weight[f, c, i, j]
                out[f, oy, ox] = total
    return out


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int, output_padding: int,
                     dilation: int) -> np.ndarray:
    """Scatter every x[c, iy, ix] * weight[c, f] into the output, then crop padding."""
    channels, height, width = x.shape
    _, filters, kh, kw = weight.shape
    full_h = (height - 1) * stride + dilation * (kh - 1) + 1 + output_padding
    full_w = (width - 1) * stride + dilation * (kw - 1) + 1 + output_padding
    out = np.zeros((filters, full_h, full_w))
    for c in range(channels):
        for iy in range(height):
            for ix in range(width):
                for f in range(filters):
                    for i in range(kh):
                        for j in range(kw):
                            out[f, iy * stride + i * dilation, ix * stride + j * dilation] += \
                                x[c, iy, ix] * weight[c, f, i, j]
    return out[:, padding:full_h - padding, padding:full_w - padding]


def pool(x: np.ndarray, kind: str, k: int, stride: int, padding: int, ceil_mode: bool = False,
         count_include_pad: bool = True) -> np.ndarray:
    """Max / avg / sum pooling by loops with PyTorch's ceil_mode and divisor rules."""
    channels, height, width = x.shape

    def size(n: int) -> int:
        rounding = math.ceil if ceil_mode else math.floor
        out = rounding((n + 2 * padding - k) / stride) + 1
        if ceil_mode and (out - 1) * stride >= n + padding:
            out -= 1
        return out

    oh, ow = size(height), size(width)
    out = np.zeros((channels, oh, ow))
    for c in range(channels):
        for oy in range(oh):
            for ox in range(ow):
                y0, x0 = oy * stride - padding, ox * stride - padding
                y1, x1 = min(y0 + k, height + padding), min(x0 + k, width + padding)
                area = (y1 - y0) * (x1 - x0)
                values = [x[c, i, j] for i in range(max(y0, 0), min(y1, height))
                          for j in range(max(x0, 0), min(x1, width))]
                if kind == "max":
                    out[c, oy, ox] = max(values)
                elif kind == "sum":
                    out[c, oy, ox] = sum(values)
                else:
                    out[c, oy, ox] = sum(values) / (area if count_include_pad else len(values))
    return out


def bilinear(x: np.ndarray, scale: int, align_corners: bool) -> np.ndarray:
    """Bilinear up-sampling by loops: blend the four source pixels around each output's source point."""
    channels, height, width = x.shape
    out = np.zeros((channels, height * scale, width * scale))

    def source(o: int, n: int) -> tuple[int, int, float]:
        if align_corners:
            position = o * (n - 1) / (n * scale - 1)
        else:
            position = max((o + 0.5) / scale - 0.5, 0.0)
        low = min(math.floor(position), n - 1)
        return low, min(low + 1, n - 1), position - low

    for oy in range(height * scale):
        y0, y1, wy = source(oy, height)
        for ox in range(width * scale):
            x0, x1, wx = source(ox, width)
            out[:, oy, ox] = ((1 - wy) * (1 - wx) * x[:, y0, x0] + (1 - wy) * wx * x[:, y0, x1]
                              + wy * (1 - wx) * x[:, y1, x0] + wy * wx * x[:, y1, x1])
    return out
