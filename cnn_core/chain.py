"""A small chain of layers in Keras' vocabulary, run with the engine's ops, with a model summary.

>>> chain = Chain([{"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
...                {"type": "max_pool2d", "pool_size": 2}])
>>> [(row["layer"], row["output_shape"], row["params"]) for row in chain.summary((1, 28, 28))]
[('conv2d', (32, 26, 26), 320), ('max_pool2d', (32, 13, 13), 0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnn_core import geometry, ops
from cnn_core._checks import FloatArray, as_image, is_int, to_pair
from cnn_core._plans import check_upsample
from cnn_core.kernels import get_kernel

LAYER_TYPES = ("conv2d", "activation", "max_pool2d", "avg_pool2d", "sum_pool2d", "upsample", "conv_transpose2d",
               "flatten", "dense", "magnitude")
ACTIVATIONS = ("linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")


def _softmax(values: FloatArray) -> FloatArray:
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()  # type: ignore[no-any-return]


def activate(values: FloatArray, name: str | None) -> FloatArray:
    """Apply a Keras activation by name (None or "linear" leaves the values as they are)."""
    if name is None or name == "linear":
        return values
    if name == "softmax":
        return _softmax(values)
    function = {"relu": ops.relu, "leaky_relu": ops.leaky_relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh}[name]
    result: FloatArray = function(values[None])[0] if values.ndim == 1 else function(values)
    return result


def _pair(value: Any, name: str = "size", minimum: int = 0) -> tuple[int, int]:
    """An int or a (rows, cols) pair, refused with a named message otherwise (the ops check the ranges)."""
    return to_pair(tuple(value) if isinstance(value, list) else value, name, minimum)


def _option(layer: dict[str, Any], names: tuple[str, ...], default: Any) -> Any:
    """A layer option under its Keras name or its PyTorch one (pool_size / kernel_size, strides / stride...)."""
    for name in names:
        if name in layer:
            return layer[name]
    return default


@dataclass
class Layer:
    """A resolved layer: its kind, options, weights (if any) and its summary name."""

    name: str
    kind: str
    options: dict[str, Any]
    weight: FloatArray | None = None
    bias: FloatArray | None = None
    output_shape: tuple[int, ...] = ()

    @property
    def params(self) -> int:
        """Trainable parameters, counted as Keras counts them."""
        return sum(int(array.size) for array in (self.weight, self.bias) if array is not None)


@dataclass(frozen=True)
class _Shape:
    """Stands in for an array when only the output shape of a layer is wanted (nothing is computed)."""

    shape: tuple[int, ...]


class Chain:
    """An ordered list of layers (plain dicts); weights are the given kernels or seeded random ones.

    Parameters
    ----------
    layers : list of dicts with a "type" in LAYER_TYPES, e.g. ``{"type": "conv2d", "filters": 8, "kernel_size": 3}``.
        conv2d / conv_transpose2d: ``filters`` (int, or a list of catalogue names / 2-D kernels), ``kernel_size``,
        ``strides`` (or ``stride``), ``padding`` (int, "valid", "same", "full"), ``dilation``, ``use_bias``,
        ``activation``. Pools: ``pool_size``, ``strides``, ``padding``. upsample: ``size``, ``interpolation``
        ("nearest" / "bilinear"). activation: ``activation``. dense: ``units``, ``activation``.
        magnitude: ``sqrt(sum over channels of x**2)``, one map (Sobel x and y -> edge strength).
    seed : seeds the random (Glorot-uniform) weights, so the same chain always computes the same numbers.
    max_weights : the most weights one dense layer may have (checked before any is made).

    Raises ValueError naming the layer (1-based) for an unknown type, option or a shape that does not fit.
    """

    def __init__(self, layers: list[dict[str, Any]], seed: int = 0, max_weights: int = 20_000_000) -> None:
        if not isinstance(layers, list) or not layers:
            raise ValueError("layers must be a non-empty list of dicts")
        for index, layer in enumerate(layers, start=1):
            if not isinstance(layer, dict) or layer.get("type") not in LAYER_TYPES:
                kind = layer.get("type") if isinstance(layer, dict) else layer
                raise ValueError(f"layer {index}: type must be one of {', '.join(LAYER_TYPES)}, got {kind!r}")
            activation = layer.get("activation")
            if activation is not None and activation not in ACTIVATIONS:
                raise ValueError(f"layer {index}: activation must be one of {', '.join(ACTIVATIONS)}, "
                                 f"got {activation!r}")
        self.specs = [dict(layer) for layer in layers]
        self.seed = seed
        self.max_weights = max_weights
        self._built_for: tuple[int, ...] | None = None
        self.layers: list[Layer] = []

    def build(self, input_shape: tuple[int, ...]) -> list[Layer]:
        """Resolve every layer's weights and check the shapes fit, for a (C, H, W) input."""
        shape = tuple(int(v) for v in input_shape)
        if self._built_for == shape:
            return self.layers
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}")
        rng = np.random.default_rng(self.seed)
        counts: dict[str, int] = {}
        layers = []
        for index, spec in enumerate(self.specs, start=1):
            kind = spec["type"]
            name = kind if kind not in counts else f"{kind}_{counts[kind]}"
            counts[kind] = counts.get(kind, 0) + 1
            layer = Layer(name, kind, spec)
            try:
                shape = self._resolve(layer, shape, rng)
            except (ValueError, TypeError) as error:
                raise ValueError(f"layer {index} ({kind}): {error}") from None
            layer.output_shape = shape
            layers.append(layer)
        self.layers, self._built_for = layers, tuple(int(v) for v in input_shape)
        return layers

    def _resolve(self, layer: Layer, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        """Make the layer's weights and return its output shape."""
        spec, kind = layer.options, layer.kind
        if kind == "flatten":
            return (int(np.prod(shape)),)
        if kind == "magnitude":
            if len(shape) != 3:
                raise ValueError(f"magnitude needs a (C, H, W) input, not the flat {shape}")
            return (1, shape[1], shape[2])
        if kind == "dense":
            if len(shape) != 1:
                raise ValueError(f"dense needs a flat input: put a flatten layer before it (input is {shape})")
            units = spec.get("units")
            if not is_int(units) or int(units) < 1:
                raise ValueError(f"units must be a positive integer, got {units!r}")
            if shape[0] * int(units) > self.max_weights:
                raise ValueError(f"dense would need {shape[0] * int(units):,} weights ({shape[0]:,} inputs x {units} "
                                 f"units); at most {self.max_weights:,}: pool or stride to a smaller map first")
            limit = np.sqrt(6 / (shape[0] + int(units)))
            layer.weight = rng.uniform(-limit, limit, (shape[0], int(units)))
            layer.bias = np.zeros(int(units))
            return (int(units),)
        if len(shape) != 3:
            raise ValueError(f"{kind} needs a (C, H, W) input, not the flat {shape}: remove the flatten before it")
        channels = shape[0]
        if kind in ("conv2d", "conv_transpose2d"):
            layer.weight = self._conv_weight(spec, channels, rng, transposed=kind == "conv_transpose2d")
            if layer.weight.size > self.max_weights:
                raise ValueError(f"the kernels would hold {layer.weight.size:,} weights; at most {self.max_weights:,}")
            filters = layer.weight.shape[1] if kind == "conv_transpose2d" else layer.weight.shape[0]
            if "bias" in spec:
                layer.bias = np.asarray(spec["bias"], dtype=np.float64).reshape(-1)
                if layer.bias.shape != (filters,):
                    raise ValueError(f"bias must have {filters} values (one per filter), got {layer.bias.size}")
            elif spec.get("use_bias", True):
                layer.bias = np.zeros(filters)
        # the engine's own geometry decides the output size (and refuses what does not fit)
        out = self._apply(layer, _Shape(shape), shape_only=True)
        return tuple(int(v) for v in out)

    def _conv_weight(self, spec: dict[str, Any], channels: int, rng: np.random.Generator,
                     transposed: bool) -> FloatArray:
        max_weights = self.max_weights
        if "weight" in spec:  # explicit numbers, in the op's own layout
            weight = np.asarray(spec["weight"], dtype=np.float64)
            axis = 0 if transposed else 1
            if weight.ndim != 4 or weight.shape[axis] != channels:
                raise ValueError(f"weight must be a 4-D array with {channels} input channels on axis {axis}, "
                                 f"got shape {weight.shape}")
            return weight
        filters = spec.get("filters", 1)
        if isinstance(filters, list):
            kernels = [get_kernel(item) if isinstance(item, str) else np.asarray(item, dtype=np.float64)
                       for item in filters]
            if len({k.shape for k in kernels}) != 1 or kernels[0].ndim != 2:
                raise ValueError("filters given as kernels must all be 2-D and the same size")
            weight = np.stack([np.repeat(k[None], channels, axis=0) for k in kernels])
        else:
            if not is_int(filters) or int(filters) < 1:
                raise ValueError(f"filters must be a positive integer or a list of kernels, got {filters!r}")
            kh, kw = _pair(_option(spec, ("kernel_size",), 3), "kernel_size", 1)
            count = int(filters) * channels * kh * kw
            if count > max_weights:
                raise ValueError(f"{filters} filters of {channels}x{kh}x{kw} would be {count:,} weights; "
                                 f"at most {max_weights:,}")
            fan_in, fan_out = channels * kh * kw, int(filters) * kh * kw
            limit = np.sqrt(6 / (fan_in + fan_out))
            weight = rng.uniform(-limit, limit, (int(filters), channels, kh, kw))
        return weight.transpose(1, 0, 2, 3).copy() if transposed else weight

    def _apply(self, layer: Layer, x: Any, shape_only: bool = False) -> Any:
        """Run one layer on ``x`` (or, with shape_only, compute just its output shape)."""
        spec, kind = layer.options, layer.kind
        if kind in ("conv2d", "max_pool2d", "avg_pool2d", "sum_pool2d", "conv_transpose2d") and shape_only:
            return self._window_shape(layer, x.shape)
        if kind == "conv2d":
            out = ops.conv2d(x, layer.weight, layer.bias, _option(spec, ("strides", "stride"), 1),
                             _option(spec, ("padding",), 0), _option(spec, ("dilation", "dilation_rate"), 1))
            return activate(out, spec.get("activation"))
        if kind == "conv_transpose2d":
            out = ops.conv_transpose2d(x, layer.weight, layer.bias, _option(spec, ("strides", "stride"), 1),
                                       _option(spec, ("padding",), 0), _option(spec, ("output_padding",), 0),
                                       _option(spec, ("dilation", "dilation_rate"), 1))
            return activate(out, spec.get("activation"))
        if kind in ("max_pool2d", "avg_pool2d", "sum_pool2d"):
            size = _option(spec, ("pool_size", "kernel_size"), 2)
            stride = _option(spec, ("strides", "stride"), None)
            padding = _option(spec, ("padding",), 0)
            return getattr(ops, kind)(x, size, stride, padding)
        if kind == "upsample":
            scale = _option(spec, ("size", "scale_factor"), 2)
            mode = _option(spec, ("interpolation", "mode"), "nearest")
            if shape_only:
                check_upsample(np.zeros((1, 1, 1)), scale, mode, False)
                factor = _pair(scale, "size", 1)
                return (x.shape[0], x.shape[1] * factor[0], x.shape[2] * factor[1])
            return ops.upsample(x, scale, mode)
        if kind == "activation":
            return x.shape if shape_only else activate(x, spec.get("activation", "relu"))
        if kind == "flatten":
            return x.reshape(-1)
        if kind == "magnitude":  # e.g. the edge strength sqrt(gx^2 + gy^2) of Sobel x and y maps
            return np.sqrt((x * x).sum(axis=0, keepdims=True))
        assert layer.weight is not None and layer.bias is not None  # build() made them
        return activate(x @ layer.weight + layer.bias, spec.get("activation"))

    def _window_shape(self, layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
        spec, kind = layer.options, layer.kind
        channels, height, width = shape
        if kind == "conv2d":
            assert layer.weight is not None
            kh, kw = layer.weight.shape[2:]
            stride = _pair(_option(spec, ("strides", "stride"), 1), "stride", 1)
            dilation = _pair(_option(spec, ("dilation", "dilation_rate"), 1), "dilation", 1)
            padding = _option(spec, ("padding",), 0)
            pads = (padding, padding) if isinstance(padding, str) else _pair(padding, "padding")
            return (layer.weight.shape[0],
                    geometry.conv_output_size(height, kh, stride[0], pads[0], dilation[0]),
                    geometry.conv_output_size(width, kw, stride[1], pads[1], dilation[1]))
        if kind == "conv_transpose2d":
            assert layer.weight is not None
            kh, kw = layer.weight.shape[2:]
            stride = _pair(_option(spec, ("strides", "stride"), 1), "stride", 1)
            dilation = _pair(_option(spec, ("dilation", "dilation_rate"), 1), "dilation", 1)
            padding = _pair(_option(spec, ("padding",), 0), "padding")
            extra = _pair(_option(spec, ("output_padding",), 0), "output_padding")
            return (layer.weight.shape[1],
                    geometry.conv_transpose_output_size(height, kh, stride[0], padding[0], extra[0], dilation[0]),
                    geometry.conv_transpose_output_size(width, kw, stride[1], padding[1], extra[1], dilation[1]))
        size = _pair(_option(spec, ("pool_size", "kernel_size"), 2), "pool_size", 1)
        raw_stride = _option(spec, ("strides", "stride"), None)
        stride = size if raw_stride is None else _pair(raw_stride, "stride", 1)
        padding = _option(spec, ("padding",), 0)
        pads = (padding, padding) if isinstance(padding, str) else _pair(padding, "padding")
        return (channels, geometry.pool_output_size(height, size[0], stride[0], pads[0]),
                geometry.pool_output_size(width, size[1], stride[1], pads[1]))

    def summary(self, input_shape: tuple[int, ...]) -> list[dict[str, Any]]:
        """Keras' model.summary() as rows: ``{"layer", "output_shape", "params"}`` (shapes channel-first)."""
        return [{"layer": layer.name, "output_shape": layer.output_shape, "params": layer.params}
                for layer in self.build(tuple(input_shape))]

    def total_params(self, input_shape: tuple[int, ...]) -> int:
        """All parameters of the chain for this input shape."""
        return sum(row["params"] for row in self.summary(input_shape))

    def run(self, x: Any) -> list[FloatArray]:
        """Every layer's output for input ``x`` ((C, H, W) or (H, W)), in order."""
        image, _ = as_image(x)
        outputs: list[FloatArray] = []
        current: FloatArray = image
        for layer in self.build(image.shape):
            current = self._apply(layer, current)
            outputs.append(current)
        return outputs
