"""A chain's layers: their weights, their output shapes, and their forward and backward passes on batches.

Every number comes from :mod:`cnn_core.ops` (forward) and :mod:`cnn_core.grad` (backward); this module
only routes arrays between them. Arrays are batches: (N, C, H, W) maps or (N, units) vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnn_core import geometry, grad, ops
from cnn_core._checks import FloatArray, as_array, check_finite, compute_dtype, is_int, to_pair
from cnn_core._dense import activation_values, relu_into
from cnn_core._grad_conv import planned_conv2d_backward
from cnn_core._grad_dense import activation_gradient, relu_gradient
from cnn_core._grad_pool import planned_pool_backward
from cnn_core._plans import check_upsample, plan_conv2d, plan_pool
from cnn_core.errors import ArgumentError
from cnn_core.kernels import get_kernel

LAYER_TYPES = ("conv2d", "activation", "max_pool2d", "avg_pool2d", "sum_pool2d", "upsample", "conv_transpose2d",
               "flatten", "dense", "magnitude", "dropout", "batch_norm")
ACTIVATIONS = ("linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
POOLS = ("max_pool2d", "avg_pool2d", "sum_pool2d")
TRAINABLE = ("kernel", "bias", "gamma", "beta")


def option(spec: dict[str, Any], names: tuple[str, ...], default: Any) -> Any:
    """A layer option under its Keras name or its PyTorch one (pool_size / kernel_size, strides / stride...)."""
    for name in names:
        if name in spec:
            return spec[name]
    return default


def pair(value: Any, name: str = "size", minimum: int = 0) -> tuple[int, int]:
    """An int or a (rows, cols) pair, refused with a named message otherwise (the ops check the ranges)."""
    return to_pair(tuple(value) if isinstance(value, list) else value, name, minimum)


@dataclass
class Layer:
    """A resolved layer: its kind, options, arrays (Keras' order) and its summary name.

    ``arrays`` holds ``kernel`` and ``bias`` (conv, dense), or ``gamma``, ``beta``, ``moving_mean`` and
    ``moving_variance`` (batch_norm), each in the layout the layer computes with.
    """

    name: str
    kind: str
    options: dict[str, Any]
    arrays: dict[str, FloatArray] = field(default_factory=dict)
    output_shape: tuple[int, ...] = ()

    @property
    def weight(self) -> FloatArray | None:
        """The kernel: (F, C, kh, kw) for conv2d, (C, F, kh, kw) for conv_transpose2d, (in, units) for dense."""
        return self.arrays.get("kernel")

    @property
    def bias(self) -> FloatArray | None:
        """The bias vector, when the layer has one."""
        return self.arrays.get("bias")

    @property
    def params(self) -> int:
        """Parameters, counted as Keras counts them (batch_norm's moving statistics included)."""
        return sum(int(array.size) for array in self.arrays.values())

    @property
    def trainable(self) -> list[str]:
        """Names of the arrays an optimizer updates, in Keras' order."""
        return [name for name in self.arrays if name in TRAINABLE]

    @property
    def activation(self) -> str | None:
        """The activation applied after the layer's own operation."""
        if self.kind == "activation":
            return str(self.options.get("activation", "relu"))
        value = self.options.get("activation")
        return None if value is None else str(value)


def check_spec(index: int, spec: object) -> None:
    """Refuse an unknown layer type or activation, naming the layer (1-based)."""
    if not isinstance(spec, dict) or spec.get("type") not in LAYER_TYPES:
        kind = spec.get("type") if isinstance(spec, dict) else spec
        raise ArgumentError(f"layer {index}: type must be one of {', '.join(LAYER_TYPES)}, got {kind!r}")
    activation = spec.get("activation")
    if activation is not None and activation not in ACTIVATIONS:
        raise ArgumentError(f"layer {index}: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    if spec["type"] == "dropout":
        rate = spec.get("rate", 0.5)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise ArgumentError(f"layer {index} (dropout): rate must be a number in [0, 1), got {rate!r}")
    if spec["type"] == "batch_norm":
        momentum, epsilon = spec.get("momentum", 0.99), spec.get("epsilon", 1e-3)
        if isinstance(momentum, bool) or not isinstance(momentum, int | float) or not 0 <= momentum <= 1:
            raise ArgumentError(f"layer {index} (batch_norm): momentum must be a number in [0, 1], got {momentum!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not 0 < epsilon < 1:
            raise ArgumentError(f"layer {index} (batch_norm): epsilon must be a number in (0, 1), got {epsilon!r}")


def _numbers(value: object, name: str) -> FloatArray:
    """Numbers a layer was given (a bias, weights, kernels), checked and in float64."""
    array = as_array(value, name)
    compute_dtype(array, name)
    check_finite(array, name)
    return array.astype(np.float64)


def _glorot(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int) -> FloatArray:
    limit = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


def resolve(layer: Layer, shape: tuple[int, ...], rng: np.random.Generator, max_weights: int) -> tuple[int, ...]:
    """Make the layer's arrays (Keras' initial values) and return its output shape for a sample of ``shape``."""
    spec, kind = layer.options, layer.kind
    if kind == "dense" and len(shape) != 1:
        raise ArgumentError(f"dense needs a flat input: put a flatten layer before it (input is {shape})")
    if kind == "flatten":
        return (int(np.prod(shape)),)
    if kind in ("dropout", "activation"):
        return shape
    if kind == "batch_norm":
        width = shape[0]
        layer.arrays = {"gamma": np.ones(width), "beta": np.zeros(width), "moving_mean": np.zeros(width),
                        "moving_variance": np.ones(width)}
        return shape
    if kind == "dense":
        units = spec.get("units")
        if not is_int(units) or int(units) < 1:
            raise ArgumentError(f"units must be a positive integer, got {units!r}")
        if shape[0] * int(units) > max_weights:
            raise ArgumentError(f"dense would need {shape[0] * int(units):,} weights ({shape[0]:,} inputs x {units} "
                                f"units); at most {max_weights:,}: pool or stride to a smaller map first")
        layer.arrays = {"kernel": _glorot(rng, (shape[0], int(units)), shape[0], int(units)),
                        "bias": np.zeros(int(units))}
        return (int(units),)
    if len(shape) != 3:
        raise ArgumentError(f"{kind} needs a (C, H, W) input, not the flat {shape}: remove the flatten before it")
    if kind == "magnitude":
        return (1, shape[1], shape[2])
    if kind in ("conv2d", "conv_transpose2d"):
        _resolve_conv(layer, shape[0], rng, max_weights)
    return window_shape(layer, shape)


def _resolve_conv(layer: Layer, channels: int, rng: np.random.Generator, max_weights: int) -> None:
    spec = layer.options
    transposed = layer.kind == "conv_transpose2d"
    weight = _conv_weight(spec, channels, rng, transposed, max_weights)
    if weight.size > max_weights:
        raise ArgumentError(f"the kernels would hold {weight.size:,} weights; at most {max_weights:,}")
    filters = weight.shape[1] if transposed else weight.shape[0]
    layer.arrays = {"kernel": weight}
    if "bias" in spec:
        bias = _numbers(spec["bias"], "bias").reshape(-1)
        if bias.shape != (filters,):
            raise ArgumentError(f"bias must have {filters} values (one per filter), got {bias.size}")
        layer.arrays["bias"] = bias
    elif spec.get("use_bias", True):
        layer.arrays["bias"] = np.zeros(filters)


def _conv_weight(spec: dict[str, Any], channels: int, rng: np.random.Generator, transposed: bool,
                 max_weights: int) -> FloatArray:
    if "weight" in spec:  # explicit numbers, in the op's own layout
        weight = _numbers(spec["weight"], "weight")
        axis = 0 if transposed else 1
        if weight.ndim != 4 or weight.shape[axis] != channels:
            raise ArgumentError(f"weight must be a 4-D array with {channels} input channels on axis {axis}, "
                                f"got shape {weight.shape}")
        return weight
    filters = spec.get("filters", 1)
    if isinstance(filters, list):
        kernels = [get_kernel(item) if isinstance(item, str) else _numbers(item, "filters")
                   for item in filters]
        if len({k.shape for k in kernels}) != 1 or kernels[0].ndim != 2:
            raise ArgumentError("filters given as kernels must all be 2-D and the same size")
        weight = np.stack([np.repeat(k[None], channels, axis=0) for k in kernels])
    else:
        if not is_int(filters) or int(filters) < 1:
            raise ArgumentError(f"filters must be a positive integer or a list of kernels, got {filters!r}")
        kh, kw = pair(option(spec, ("kernel_size",), 3), "kernel_size", 1)
        count = int(filters) * channels * kh * kw
        if count > max_weights:
            raise ArgumentError(f"{filters} filters of {channels}x{kh}x{kw} would be {count:,} weights; "
                                f"at most {max_weights:,}")
        weight = _glorot(rng, (int(filters), channels, kh, kw), channels * kh * kw, int(filters) * kh * kw)
    return weight.transpose(1, 0, 2, 3).copy() if transposed else weight


def window_shape(layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Output shape of a windowed layer (conv, transposed conv, pool, upsample), from the engine's geometry."""
    spec, kind = layer.options, layer.kind
    channels, height, width = shape
    if kind == "upsample":
        scale, mode = option(spec, ("size", "scale_factor"), 2), option(spec, ("interpolation", "mode"), "nearest")
        check_upsample(np.zeros((1, 1, 1)), scale, mode, False)
        factor = pair(scale, "size", 1)
        return (channels, height * factor[0], width * factor[1])
    if kind == "conv2d":
        weight = layer.arrays["kernel"]
        kh, kw = weight.shape[2:]
        stride = pair(option(spec, ("strides", "stride"), 1), "stride", 1)
        dilation = pair(option(spec, ("dilation", "dilation_rate"), 1), "dilation", 1)
        padding = option(spec, ("padding",), 0)
        pads = (padding, padding) if isinstance(padding, str) else pair(padding, "padding")
        return (weight.shape[0], geometry.conv_output_size(height, kh, stride[0], pads[0], dilation[0]),
                geometry.conv_output_size(width, kw, stride[1], pads[1], dilation[1]))
    if kind == "conv_transpose2d":
        weight = layer.arrays["kernel"]
        kh, kw = weight.shape[2:]
        stride = pair(option(spec, ("strides", "stride"), 1), "stride", 1)
        dilation = pair(option(spec, ("dilation", "dilation_rate"), 1), "dilation", 1)
        padding = pair(option(spec, ("padding",), 0), "padding")
        extra = pair(option(spec, ("output_padding",), 0), "output_padding")
        return (weight.shape[1],
                geometry.conv_transpose_output_size(height, kh, stride[0], padding[0], extra[0], dilation[0]),
                geometry.conv_transpose_output_size(width, kw, stride[1], padding[1], extra[1], dilation[1]))
    size, stride_option, padding = _pool_options(spec)
    size_pair = pair(size, "pool_size", 1)
    stride_pair = size_pair if stride_option is None else pair(stride_option, "stride", 1)
    pads = (padding, padding) if isinstance(padding, str) else pair(padding, "padding")
    return (channels, geometry.pool_output_size(height, size_pair[0], stride_pair[0], pads[0]),
            geometry.pool_output_size(width, size_pair[1], stride_pair[1], pads[1]))


def _pool_options(spec: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (option(spec, ("pool_size", "kernel_size"), 2), option(spec, ("strides", "stride"), None),
            option(spec, ("padding",), 0))


def _conv_options(spec: dict[str, Any]) -> dict[str, Any]:
    return {"stride": option(spec, ("strides", "stride"), 1), "padding": option(spec, ("padding",), 0),
            "dilation": option(spec, ("dilation", "dilation_rate"), 1)}


def activate(values: FloatArray, name: str | None, slope: float = 0.01) -> FloatArray:
    """Apply a Keras activation by name to a batch (None or "linear" leaves the values as they are)."""
    if name is None or name == "linear":
        return values
    if name == "softmax":
        return ops.softmax(values, axis=1)
    return activation_values(name, values, slope)


def _activation_backward(grad_output: FloatArray, before: FloatArray, after: FloatArray, name: str | None,
                         slope: float, positive: np.ndarray[Any, Any] | None = None) -> FloatArray:
    """grad_output through the activation; ``positive`` is relu's mask when forward kept it."""
    if name is None or name == "linear":
        return grad_output
    if name == "softmax":  # the Jacobian of softmax along the class axis, applied to grad_output
        return after * (grad_output - (grad_output * after).sum(axis=1, keepdims=True))  # type: ignore[no-any-return]
    if name == "relu" and positive is not None:
        return relu_gradient(grad_output, positive)
    return activation_gradient(name, grad_output, before, slope)


@dataclass
class Cache:
    """What a layer's forward pass keeps for its backward pass."""

    x: FloatArray
    # the value the activation was applied to; for a relu computed in place (a conv2d's or dense layer's own
    # result), its result: the same signs, which is all relu's gradient reads
    before: FloatArray | None = None
    after: FloatArray | None = None
    extra: Any = None
    positive: np.ndarray[Any, Any] | None = None  # relu's mask (before > 0), kept while training


def forward(layer: Layer, x: FloatArray, training: bool, rng: np.random.Generator | None,
            fold_softmax: bool = False) -> tuple[FloatArray, Cache]:
    """Run one layer on a batch. ``fold_softmax`` leaves a final softmax to the loss (logits out)."""
    spec, kind, arrays = layer.options, layer.kind, layer.arrays
    slope = float(spec.get("negative_slope", 0.01))
    cache = Cache(x)
    if kind == "conv2d":  # planned once: the backward pass reuses the padded input
        plan = plan_conv2d(x, arrays["kernel"], arrays.get("bias"), **_conv_options(spec), checked_input=True)
        before = ops._conv2d_maps(plan)
        cache.extra = plan
    elif kind == "conv_transpose2d":
        before = ops.conv_transpose2d(x, arrays["kernel"], arrays.get("bias"), option(spec, ("strides", "stride"), 1),
                                      option(spec, ("padding",), 0), option(spec, ("output_padding",), 0),
                                      option(spec, ("dilation", "dilation_rate"), 1))
    elif kind == "dense":
        before = ops.linear(x, arrays["kernel"].T, arrays["bias"])  # Keras keeps the kernel as (in, units)
    elif kind in POOLS:
        size, stride, padding = _pool_options(spec)
        pool = plan_pool(kind[:3], x, size, stride, padding, 1, False, checked_input=True)
        out = ops._pool(kind[:3], pool)
        cache.extra = (pool, out)
        return out, cache
    elif kind == "upsample":
        return ops.upsample(x, option(spec, ("size", "scale_factor"), 2),
                            option(spec, ("interpolation", "mode"), "nearest")), cache
    elif kind == "flatten":
        return x.reshape(len(x), -1), cache
    elif kind == "magnitude":  # e.g. the edge strength sqrt(gx^2 + gy^2) of Sobel x and y maps
        out = np.sqrt((x * x).sum(axis=1, keepdims=True))
        cache.after = out
        return out, cache
    elif kind == "dropout":
        if not training or not spec.get("rate", 0.5):
            return x, cache
        assert rng is not None  # fit passes its seeded generator while training
        out, mask = ops.dropout(x, float(spec.get("rate", 0.5)), rng)
        cache.extra = mask
        return out, cache
    elif kind == "batch_norm":
        return _batch_norm(layer, x, training, cache)
    else:  # activation
        before = x
    name = layer.activation
    if fold_softmax and name == "softmax":
        name = None
    if name == "relu" and kind in ("conv2d", "dense"):
        # the layer's own fresh result: relu overwrites it (no second map of the layer's size), and while
        # training its mask is kept for the backward pass (a quarter of the map's bytes in float32; the
        # gradient is then one product, not a comparison, a temporary and a product)
        after = relu_into(before, before)
        cache.before = cache.after = after
        cache.positive = after > 0 if training else None
        return after, cache
    after = activate(before, name, slope)
    cache.before, cache.after = before, after
    return after, cache


def _batch_norm(layer: Layer, x: FloatArray, training: bool, cache: Cache) -> tuple[FloatArray, Cache]:
    """Keras' BatchNormalization: batch statistics while training (moving averages updated), else the averages."""
    arrays, spec = layer.arrays, layer.options
    axes = (0, 2, 3) if x.ndim == 4 else (0,)
    shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
    epsilon = float(spec.get("epsilon", 1e-3))
    if training:
        mean, variance = x.mean(axis=axes), x.var(axis=axes)
        momentum = float(spec.get("momentum", 0.99))
        for name, value in (("moving_mean", mean), ("moving_variance", variance)):
            stored = arrays[name]
            stored *= momentum
            stored += (1 - momentum) * value
    else:
        mean, variance = arrays["moving_mean"], arrays["moving_variance"]
    inverse = (1 / np.sqrt(variance + epsilon)).astype(x.dtype, copy=False)
    mean = mean.astype(x.dtype, copy=False)
    normal = (x - mean.reshape(shape)) * inverse.reshape(shape)
    cache.extra = (normal, inverse, axes, shape, training)
    gamma, beta = arrays["gamma"].astype(x.dtype, copy=False), arrays["beta"].astype(x.dtype, copy=False)
    return normal * gamma.reshape(shape) + beta.reshape(shape), cache


def backward(layer: Layer, grad_output: FloatArray, cache: Cache, fold_softmax: bool = False,
             need_input: bool = True) -> tuple[FloatArray | None, dict[str, FloatArray]]:
    """The gradients of the loss for the layer's input (None for a conv2d without ``need_input``, as the
    first layer of a network) and for each trainable array, from ``grad_output``."""
    spec, kind, arrays, x = layer.options, layer.kind, layer.arrays, cache.x
    slope = float(spec.get("negative_slope", 0.01))
    if kind in ("conv2d", "conv_transpose2d", "dense", "activation"):
        name = layer.activation
        if fold_softmax and name == "softmax":
            name = None
        assert cache.before is not None and cache.after is not None  # set by forward
        grad_output = _activation_backward(grad_output, cache.before, cache.after, name, slope, cache.positive)
    if kind == "conv2d":
        gx, gw, gb = planned_conv2d_backward(cache.extra, grad_output, need_input)
        return gx, _named(layer, gw, gb)
    if kind == "conv_transpose2d":
        gx, gw, gb = grad.conv_transpose2d_backward(
            grad_output, x, arrays["kernel"], option(spec, ("strides", "stride"), 1), option(spec, ("padding",), 0),
            option(spec, ("output_padding",), 0), option(spec, ("dilation", "dilation_rate"), 1))
        return gx, _named(layer, gw, gb)
    if kind == "dense":
        gx, gw_t, gb = grad.linear_backward(grad_output, x, arrays["kernel"].T.astype(x.dtype, copy=False))
        return gx, _named(layer, gw_t.T, gb)
    if kind in POOLS:
        pool, out = cache.extra
        return planned_pool_backward(kind[:3], pool, grad_output, out), {}
    if kind == "upsample":
        return grad.upsample_backward(grad_output, x, option(spec, ("size", "scale_factor"), 2),
                                      option(spec, ("interpolation", "mode"), "nearest")), {}
    if kind == "flatten":
        return grad_output.reshape(x.shape), {}
    if kind == "magnitude":
        assert cache.after is not None
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(cache.after > 0, grad_output / cache.after, 0)
        return x * share, {}
    if kind == "dropout":
        if cache.extra is None:
            return grad_output, {}
        keep = x.dtype.type(1 / (1 - float(spec.get("rate", 0.5))))
        return grad_output * cache.extra * keep, {}
    if kind == "batch_norm":
        return _batch_norm_backward(layer, grad_output, cache)
    return grad_output, {}


def _named(layer: Layer, grad_kernel: FloatArray, grad_bias: FloatArray) -> dict[str, FloatArray]:
    grads = {"kernel": grad_kernel}
    if "bias" in layer.arrays:
        grads["bias"] = grad_bias
    return grads


def _batch_norm_backward(layer: Layer, grad_output: FloatArray,
                         cache: Cache) -> tuple[FloatArray, dict[str, FloatArray]]:
    """With batch statistics, the mean and variance depend on every input:
    ``dx = gamma * inv * (dy - mean(dy) - normal * mean(dy * normal))``."""
    normal, inverse, axes, shape, training = cache.extra
    gamma = layer.arrays["gamma"].astype(grad_output.dtype, copy=False)
    grad_gamma = (grad_output * normal).sum(axis=axes)
    grad_beta = grad_output.sum(axis=axes)
    if not training:  # the moving averages are constants: the layer is an affine map per channel
        return grad_output * (gamma * inverse).reshape(shape), {"gamma": grad_gamma, "beta": grad_beta}
    count = grad_output.size // grad_gamma.size
    scaled = grad_output - (grad_beta / count).reshape(shape) - normal * (grad_gamma / count).reshape(shape)
    return scaled * (gamma * inverse).reshape(shape), {"gamma": grad_gamma, "beta": grad_beta}
