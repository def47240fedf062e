"""A chain of layers in Keras' vocabulary, run and trained with the engine's ops and gradients.

>>> chain = Chain([{"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
...                {"type": "max_pool2d", "pool_size": 2}])
>>> [(row["layer"], row["output_shape"], row["params"]) for row in chain.summary((1, 28, 28))]
[('conv2d', (32, 26, 26), 320), ('max_pool2d', (32, 13, 13), 0)]
"""

from __future__ import annotations

import html
import json
import os
from importlib import resources
from typing import Any

import numpy as np

from cnn_core import _fit, _layers
from cnn_core._checks import FloatArray, as_maps, compute_dtype
from cnn_core._dense import check_labels, cross_entropy, softmax
from cnn_core._layers import ACTIVATIONS, LAYER_TYPES, Cache, Layer
from cnn_core.errors import ArgumentError, ArgumentTypeError
from cnn_core.grad import cross_entropy_backward

__all__ = ["ACTIVATIONS", "LAYER_TYPES", "MNIST_LAYERS", "Chain", "FitOptions", "History", "Layer",
           "check_fit_options", "pretrained"]
History = _fit.History
FitOptions = _fit.FitOptions
check_fit_options = _fit.check_fit_options

# The classic Keras MNIST network (93,322 parameters), the chain `pretrained("mnist")` trains.
MNIST_LAYERS: list[dict[str, Any]] = [
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 64, "activation": "relu"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]
_FORMAT = "kernel-lens-chain/1"


class Chain:
    """An ordered list of layers (plain dicts); weights are the given kernels or seeded Glorot-uniform ones.

    Parameters
    ----------
    layers : list of dicts with a "type" in LAYER_TYPES, e.g. ``{"type": "conv2d", "filters": 8, "kernel_size": 3}``.
        conv2d / conv_transpose2d: ``filters`` (int, or a list of catalogue names / 2-D kernels), ``kernel_size``,
        ``strides`` (or ``stride``), ``padding`` (int, "valid", "same", "full"), ``dilation``, ``use_bias``,
        ``activation``. Pools: ``pool_size``, ``strides``, ``padding``. upsample: ``size``, ``interpolation``
        ("nearest" / "bilinear"). activation: ``activation``. dense: ``units``, ``activation``.
        magnitude: ``sqrt(sum over channels of x**2)``, one map (Sobel x and y -> edge strength).
        dropout: ``rate``. batch_norm: ``momentum`` (0.99), ``epsilon`` (1e-3), per channel or per unit.
    seed : seeds the random (Glorot-uniform) weights, so the same chain always starts from the same numbers.
    max_weights : the most weights one layer may have (checked before any is made).

    Raises ValueError naming the layer (1-based) for an unknown type, option or a shape that does not fit.
    """

    def __init__(self, layers: list[dict[str, Any]], seed: int = 0, max_weights: int = 20_000_000) -> None:
        if not isinstance(layers, list) or not layers:
            raise ArgumentError("layers must be a non-empty list of dicts")
        for index, layer in enumerate(layers, start=1):
            _layers.check_spec(index, layer)
        self.specs = [dict(layer) for layer in layers]
        self.seed = seed
        self.max_weights = max_weights
        self._built_for: tuple[int, ...] | None = None
        self.layers: list[Layer] = []

    def __repr__(self) -> str:
        kinds = ", ".join(spec["type"] for spec in self.specs)
        if self._built_for is None:
            return f"Chain([{kinds}], seed={self.seed}, not built)"
        params = sum(layer.params for layer in self.layers)
        return (f"Chain([{kinds}], input_shape={self._built_for}, output_shape={self.layers[-1].output_shape}, "
                f"params={params:,})")

    def _repr_html_(self) -> str:
        """The summary table, as Jupyter shows it (built chains only)."""
        if self._built_for is None:
            return f"<pre>{html.escape(repr(self))}</pre>"
        rows = "".join(f"<tr><td>{html.escape(layer.name)}</td><td>{layer.output_shape}</td>"
                       f"<td style='text-align:right'>{layer.params:,}</td></tr>" for layer in self.layers)
        total = sum(layer.params for layer in self.layers)
        return (f"<table><thead><tr><th>Layer</th><th>Output shape</th><th>Param #</th></tr></thead>"
                f"<tbody>{rows}</tbody><tfoot><tr><td colspan='2'>input {self._built_for}, total</td>"
                f"<td style='text-align:right'>{total:,}</td></tr></tfoot></table>")

    def build(self, input_shape: tuple[int, ...]) -> list[Layer]:
        """Resolve every layer's weights and check the shapes fit, for a (C, H, W) input."""
        shape = tuple(int(v) for v in input_shape)
        if self._built_for == shape:
            return self.layers
        if len(shape) != 3 or min(shape) < 1:
            raise ArgumentError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}")
        rng = np.random.default_rng(self.seed)
        counts: dict[str, int] = {}
        layers = []
        for index, spec in enumerate(self.specs, start=1):
            kind = spec["type"]
            name = kind if kind not in counts else f"{kind}_{counts[kind]}"
            counts[kind] = counts.get(kind, 0) + 1
            layer = Layer(name, kind, spec)
            try:
                shape = _layers.resolve(layer, shape, rng, self.max_weights)
            except (ArgumentError, ArgumentTypeError) as error:
                raise ArgumentError(f"layer {index} ({kind}): {error}") from None
            layer.output_shape = tuple(int(v) for v in shape)
            layers.append(layer)
        self.layers, self._built_for = layers, tuple(int(v) for v in input_shape)
        return layers

    def summary(self, input_shape: tuple[int, ...]) -> list[dict[str, Any]]:
        """Keras' model.summary() as rows: ``{"layer", "output_shape", "params"}`` (shapes channel-first)."""
        return [{"layer": layer.name, "output_shape": layer.output_shape, "params": layer.params}
                for layer in self.build(tuple(input_shape))]

    def total_params(self, input_shape: tuple[int, ...]) -> int:
        """All parameters of the chain for this input shape."""
        return sum(row["params"] for row in self.summary(input_shape))

    def forward(self, x: FloatArray, training: bool = False,
                rng: np.random.Generator | None = None) -> tuple[FloatArray, list[Cache]]:
        """Run a built chain on a (N, C, H, W) batch; returns the last layer's logits (a final softmax is left
        to the loss) and what each layer kept for :meth:`backward`."""
        caches = []
        current = x
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            current, cache = _layers.forward(layer, current, training, rng, fold_softmax=index == last)
            caches.append(cache)
        return current, caches

    def backward(self, grad_logits: FloatArray, caches: list[Cache]) -> list[FloatArray]:
        """Gradients of the loss for every trainable array (the order of :meth:`trainable_arrays`)."""
        grads: list[list[FloatArray]] = []
        current = grad_logits
        last = len(self.layers) - 1
        for index in range(last, -1, -1):
            layer = self.layers[index]
            gradient, named = _layers.backward(layer, current, caches[index], index == last, need_input=index > 0)
            grads.append([named[name] for name in layer.trainable])
            if gradient is None:  # the first layer's input needs no gradient
                break
            current = gradient
        return [array for layer_grads in reversed(grads) for array in layer_grads]

    def trainable_arrays(self) -> list[FloatArray]:
        """The arrays an optimizer updates in place: kernels, biases, batch-norm gamma and beta, in layer order."""
        return [layer.arrays[name] for layer in self.layers for name in layer.trainable]

    def loss_and_gradients(self, x: Any, y: Any, training: bool = True,
                           seed: int = 0) -> tuple[float, list[FloatArray]]:
        """The mean cross-entropy of a batch and its gradient for every trainable array (no update made).

        ``training`` uses batch statistics and dropout (its masks drawn from ``seed``), as one step of fit.
        """
        values, targets = _fit.check_data(x, y)
        self.prepare_training(values.shape[1:], values.dtype)
        logits, caches = self.forward(values, training, np.random.default_rng(seed))
        labels = check_labels(targets, len(values), self.layers[-1].output_shape[0], "y")
        grads = self.backward(cross_entropy_backward(logits, labels), caches)
        return cross_entropy(logits, labels), grads

    def prepare_training(self, input_shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        """Build for ``input_shape`` (keeping weights already made for it), check the chain ends in a dense
        layer, and hold every array in ``dtype`` (training updates them in place)."""
        self.build(tuple(input_shape))
        if self.layers[-1].kind != "dense":
            raise ArgumentError(f"the last layer must be dense (the class scores) to train or predict, got "
                                f"{self.layers[-1].kind!r}")
        for layer in self.layers:
            for name, array in layer.arrays.items():
                if array.dtype != dtype:
                    layer.arrays[name] = array.astype(dtype)

    def fit(self, x: Any, y: Any, epochs: int = 1, batch_size: int = 32, optimizer: Any = "rmsprop",
            learning_rate: float = 0.001, validation_split: float = 0.0, validation_data: Any = None,
            shuffle: bool = True, seed: int = 0, augment: dict[str, float] | None = None,
            early_stopping: dict[str, Any] | None = None, callback: _fit.Callback | None = None) -> _fit.History:
        """Train on ``x`` (N, C, H, W) and integer labels ``y`` (N,) with cross-entropy on the last dense layer.

        Keras' ``model.fit`` semantics: ``optimizer`` is "sgd", "rmsprop", "adam" or a :mod:`cnn_core.optim`
        object (``learning_rate`` applies to a name); ``validation_split`` holds out the last fraction of x
        before shuffling; ``augment`` is a dict of ``shift`` (pixels), ``rotate`` (degrees), ``noise`` (std);
        ``early_stopping`` is ``{"monitor": "val_loss", "patience": 2, "restore_best_weights": True}`` (and
        ``min_delta``); ``callback(event)`` is called after every batch (``epoch``, ``batch``, ``batches``,
        running ``loss`` and ``accuracy``) and every epoch (``end_of_epoch``: True, the epoch's logs and, with
        validation data, ``val_probabilities``, the (N, K) class probabilities ``predict`` would give on it);
        returning False stops training. The chain trains in x's dtype; a built chain continues from its weights.
        The same ``seed`` (shuffling, dropout masks, augmentation) gives the same weights bit for bit.

        Returns
        -------
        History
            ``history.history``: per-epoch ``loss``, ``accuracy`` (means over the epoch's samples, each batch
            measured before its update) and ``val_loss``, ``val_accuracy`` with validation data.

        Raises
        ------
        ValueError, TypeError
            For bad data or arguments, or when training diverges (NaN or infinity: the error names the epoch and
            batch, and the last finite weights are kept).
        """
        return _fit.fit(self, x, y, epochs, batch_size, optimizer, learning_rate, validation_split, validation_data,
                        shuffle, seed, augment, early_stopping, callback)

    def _logits(self, x: Any, batch_size: int) -> FloatArray:
        values, rank = as_maps(x)
        if rank != 4:
            raise ArgumentError(f"x must be a (N, C, H, W) batch, got shape {np.shape(x)}")
        self.prepare_training(values.shape[1:], values.dtype)
        parts = [self.forward(values[start:start + batch_size])[0] for start in range(0, len(values), batch_size)]
        return np.concatenate(parts)

    def predict(self, x: Any, batch_size: int = 256) -> FloatArray:
        """Class probabilities (N, K): the softmax of the last dense layer's logits, for a (N, C, H, W) batch."""
        return softmax(self._logits(x, batch_size), axis=1)

    def evaluate(self, x: Any, y: Any, batch_size: int = 256) -> dict[str, float]:
        """``{"loss": mean cross-entropy, "accuracy": fraction right}`` on (N, C, H, W) ``x`` and labels ``y``."""
        return self._evaluated(x, y, batch_size)[0]

    def _evaluated(self, x: Any, y: Any, batch_size: int = 256) -> tuple[dict[str, float], FloatArray]:
        """:meth:`evaluate`'s scores and the logits they came from (fit reports the validation probabilities)."""
        values, targets = _fit.check_data(x, y)
        logits = self._logits(values, batch_size)
        labels = check_labels(targets, len(values), logits.shape[1], "y")
        scores = {"loss": cross_entropy(logits, labels), "accuracy": float((logits.argmax(axis=1) == labels).mean())}
        return scores, logits

    def run(self, x: Any) -> list[FloatArray]:
        """Every layer's output for one input ``x`` ((C, H, W) or (H, W)), in order (a softmax layer gives
        probabilities)."""
        values, rank = as_maps(x)
        if rank == 4:
            raise ArgumentError(f"x must be one (C, H, W) or (H, W) input, got the batch shape {np.shape(x)}")
        outputs: list[FloatArray] = []
        current = values
        for layer in self.build(values.shape[1:]):
            current, _ = _layers.forward(layer, current, False, None)
            outputs.append(current[0])
        return outputs

    def get_weights(self) -> list[FloatArray]:
        """Copies of every array in layer order, Keras' order within a layer (kernel, bias; gamma, beta,
        moving mean, moving variance), each in the layout the layer computes with."""
        self._require_built()
        return [array.copy() for layer in self.layers for array in layer.arrays.values()]

    def set_weights(self, weights: list[Any]) -> None:
        """Replace every array (the list :meth:`get_weights` gives); shapes must match exactly."""
        self._require_built()
        slots = [(layer, name) for layer in self.layers for name in layer.arrays]
        if not isinstance(weights, list | tuple) or len(weights) != len(slots):
            raise ArgumentError(f"weights must be a list of {len(slots)} arrays (get_weights() order), got "
                                f"{len(weights) if isinstance(weights, list | tuple) else type(weights).__name__}")
        for (layer, name), value in zip(slots, weights, strict=True):
            array = np.asarray(value)
            if array.shape != layer.arrays[name].shape or array.dtype.kind not in "fiu":
                raise ArgumentError(f"{layer.name} {name} must be a {layer.arrays[name].shape} array of numbers, "
                                    f"got {array.shape} ({array.dtype})")
            if not np.isfinite(array).all():
                raise ArgumentError(f"{layer.name} {name} must contain only finite numbers")
        for (layer, name), value in zip(slots, weights, strict=True):  # floats keep their precision
            array = np.asarray(value)
            layer.arrays[name] = np.array(array, dtype=compute_dtype(array, name))

    def _require_built(self) -> None:
        if self._built_for is None:
            raise ArgumentError("the chain has no weights yet: call build(input_shape) or fit first")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write one ``.npz``: the layer configuration (JSON), the input shape and every array."""
        self._require_built()
        config = {"format": _FORMAT, "layers": self.specs, "seed": self.seed, "input_shape": self._built_for}
        text = json.dumps(config, default=_jsonable)
        arrays = {f"array{i}": array for i, array in enumerate(self.get_weights())}
        np.savez_compressed(path, config=np.frombuffer(text.encode(), dtype=np.uint8), **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Any) -> Chain:
        """Restore a chain written by :meth:`save` (never unpickles: ``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as stored:
            if "config" not in stored.files:
                raise ArgumentError(f"{path} is not a saved chain (no config)")
            config = json.loads(stored["config"].tobytes().decode())
            if config.get("format") != _FORMAT:
                raise ArgumentError(f"{path} is not a saved chain of this version (format {config.get('format')!r})")
            weights = [stored[f"array{i}"] for i in range(len(stored.files) - 1)]
        chain = cls(config["layers"], seed=config["seed"])
        chain.build(tuple(config["input_shape"]))
        chain.set_weights(weights)
        return chain


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise ArgumentTypeError(f"layer options must be JSON numbers, strings, lists or dicts, got {type(value).__name__}")


def pretrained(name: str = "mnist") -> Chain:
    """A trained chain shipped with the package: ``"mnist"``, the classic Keras MNIST network (93,322
    parameters) trained by ``scripts/train_pretrained.py`` on :func:`cnn_core.datasets.load_digits`' training
    part (input (1, 28, 28) in [0, 1]; float32 weights).

    >>> pretrained("mnist").total_params((1, 28, 28))
    93322
    """
    if name != "mnist":
        raise ArgumentError(f"name must be 'mnist' (the only pretrained chain), got {name!r}")
    with resources.files("cnn_core.data").joinpath("mnist_chain.npz").open("rb") as handle:
        return Chain.load(handle)
