"""Equivalent PyTorch and Keras code for a chain, with the exact weights written out, to paste in a notebook."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_core.chain import Chain, Layer
from cnn_core.errors import ArgumentError

INLINE_VALUES = 4096  # inputs up to this size are written into the code; larger ones are loaded from .npy


def _literal(array: Any) -> str:
    """A nested-list literal with every float written exactly (repr round-trips)."""
    return repr(np.asarray(array, dtype=np.float64).tolist())


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _option(layer: Layer, names: tuple[str, ...], default: Any) -> Any:
    return next((layer.options[name] for name in names if name in layer.options), default)


TORCH_ACTIVATIONS = {"relu": "nn.ReLU()", "leaky_relu": "nn.LeakyReLU({slope!r})", "sigmoid": "nn.Sigmoid()",
                     "tanh": "nn.Tanh()", "softmax": "nn.Softmax(dim=-1)"}


def _pool_extras(layer: Layer) -> str:
    """A pool's options beyond size, stride and padding, as PyTorch arguments (only those not at default)."""
    extras = ""
    if layer.kind == "max_pool2d" and _pair(_option(layer, ("dilation",), 1)) != (1, 1):
        extras += f", dilation={_pair(_option(layer, ('dilation',), 1))}"
    if layer.options.get("ceil_mode"):
        extras += ", ceil_mode=True"
    if layer.kind == "avg_pool2d" and layer.options.get("count_include_pad", True) is False:
        extras += ", count_include_pad=False"
    return extras


def _torch_layer(layer: Layer, in_shape: tuple[int, ...]) -> list[str]:
    kind = layer.kind
    lines: list[str] = []
    if kind == "conv2d":
        assert layer.weight is not None
        padding = _option(layer, ("padding",), 0)
        stride = _pair(_option(layer, ("strides", "stride"), 1))
        dilation = _pair(_option(layer, ("dilation", "dilation_rate"), 1))
        filters, channels, kh, kw = layer.weight.shape
        if isinstance(padding, str) and padding != "valid":
            rows = layer.output_shape[1]
            cols = layer.output_shape[2]
            total_r = max((rows - 1) * stride[0] + dilation[0] * (kh - 1) + 1 - in_shape[1], 0)
            total_c = max((cols - 1) * stride[1] + dilation[1] * (kw - 1) + 1 - in_shape[2], 0)
            lines.append(f"nn.ZeroPad2d(({total_c // 2}, {total_c - total_c // 2}, {total_r // 2}, "
                         f"{total_r - total_r // 2})),  # '{padding}' padding, the extra pixel bottom/right")
            padding = 0
        pad = 0 if padding == "valid" else _pair(padding)
        lines.append(f"with_weights(nn.Conv2d({channels}, {filters}, ({kh}, {kw}), stride={stride}, padding={pad}, "
                     f"dilation={dilation}, bias={layer.bias is not None}), {_literal(layer.weight)}, "
                     f"{_literal(layer.bias) if layer.bias is not None else None}),")
    elif kind == "conv_transpose2d":
        assert layer.weight is not None
        channels, filters, kh, kw = layer.weight.shape
        lines.append(f"with_weights(nn.ConvTranspose2d({channels}, {filters}, ({kh}, {kw}), "
                     f"stride={_pair(_option(layer, ('strides', 'stride'), 1))}, "
                     f"padding={_pair(_option(layer, ('padding',), 0))}, "
                     f"output_padding={_pair(_option(layer, ('output_padding',), 0))}, "
                     f"dilation={_pair(_option(layer, ('dilation', 'dilation_rate'), 1))}, "
                     f"bias={layer.bias is not None}), {_literal(layer.weight)}, "
                     f"{_literal(layer.bias) if layer.bias is not None else None}),")
    elif kind in ("max_pool2d", "avg_pool2d", "sum_pool2d"):
        size = _pair(_option(layer, ("pool_size", "kernel_size"), 2))
        stride_value = _option(layer, ("strides", "stride"), None)
        stride = size if stride_value is None else _pair(stride_value)
        padding = _option(layer, ("padding",), 0)
        if isinstance(padding, str) and padding != "valid":
            dilation = _pair(_option(layer, ("dilation",), 1))
            needed = [max((layer.output_shape[axis + 1] - 1) * stride[axis] + dilation[axis] * (size[axis] - 1) + 1
                          - in_shape[axis + 1], 0) for axis in (0, 1)]
            if any(needed):  # 'same' that pads nothing (e.g. 28 -> 14 by 2) is valid padding; other pads are not
                raise ArgumentError(f"{layer.name}: '{padding}' padding on a pool has no PyTorch layer; use a number")
            padding = "valid"
        pad = 0 if padding == "valid" else _pair(padding)
        extras = _pool_extras(layer)
        if kind == "max_pool2d":
            lines.append(f"nn.MaxPool2d({size}, stride={stride}, padding={pad}{extras}),")
        elif kind == "avg_pool2d":
            lines.append(f"nn.AvgPool2d({size}, stride={stride}, padding={pad}{extras}),")
        else:
            lines.append(f"nn.AvgPool2d({size}, stride={stride}, padding={pad}{extras}, divisor_override=1),  "
                         "# sum pool")
    elif kind == "upsample":
        scale = _option(layer, ("size", "scale_factor"), 2)
        mode = _option(layer, ("interpolation", "mode"), "nearest")
        extra = f", align_corners={bool(layer.options.get('align_corners', False))}" if mode == "bilinear" else ""
        lines.append(f"nn.Upsample(scale_factor={_pair(scale)}, mode={mode!r}{extra}),")
    elif kind == "flatten":
        lines.append("nn.Flatten(),")
    elif kind == "magnitude":
        lines.append("Magnitude(),  # sqrt of the sum of squares over the channels")
    elif kind == "dense":
        assert layer.weight is not None and layer.bias is not None
        lines.append(f"with_weights(nn.Linear({layer.weight.shape[0]}, {layer.weight.shape[1]}), "
                     f"{_literal(layer.weight.T)}, {_literal(layer.bias)}),")
    elif kind == "dropout":
        lines.append(f"nn.Dropout({float(layer.options.get('rate', 0.5))}),  # identity outside training")
    elif kind == "batch_norm":
        arrays = layer.arrays
        module = "nn.BatchNorm2d" if len(layer.output_shape) == 3 else "nn.BatchNorm1d"
        # Keras' momentum m keeps m of the old average; PyTorch's momentum is the share of the new batch
        lines.append(f"batch_norm({module}({layer.output_shape[0]}, eps={float(layer.options.get('epsilon', 1e-3))}, "
                     f"momentum={1 - float(layer.options.get('momentum', 0.99)):.6g}), "
                     f"{_literal(arrays['gamma'])}, {_literal(arrays['beta'])}, {_literal(arrays['moving_mean'])}, "
                     f"{_literal(arrays['moving_variance'])}),")
    activation = layer.options.get("activation", "relu" if kind == "activation" else None)
    if activation not in (None, "linear"):
        lines.append(TORCH_ACTIVATIONS[activation].format(slope=float(layer.options.get("negative_slope", 0.01)))
                     + ",")
    return lines


def _input_lines(x: np.ndarray[Any, Any], input_url: str) -> list[str]:
    if x.size <= INLINE_VALUES:
        return [f"x = torch.tensor({_literal(x)}, dtype=torch.float64)[None]  # (1, C, H, W)"]
    return [f"# the input as Kernel Lens computed on it: download {input_url}",
            "x = torch.from_numpy(np.load('kernel-lens-input.npy')).double()[None]  # (1, C, H, W)"]


def pytorch_code(chain: Chain, x: np.ndarray[Any, Any], input_url: str) -> str:
    """A runnable PyTorch script that builds the chain with its exact weights and prints every layer's shape."""
    image = x if x.ndim == 3 else x[None]
    layers = chain.build(tuple(image.shape))
    body: list[str] = []
    shape: tuple[int, ...] = tuple(image.shape)
    for layer in layers:
        modules = _torch_layer(layer, shape)
        body += [f"    # {layer.name}: {shape} -> {layer.output_shape}", "    nn.Sequential(",
                 *["        " + line for line in modules], "    ),"]
        shape = layer.output_shape
    return "\n".join([
        '"""Made by Kernel Lens: the same layers and weights, in PyTorch (float64 for exact comparison)."""',
        "import numpy as np",
        "import torch",
        "from torch import nn",
        "",
        "",
        "def with_weights(layer, weight, bias):",
        "    layer = layer.double()",
        "    layer.weight.data = torch.tensor(weight, dtype=torch.float64)",
        "    if bias is not None:",
        "        layer.bias.data = torch.tensor(bias, dtype=torch.float64)",
        "    return layer",
        "",
        "",
        "def batch_norm(layer, gamma, beta, mean, variance):",
        "    layer = with_weights(layer, gamma, beta)",
        "    layer.running_mean = torch.tensor(mean, dtype=torch.float64)",
        "    layer.running_var = torch.tensor(variance, dtype=torch.float64)",
        "    return layer",
        "",
        "",
        "class Magnitude(nn.Module):",
        "    def forward(self, x):",
        "        return torch.sqrt((x * x).sum(dim=1, keepdim=True))",
        "",
        "",

        "model = nn.Sequential(",
        *body,
        ").eval()  # dropout off, batch norm on its moving averages: as Kernel Lens runs a chain",
        *_input_lines(image, input_url),
        "with torch.no_grad():",
        "    outputs = []",
        "    for layer in model:",
        "        x = layer(x)",
        "        outputs.append(x[0].numpy())",
        "print([o.shape for o in outputs])",
    ]) + "\n"


KERAS_ACTIVATIONS = {"relu": "relu", "leaky_relu": "leaky_relu", "sigmoid": "sigmoid", "tanh": "tanh",
                     "softmax": "softmax"}


def keras_code(chain: Chain, x: np.ndarray[Any, Any], input_url: str) -> str:
    """A Keras script (channels-last) with the same layers and weights; weights are transposed to Keras' layout."""
    image = x if x.ndim == 3 else x[None]
    layers = chain.build(tuple(image.shape))
    lines = ['"""Made by Kernel Lens: the same layers and weights in Keras (channels last: H, W, C)."""',
             "import numpy as np", "import keras", "from keras import layers", "", "model_layers = []", "weights = []"]
    for layer in layers:
        activation = layer.options.get("activation")
        # Keras' own leaky_relu has slope 0.2: a separate LeakyReLU layer carries Kernel Lens' slope
        act = f", activation={KERAS_ACTIVATIONS[activation]!r}" if activation not in (None, "linear",
                                                                                         "leaky_relu") else ""
        if layer.kind == "conv2d":
            assert layer.weight is not None
            padding = _option(layer, ("padding",), 0)
            keras_padding = padding if isinstance(padding, str) and padding in ("valid", "same") else "valid"
            if padding == "full":
                kh, kw = layer.weight.shape[2:]
                padding = (kh - 1, kw - 1)
            if (isinstance(padding, int) and padding) or isinstance(padding, tuple | list):
                lines.append(f"model_layers.append(layers.ZeroPadding2D({_pair(padding)}))")
                lines.append("weights.append(None)")
            stride = _pair(_option(layer, ("strides", "stride"), 1))
            dilation = _pair(_option(layer, ("dilation", "dilation_rate"), 1))
            lines.append(f"model_layers.append(layers.Conv2D({layer.weight.shape[0]}, {layer.weight.shape[2:]}, "
                         f"strides={stride}, padding={keras_padding!r}, dilation_rate={dilation}, "
                         f"use_bias={layer.bias is not None}{act}))")
            kernel = layer.weight.transpose(2, 3, 1, 0)  # (F, C, kh, kw) -> (kh, kw, C, F)
            bias = f", np.array({_literal(layer.bias)})" if layer.bias is not None else ""
            lines.append(f"weights.append([np.array({_literal(kernel)}){bias}])")
        elif layer.kind in ("max_pool2d", "avg_pool2d"):
            size = _pair(_option(layer, ("pool_size", "kernel_size"), 2))
            stride_value = _option(layer, ("strides", "stride"), None)
            name = "MaxPooling2D" if layer.kind == "max_pool2d" else "AveragePooling2D"
            strides = size if stride_value is None else _pair(stride_value)
            padding = _option(layer, ("padding",), "valid")
            keras_padding = padding if isinstance(padding, str) else "valid"
            if _pool_extras(layer):
                raise ArgumentError(f"{layer.name}: Keras pools have no {_pool_extras(layer).removeprefix(', ')}; "
                                    "export to PyTorch instead")
            if not isinstance(padding, str) and any(_pair(padding)):
                rows, cols = _pair(padding)
                fill = "-np.inf" if layer.kind == "max_pool2d" else "0.0"  # PyTorch pads a max pool with -inf
                lines.append(f"model_layers.append(layers.Lambda(lambda t: keras.ops.pad(t, [[0, 0], [{rows}, {rows}], "
                             f"[{cols}, {cols}], [0, 0]], constant_values={fill})))  # padding={padding!r}")
                lines.append("weights.append(None)")
            lines.append(f"model_layers.append(layers.{name}({size}, strides={strides}, padding={keras_padding!r}))")
            lines.append("weights.append(None)")
        elif layer.kind == "upsample":
            scale = _pair(_option(layer, ("size", "scale_factor"), 2))
            mode = _option(layer, ("interpolation", "mode"), "nearest")
            if layer.options.get("align_corners"):
                raise ArgumentError(f"{layer.name}: Keras' UpSampling2D has no align_corners=True; export to PyTorch "
                                    "instead")
            lines.append(f"model_layers.append(layers.UpSampling2D({scale}, interpolation={mode!r}))")
            lines.append("weights.append(None)")
        elif layer.kind == "conv_transpose2d":
            assert layer.weight is not None
            kernel = layer.weight.transpose(2, 3, 1, 0)  # (C, F, kh, kw) -> (kh, kw, F, C)
            stride = _pair(_option(layer, ("strides", "stride"), 1))
            extra = _pair(_option(layer, ("output_padding",), 0))
            dilation = _pair(_option(layer, ("dilation", "dilation_rate"), 1))
            lines.append(f"model_layers.append(layers.Conv2DTranspose({layer.weight.shape[1]}, "
                         f"{layer.weight.shape[2:]}, strides={stride}, padding='valid', "
                         f"output_padding={extra if any(extra) else None}, dilation_rate={dilation}, "
                         f"use_bias={layer.bias is not None}{act}))")
            bias = f", np.array({_literal(layer.bias)})" if layer.bias is not None else ""
            lines.append(f"weights.append([np.array({_literal(kernel)}){bias}])")
            crop = _pair(_option(layer, ("padding",), 0))
            if any(crop):
                lines.append(f"model_layers.append(layers.Cropping2D({crop}))")
                lines.append("weights.append(None)")
        elif layer.kind == "flatten":
            lines.append("model_layers.append(layers.Permute((3, 1, 2)))  # flatten in (C, H, W) order, as Kernel Lens")
            lines.append("weights.append(None)")
            lines.append("model_layers.append(layers.Flatten())")
            lines.append("weights.append(None)")
        elif layer.kind == "dense":
            assert layer.weight is not None and layer.bias is not None
            lines.append(f"model_layers.append(layers.Dense({layer.weight.shape[1]}{act}))")
            lines.append(f"weights.append([np.array({_literal(layer.weight)}), np.array({_literal(layer.bias)})])")
        elif layer.kind == "activation" and activation != "leaky_relu":
            lines.append(f"model_layers.append(layers.Activation({layer.options.get('activation', 'relu')!r}))")
            lines.append("weights.append(None)")
        elif layer.kind == "activation":
            pass  # the LeakyReLU layer below
        elif layer.kind == "magnitude":
            lines.append("model_layers.append(layers.Lambda(lambda t: keras.ops.sqrt(keras.ops.sum(t * t, axis=-1, "
                         "keepdims=True))))")
            lines.append("weights.append(None)")
        elif layer.kind == "dropout":
            lines.append(f"model_layers.append(layers.Dropout({float(layer.options.get('rate', 0.5))}))")
            lines.append("weights.append(None)")
        elif layer.kind == "batch_norm":
            arrays = layer.arrays
            lines.append(f"model_layers.append(layers.BatchNormalization("
                         f"momentum={float(layer.options.get('momentum', 0.99))}, "
                         f"epsilon={float(layer.options.get('epsilon', 1e-3))}))")
            values = ", ".join(f"np.array({_literal(arrays[name])})"
                               for name in ("gamma", "beta", "moving_mean", "moving_variance"))
            lines.append(f"weights.append([{values}])")
        else:
            lines.append(f"# {layer.name}: a sum pool has no Keras layer: AveragePooling2D times the window area")
            size = _pair(_option(layer, ("pool_size", "kernel_size"), 2))
            lines.append(f"model_layers.append(layers.AveragePooling2D({size}))")
            lines.append("weights.append(None)")
            lines.append(f"model_layers.append(layers.Rescaling({size[0] * size[1]}))")
            lines.append("weights.append(None)")
        if activation == "leaky_relu":
            slope = float(layer.options.get("negative_slope", 0.01))
            lines.append(f"model_layers.append(layers.LeakyReLU(negative_slope={slope!r}))")
            lines.append("weights.append(None)")
    values = (f"np.array({_literal(image.transpose(1, 2, 0))})" if image.size <= INLINE_VALUES
              else "np.load('kernel-lens-input.npy').transpose(1, 2, 0)  # download " + input_url)
    channels_last = (int(image.shape[1]), int(image.shape[2]), int(image.shape[0]))
    lines += ["", f"x = {values}[None]  # (1, H, W, C)",
              f"model = keras.Sequential([keras.Input({channels_last}), *model_layers])",
              "for layer, values in zip(model.layers, weights):",
              "    if values is not None:",
              "        layer.set_weights(values)",
              "print(model(x).shape)", "model.summary()"]
    return "\n".join(lines) + "\n"
