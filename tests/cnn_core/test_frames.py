"""Frame sequences: the contract's invariants (hypothesis), batch == stacked seq[i], list semantics, JSON."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from cnn_core import (
    avg_pool2d,
    conv2d,
    conv2d_frames,
    conv_transpose2d,
    conv_transpose2d_frames,
    max_pool2d,
    max_pool2d_frames,
    sum_pool2d_frames,
    upsample,
    upsample_frames,
)
from cnn_core import avg_pool2d_frames as avg_frames

TOL = {"rtol": 1e-9, "atol": 1e-9}


@st.composite
def conv_cases(draw: st.DrawFn) -> dict[str, Any]:
    channels = draw(st.integers(1, 3))
    height, width = draw(st.integers(3, 9)), draw(st.integers(3, 9))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    filters = draw(st.integers(1, 3))
    weight = rng.standard_normal((kh, kw) if depthwise else (filters, channels, kh, kw))
    outputs = channels if depthwise else filters
    return {
        "x": rng.standard_normal((channels, height, width)),
        "weight": weight,
        "bias": rng.standard_normal(outputs),
        "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        "padding": draw(st.sampled_from([0, 1, (1, 0), "same", "full", "valid"])),
        "dilation": (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        "padding_mode": draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"])),
    }


@settings(max_examples=150, deadline=None)
@given(conv_cases(), st.data())
def test_conv2d_frames_hold_the_contract_invariants(case: dict[str, Any], data: st.DataObject) -> None:
    try:
        result = conv2d(**case)
    except ValueError:
        with pytest.raises(ValueError):
            conv2d_frames(**case)
        return
    seq = conv2d_frames(**case)
    assert seq.output_shape == result.shape
    assert len(seq) == result.size
    assert_array_equal(seq.result(), result)
    weight = case["weight"] if case["weight"].ndim == 4 else case["weight"][None, None]
    for i in data.draw(st.lists(st.integers(0, len(seq) - 1), min_size=1, max_size=5)):
        frame = seq[i]
        f = frame.output_index[0]
        w = weight[0] if weight.shape[0] == 1 and case["weight"].ndim == 2 else weight[f]
        assert len(frame.output_index) == 3
        assert_allclose(frame.value, result.reshape(-1, *result.shape[-2:])[frame.output_index], **TOL)
        assert_allclose(frame.products, frame.patch * w, **TOL)
        assert_allclose(frame.channel_sums, frame.products.sum((1, 2)), **TOL)
        assert_allclose(frame.value, frame.channel_sums.sum() + case["bias"][f], **TOL)
        inside = (frame.rows[:, None] >= 0) & (frame.rows[:, None] < case["x"].shape[1]) \
            & (frame.cols[None] >= 0) & (frame.cols[None] < case["x"].shape[2])
        source = case["x"][f if case["weight"].ndim == 2 else slice(None)]
        image_values = source[..., frame.rows.clip(0, case["x"].shape[1] - 1)[:, None],
                              frame.cols.clip(0, case["x"].shape[2] - 1)[None]]
        assert_allclose(np.where(inside, frame.patch, 0).reshape(image_values.shape),
                        np.where(inside, image_values, 0), **TOL)


@settings(max_examples=60, deadline=None)
@given(conv_cases(), st.data())
def test_conv2d_batch_equals_stacked_frames(case: dict[str, Any], data: st.DataObject) -> None:
    try:
        seq = conv2d_frames(**case)
    except ValueError:
        return
    start = data.draw(st.integers(0, len(seq)))
    stop = data.draw(st.integers(start, len(seq)))
    batch = seq.batch(start, stop)
    assert set(batch) == {"output_index", "value", "patch", "products", "channel_sums", "rows", "cols"}
    for name, values in batch.items():
        assert len(values) == stop - start
        for offset in range(stop - start):
            assert_allclose(np.asarray(getattr(seq[start + offset], name)), values[offset], **TOL)


def test_conv2d_frames_order_is_filter_major_then_row_major() -> None:
    seq = conv2d_frames(np.zeros((2, 4, 5)), np.zeros((3, 2, 2, 2)))
    indices = [seq[i].output_index for i in range(len(seq))]
    assert indices[:5] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3), (0, 1, 0)]
    assert indices[12] == (1, 0, 0)
    assert seq[-1].output_index == (2, 2, 3)
    assert len(seq) == 36


def test_conv2d_frames_show_padding_values_and_dilated_taps() -> None:
    x = (10 * np.arange(4)[:, None] + np.arange(4)).astype(float)
    seq = conv2d_frames(x, np.ones((3, 3)), padding=1, padding_mode="reflect", dilation=1)
    first = seq[0]
    assert_array_equal(first.rows, [-1, 0, 1])
    assert_array_equal(first.patch[0], [[11, 10, 11], [1, 0, 1], [11, 10, 11]])
    dilated = conv2d_frames(x, np.ones((2, 2)), dilation=2)[0]
    assert_array_equal(dilated.rows, [0, 2])
    assert_array_equal(dilated.patch[0], [[0, 2], [20, 22]])


def test_conv2d_frames_rgb_sum_over_depth() -> None:
    x = np.stack([np.full((3, 3), v) for v in (1.0, 2.0, 3.0)])
    frame = conv2d_frames(x, np.ones((1, 3, 3, 3)), bias=np.array([0.5]))[0]
    assert frame.patch.shape == (3, 3, 3)
    assert_array_equal(frame.channel_sums, [9, 18, 27])
    assert frame.value == 54.5


POOLS = [(max_pool2d_frames, max_pool2d, {}), (avg_frames, avg_pool2d, {}),
         (avg_frames, avg_pool2d, {"count_include_pad": False}), (sum_pool2d_frames, None, {})]


@pytest.mark.parametrize(("frames", "op", "extra"), POOLS)
@pytest.mark.parametrize(("k", "stride", "padding", "ceil_mode"), [(2, None, 0, False), (3, 2, 1, True),
                                                                   (2, 3, 1, True), (3, 1, "same", False)])
def test_pool_frames_match_result_and_batch(frames: Any, op: Any, extra: dict[str, Any], k: int, stride: Any,
                                            padding: Any, ceil_mode: bool) -> None:
    x = np.random.default_rng(1).standard_normal((2, 7, 8))
    seq = frames(x, k, stride, padding, ceil_mode=ceil_mode, **extra)
    result = seq.result()
    if op is not None:
        assert_array_equal(result, op(x, k, stride, padding, ceil_mode=ceil_mode, **extra))
    batch = seq.batch(0, len(seq))
    assert_allclose(batch["value"], result.reshape(-1), **TOL)
    for i in (0, 5, len(seq) - 1):
        frame = seq[i]
        assert_allclose(frame.value, result[frame.output_index], **TOL)
        for name in frame.fields:
            assert_allclose(np.asarray(getattr(frame, name), dtype=float), batch[name][i], **TOL)


def test_max_pool_frames_pad_with_minus_inf_and_name_the_winner() -> None:
    x = -np.ones((1, 3, 3))
    x[0, 0, 1] = 5
    frame = max_pool2d_frames(x, 3, stride=2, padding=1)[0]
    assert frame.patch[0, 0] == -np.inf
    assert frame.argmax == (0, 1)
    assert frame.value == 5
    assert frame.to_dict()["patch"][0] == [None, None, None]
    json.dumps(frame.to_dict(), allow_nan=False)


def test_avg_pool_frames_report_sum_and_divisor() -> None:
    frame = avg_frames(np.ones((1, 5, 5)), 3, 2, 1, count_include_pad=False)[0]
    assert (frame.sum, frame.divisor, frame.value) == (4.0, 4.0, 1.0)
    assert avg_frames(np.ones((1, 5, 5)), 3, 2, 1)[0].divisor == 9.0


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize(("dilation", "output_padding"), [(1, 0), (2, 1)])
def test_conv_transpose_frames_accumulate_to_the_result(stride: int, padding: int, dilation: int,
                                                        output_padding: int) -> None:
    rng = np.random.default_rng(stride)
    x = rng.standard_normal((2, 3, 4))
    weight = rng.standard_normal((2, 3, 3, 2))
    bias = rng.standard_normal(3)
    args = {"stride": stride, "padding": padding, "dilation": dilation, "output_padding": output_padding}
    if output_padding >= max(stride, dilation):
        return
    seq = conv_transpose2d_frames(x, weight, bias, **args)
    expected_full = conv_transpose2d(x, weight, None, **args)
    assert_allclose(seq.result(), conv_transpose2d(x, weight, bias, **args), **TOL)
    assert len(seq) == 12
    assert_allclose(seq[-1].partial_output, expected_full, **TOL)
    running = np.zeros_like(expected_full)
    full = np.zeros((3, expected_full.shape[1] + 2 * padding + 4, expected_full.shape[2] + 2 * padding + 4))
    for i in range(len(seq)):
        frame = seq[i]
        iy, ix = frame.input_index
        assert_allclose(frame.contribution, np.einsum("c,cfij->fij", x[:, iy, ix], weight), **TOL)
        for ky, row in enumerate(frame.out_rows):
            for kx, col in enumerate(frame.out_cols):
                full[:, row + padding, col + padding] += frame.contribution[:, ky, kx]
        running = full[:, padding:padding + expected_full.shape[1], padding:padding + expected_full.shape[2]]
        assert_allclose(frame.partial_output, running, **TOL)


def test_conv_transpose_frames_depthwise_and_batch() -> None:
    x = np.arange(12.0).reshape(3, 2, 2)
    seq = conv_transpose2d_frames(x, np.ones((2, 2)), stride=2)
    batch = seq.batch(0, 4)
    assert batch["contribution"].shape == (4, 3, 2, 2)
    assert_array_equal(batch["input_values"][1], [1, 5, 9])
    assert_array_equal(seq[1].contribution[:, 0, 0], [1, 5, 9])
    assert "partial_output" not in batch


@pytest.mark.parametrize(("mode", "align_corners"), [("nearest", False), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("scale", [2, 3, (1, 2)])
def test_upsample_frames_sources_reproduce_values(mode: str, align_corners: bool, scale: Any) -> None:
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    seq = upsample_frames(x, scale, mode, align_corners)
    result = upsample(x, scale, mode, align_corners)
    assert_array_equal(seq.result(), result)
    batch = seq.batch(0, len(seq))
    assert batch["sources"].shape == (len(seq), 1 if mode == "nearest" else 4, 3)
    assert_allclose(batch["sources"][:, :, 2].sum(axis=1), 1.0, **TOL)
    assert_allclose(batch["value"], result.reshape(-1), **TOL)
    frame = seq[7]
    assert frame.value == pytest.approx(sum(w * x[frame.output_index[0], r, c] for r, c, w in frame.sources))


def test_sequences_have_list_semantics() -> None:
    seq = conv2d_frames(np.zeros((4, 4)), np.ones((3, 3)))
    assert seq[-1].output_index == seq[3].output_index == (0, 1, 1)
    with pytest.raises(IndexError, match="frame index 4 out of range for 4 frames"):
        seq[4]
    with pytest.raises(IndexError, match="frame index -5 out of range"):
        seq[-5]
    with pytest.raises(TypeError, match="frame indices must be integers, got float"):
        seq[1.0]  # type: ignore[index]
    with pytest.raises(IndexError, match="0 <= start <= stop <= 4, got start=3, stop=2"):
        seq.batch(3, 2)
    empty = seq.batch(2, 2)
    assert empty["patch"].shape == (0, 1, 3, 3) and empty["value"].shape == (0,)
    assert seq[np.int64(1)].output_index == (0, 0, 1)


def test_frame_to_dict_is_json_ready() -> None:
    frame = conv2d_frames(np.eye(3, dtype=np.float32), np.ones((2, 2)))[0]
    as_dict = frame.to_dict()
    assert as_dict["output_index"] == [0, 0, 0]
    assert as_dict["patch"] == [[[1.0, 0.0], [0.0, 1.0]]]
    assert isinstance(as_dict["value"], float)
    assert json.loads(json.dumps(as_dict)) == as_dict
    with pytest.raises(AttributeError, match="this frame has no field 'argmax'"):
        frame.argmax  # noqa: B018


def test_conv2d_frames_random_access_is_lazy_on_a_large_image() -> None:
    seq = conv2d_frames(np.zeros((3, 1024, 1024), dtype=np.float32), np.ones((8, 3, 3, 3)), padding=1)
    assert len(seq) == 8 * 1024 * 1024
    assert seq[-1].output_index == (7, 1023, 1023)
    assert seq.batch(1000, 3000)["patch"].shape == (2000, 3, 3, 3)
    assert seq._result is None  # nothing computed the full result


@pytest.mark.parametrize("function", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_frames_apply_the_function_elementwise(function: str) -> None:
    from cnn_core import ops
    from cnn_core.frames import activation_frames

    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    seq = activation_frames(x, function, 0.2)
    expected = ops.leaky_relu(x, 0.2) if function == "leaky_relu" else getattr(ops, function)(x)
    assert_array_equal(seq.result(), expected)
    batch = seq.batch(0, len(seq))
    assert_allclose(batch["value"], expected.reshape(-1), **TOL)
    assert_array_equal(batch["input"], x.reshape(-1))
    assert seq[13].output_index == (1, 0, 1)
    with pytest.raises(ValueError, match="function must be one of 'relu', 'leaky_relu', 'sigmoid', 'tanh'"):
        activation_frames(x, "gelu")


@pytest.mark.parametrize("make", [
    lambda x: conv2d_frames(x, np.ones((2, 3, 2, 2))),
    lambda x: conv2d_frames(x, np.ones((2, 2))),
    lambda x: max_pool2d_frames(x, 2),
    lambda x: avg_frames(x, 2),
    lambda x: sum_pool2d_frames(x, 2),
    lambda x: conv_transpose2d_frames(x, np.ones((3, 2, 2, 2))),
    lambda x: conv_transpose2d_frames(x, np.ones((2, 2))),
    lambda x: upsample_frames(x, 2, "bilinear"),
])
def test_empty_batches_have_every_field_with_length_zero(make: Any) -> None:
    seq = make(np.ones((3, 4, 4)))
    full = seq.batch(0, 1)
    empty = seq.batch(len(seq), len(seq))
    assert set(empty) == set(full)
    for name, values in empty.items():
        assert values.shape == (0, *full[name].shape[1:])


def test_index_of_inverts_the_frame_order() -> None:
    seq = conv2d_frames(np.zeros((2, 5, 6)), np.ones((3, 2, 2, 2)))
    for i in (0, 7, len(seq) - 1):
        assert seq.index_of(seq[i].output_index) == i
    flat = conv2d_frames(np.zeros((5, 6)), np.ones((2, 2)))
    assert flat.index_of((1, 2)) == flat.index_of((0, 1, 2)) == 7
    transposed = conv_transpose2d_frames(np.zeros((3, 4)), np.ones((2, 2)))
    assert transposed.index_of((2, 1)) == 9 and transposed[9].input_index == (2, 1)
    with pytest.raises(ValueError, match=r"position \(9, 9\) is outside shape \(4, 5\)"):
        flat.index_of((9, 9))
    with pytest.raises(ValueError, match="position must be 3 integers"):
        seq.index_of((1, 2))


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: conv2d_frames(np.zeros((3, 6, 7)), np.ones((4, 3, 3, 3)), stride=2, padding="same", dilation=1),
     "Conv2dFrames(op='conv2d', input_shape=(3, 6, 7), output_shape=(4, 3, 4), frames=48, weight=(4, 3, 3, 3), "
     "stride=(2, 2), pads=(0, 1, 1, 1), dilation=(1, 1), padding_mode='zeros')"),
    (lambda: conv2d_frames(np.zeros((5, 5)), np.ones((2, 2)), padding=1, padding_mode="reflect"),
     "Conv2dFrames(op='conv2d', input_shape=(5, 5), output_shape=(6, 6), frames=36, weight=(2, 2), "
     "stride=(1, 1), pads=(1, 1, 1, 1), dilation=(1, 1), padding_mode='reflect')"),
    (lambda: avg_frames(np.zeros((2, 5, 5)), 3, 2, 1, ceil_mode=True, count_include_pad=False),
     "PoolFrames(op='avg_pool2d', input_shape=(2, 5, 5), output_shape=(2, 3, 3), frames=18, kernel_size=(3, 3), "
     "stride=(2, 2), pads=(1, 1, 1, 1), dilation=(1, 1), ceil_mode=True, count_include_pad=False)"),
    (lambda: sum_pool2d_frames(np.zeros((4, 4)), 2),
     "PoolFrames(op='sum_pool2d', input_shape=(4, 4), output_shape=(2, 2), frames=4, kernel_size=(2, 2), "
     "stride=(2, 2), pads=(0, 0, 0, 0), dilation=(1, 1), ceil_mode=False)"),
    (lambda: conv_transpose2d_frames(np.zeros((2, 3, 3)), np.ones((2, 5, 3, 3)), stride=2, padding=1),
     "ConvTranspose2dFrames(op='conv_transpose2d', input_shape=(2, 3, 3), output_shape=(5, 5, 5), frames=9, "
     "weight=(2, 5, 3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1))"),
    (lambda: upsample_frames(np.zeros((1, 2, 2)), 2, "bilinear", True),
     "UpsampleFrames(op='upsample', input_shape=(1, 2, 2), output_shape=(1, 4, 4), frames=16, scale_factor=(2, 2), "
     "mode='bilinear', align_corners=True)"),
])
def test_sequences_repr_names_op_shapes_length_and_arguments(make: Any, expected: str) -> None:
    assert repr(make()) == expected


@pytest.mark.parametrize("make", [
    lambda x: conv2d_frames(x, np.ones((2, 3, 2, 2))),
    lambda x: conv2d_frames(x, np.ones((2, 2))),
    lambda x: max_pool2d_frames(x, 2),
    lambda x: conv_transpose2d_frames(x, np.ones((2, 2))),
    lambda x: upsample_frames(x, 2),
])
def test_frames_refuse_a_batch(make: Any) -> None:
    with pytest.raises(ValueError, match=r"x must be a \(H, W\) or \(C, H, W\) array \(frames step through one "
                                         r"sample; the ops take batches\), got shape \(2, 3, 4, 4\)"):
        make(np.ones((2, 3, 4, 4)))


def test_conv_transpose_frames_overflow_raises_the_named_error() -> None:
    seq = conv_transpose2d_frames(np.full((2, 2), 1e300), np.full((2, 2), 1e10), stride=1)
    message = "conv_transpose2d overflowed: the inputs are finite but their products or sums are too large"
    with pytest.raises(ValueError, match=message):
        seq.result()
    with pytest.raises(ValueError, match=message):
        seq[-1]
    with pytest.raises(ValueError, match=message):
        conv_transpose2d(np.full((2, 2), 1e300), np.full((2, 2), 1e10))
