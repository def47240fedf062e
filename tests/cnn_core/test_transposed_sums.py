"""A transposed convolution's running sums: each stamped cell before and after its stamp, how many stamps
overlapped it before, and (small outputs) every cell's running sum, against a hand-worked example,
a brute-force replay of the stamps, the op's own result and PyTorch's (tests/fixtures/torch_golden.npz)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import conv_transpose2d
from cnn_core.frames import conv_transpose2d_frames
from cnn_core.frames.transposed import RUNNING_OUTPUT_LIMIT

GOLDEN = np.load(Path(__file__).parents[1] / "fixtures" / "torch_golden.npz")
CASES: list[dict[str, Any]] = [case for case in json.loads(GOLDEN["cases"].tobytes())
                               if case["op"] == "conv_transpose2d"]
K = np.arange(1.0, 10.0).reshape(3, 3)  # 1 2 3 / 4 5 6 / 7 8 9


def stamped(frame: Any, f: int = 0) -> dict[tuple[int, int], tuple[float, float, float, int]]:
    """{(out row, out col): (before, contribution, after, earlier stamps)} of one frame's map f."""
    return {(int(r), int(c)): (float(frame.sums_before[f, i, j]), float(frame.contribution[f, i, j]),
                               float(frame.sums_after[f, i, j]), int(frame.earlier_stamps[i, j]))
            for i, r in enumerate(frame.out_rows) for j, c in enumerate(frame.out_cols)}


def test_a_hand_worked_2x2_input_3x3_kernel_stride_2() -> None:
    # x = [[1, 2], [3, 4]] stamps 1K at (0, 0), 2K at (0, 2), 3K at (2, 0), 4K at (2, 2) of a 5x5 output:
    # column 2 and row 2 are where stamps overlap, the centre (2, 2) is hit by all four
    seq = conv_transpose2d_frames(np.array([[1.0, 2.0], [3.0, 4.0]]), K, stride=2)
    assert seq.output_shape == (5, 5) and len(seq) == 4
    first, second, third, fourth = (stamped(seq[i]) for i in range(4))
    assert first[(0, 0)] == (0.0, 1.0, 1.0, 0) and first[(2, 2)] == (0.0, 9.0, 9.0, 0)
    # the second stamp (x = 2) lands on column 2, where the first left 3, 6 and 9
    assert second[(0, 2)] == (3.0, 2.0, 5.0, 1)
    assert second[(1, 2)] == (6.0, 8.0, 14.0, 1)
    assert second[(2, 2)] == (9.0, 14.0, 23.0, 1)
    assert second[(0, 3)] == (0.0, 4.0, 4.0, 0)
    # the third (x = 3) lands on row 2: 7 + 3 = 10, 8 + 6 = 14, 23 + 9 = 32
    assert [third[(2, c)] for c in range(3)] == [(7.0, 3.0, 10.0, 1), (8.0, 6.0, 14.0, 1), (23.0, 9.0, 32.0, 2)]
    # the fourth (x = 4): the centre 32 + 4 = 36 after three earlier stamps; 16 + 8 = 24; 18 + 12 = 30;
    # 18 + 16 = 34; 27 + 28 = 55
    assert fourth[(2, 2)] == (32.0, 4.0, 36.0, 3)
    assert fourth[(2, 3)] == (16.0, 8.0, 24.0, 1) and fourth[(2, 4)] == (18.0, 12.0, 30.0, 1)
    assert fourth[(3, 2)] == (18.0, 16.0, 34.0, 1) and fourth[(4, 2)] == (27.0, 28.0, 55.0, 1)
    assert fourth[(4, 4)] == (0.0, 36.0, 36.0, 0)
    # by hand, the whole result: 1K, 2K, 3K, 4K added where they land
    expected = np.zeros((5, 5))
    for (row, col), value in {(0, 0): 1, (0, 2): 2, (2, 0): 3, (2, 2): 4}.items():
        expected[row:row + 3, col:col + 3] += value * K
    assert expected[2, 2] == 36.0
    assert_array_equal(seq[3].running_output, expected)
    assert_array_equal(seq.result(), expected)
    assert_array_equal(seq.batch(0, 4)["running_output"][1, :3], [[1, 2, 5, 4, 6], [4, 5, 14, 10, 12],
                                                                     [7, 8, 23, 16, 18]])


def replay(x: np.ndarray, weight: np.ndarray, args: dict[str, Any]) -> list[dict[str, np.ndarray]]:
    """Stamp every input pixel by hand onto an uncropped canvas, recording each stamp's cells and counts."""
    _, height, width = x.shape
    _, maps, kh, kw = weight.shape
    (sy, sx), (dy, dx) = [(v, v) if isinstance(v, int) else v for v in (args["stride"], args["dilation"])]
    canvas = np.zeros((maps, (height - 1) * sy + dy * (kh - 1) + 1, (width - 1) * sx + dx * (kw - 1) + 1))
    hits = np.zeros(canvas.shape[1:], dtype=int)
    frames = []
    for iy in range(height):
        for ix in range(width):
            rows, cols = iy * sy + np.arange(kh) * dy, ix * sx + np.arange(kw) * dx
            contribution = np.einsum("c,cfij->fij", x[:, iy, ix], weight)
            before = canvas[:, rows[:, None], cols[None, :]].copy()
            earlier = hits[rows[:, None], cols[None, :]].copy()
            canvas[:, rows[:, None], cols[None, :]] += contribution
            hits[rows[:, None], cols[None, :]] += 1
            frames.append({"before": before, "after": canvas[:, rows[:, None], cols[None, :]].copy(),
                           "earlier": earlier})
    return frames


@pytest.mark.parametrize("matrix", [True, False], ids=["one-product", "per-overlap"])
@pytest.mark.parametrize(("stride", "padding", "dilation", "output_padding"),
                         [(1, 0, 1, 0), (2, 0, 1, 1), (2, 1, 1, 0), (3, 1, 2, 1), ((2, 1), (1, 0), (1, 2), 0)])
def test_running_sums_replay_the_stamps_and_end_at_the_result(stride: Any, padding: Any, dilation: Any,
                                                              output_padding: int, matrix: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if not matrix:  # a large kernel with many filters: one product per overlap instead of one matrix
        monkeypatch.setattr("cnn_core.frames.transposed.OVERLAP_MATRIX_LIMIT", 0)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 5))
    weight = rng.standard_normal((2, 3, 3, 2))
    bias = rng.standard_normal(3)
    args = {"stride": stride, "padding": padding, "dilation": dilation, "output_padding": output_padding}
    seq = conv_transpose2d_frames(x, weight, bias, **args)
    expected = replay(x, weight, args)
    whole = seq.batch(0, len(seq))
    for split in (1, 3, 7):  # any batching gives the same sums as one batch
        pieces = [seq.batch(a, min(a + split, len(seq))) for a in range(0, len(seq), split)]
        for name in ("sums_before", "sums_after", "earlier_stamps", "running_output"):
            assert_allclose(np.concatenate([piece[name] for piece in pieces]), whole[name], rtol=1e-12, atol=1e-12)
    for i, frame in enumerate(expected):
        assert_allclose(whole["sums_before"][i], frame["before"], rtol=1e-12, atol=1e-12)
        assert_allclose(whole["sums_after"][i], frame["after"], rtol=1e-12, atol=1e-12)
        assert_array_equal(whole["earlier_stamps"][i], frame["earlier"])
        assert_array_equal(whole["sums_after"][i], whole["sums_before"][i] + whole["contribution"][i])
        assert_allclose(whole["running_output"][i], seq[i].partial_output, rtol=1e-12, atol=1e-12)
    result = conv_transpose2d(x, weight, bias, **args)
    assert_allclose(whole["running_output"][-1] + bias[:, None, None], result, rtol=1e-12, atol=1e-12)
    assert_last_touches_give(seq, whole, result, bias)


def assert_last_touches_give(seq: Any, whole: dict[str, np.ndarray], result: np.ndarray, bias: np.ndarray) -> None:
    """Every output cell's last stamp leaves the result minus the bias (cells no stamp reaches are the bias)."""
    last = np.full(result.shape, np.nan)
    for i in range(len(seq)):
        for a, row in enumerate(whole["out_rows"][i]):
            for b, col in enumerate(whole["out_cols"][i]):
                if 0 <= row < result.shape[1] and 0 <= col < result.shape[2]:
                    last[:, row, col] = whole["sums_after"][i][:, a, b]
    last[np.isnan(last)] = 0.0  # output_padding's cells: no stamp, only the bias
    assert_allclose(last + bias[:, None, None], result, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_running_sums_at_the_last_stamps_equal_pytorch(case: dict[str, Any]) -> None:
    x, weight, bias = (GOLDEN[case["inputs"][key]] for key in ("x", "weight", "bias"))
    args = {key: tuple(v) if isinstance(v, list) else v for key, v in case["args"].items()}
    seq = conv_transpose2d_frames(x, weight, bias, **args)
    whole = seq.batch(0, len(seq))
    golden = GOLDEN[f"{case['name']}_out"]
    assert_last_touches_give(seq, whole, golden, bias)
    if seq.small:
        assert_allclose(whole["running_output"][-1] + bias[:, None, None], golden, rtol=1e-10, atol=1e-10)


def test_a_large_output_leaves_the_running_output_to_single_frames() -> None:
    seq = conv_transpose2d_frames(np.ones((20, 20)), np.ones((4, 4)), stride=4)  # 80x80 > the limit
    assert 80 * 80 > RUNNING_OUTPUT_LIMIT and not seq.small
    batch = seq.batch(5, 9)
    assert "running_output" not in batch and batch["sums_after"].shape == (4, 1, 4, 4)
    assert_array_equal(batch["sums_after"][0], np.ones((1, 4, 4)))  # stride 4, 4x4: stamps never overlap
    assert seq[8].partial_output.shape == (80, 80)


def test_depthwise_sums_per_channel_map() -> None:
    x = np.arange(12.0).reshape(3, 2, 2)
    seq = conv_transpose2d_frames(x, np.ones((2, 2)), stride=1)
    whole = seq.batch(0, 4)
    assert whole["sums_after"].shape == (4, 3, 2, 2)
    # the last stamp's top-left cell is the output's centre (1, 1): every pixel of its channel added up
    assert_array_equal(whole["sums_after"][3, :, 0, 0], x.sum(axis=(1, 2)))
    assert_array_equal(whole["earlier_stamps"][3], [[3, 1], [1, 0]])
    assert_array_equal(whole["running_output"][-1], seq.result())


def test_an_empty_batch_has_every_field() -> None:
    seq = conv_transpose2d_frames(np.ones((2, 2)), np.ones((3, 3)), stride=2)
    empty = seq.batch(2, 2)
    assert set(empty) == set(seq.batch(0, 1))
    assert all(len(values) == 0 for values in empty.values())
