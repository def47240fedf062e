"""Exported PyTorch and Keras code parses; with PyTorch installed, it reproduces Kernel Lens' numbers."""

from __future__ import annotations

import ast
import importlib.util
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from app.export import keras_code, pytorch_code
from cnn_core.chain import Chain

CHAINS = {
    "conv-relu-pool": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": 1, "activation": "relu"},
                       {"type": "max_pool2d", "pool_size": 2}],
    "same-stride2-dense": [{"type": "conv2d", "filters": ["sobel_x", "laplace_4"], "strides": 2, "padding": "same"},
                           {"type": "avg_pool2d", "pool_size": 2}, {"type": "flatten"},
                           {"type": "dense", "units": 5, "activation": "softmax"}],
    "sobel-magnitude": [{"type": "conv2d", "filters": ["sobel_x", "sobel_y"], "padding": 1}, {"type": "magnitude"}],
    "back-up": [{"type": "sum_pool2d", "pool_size": 2}, {"type": "upsample", "size": 2, "interpolation": "bilinear"},
                {"type": "conv_transpose2d", "filters": 2, "kernel_size": 3, "strides": 2, "padding": 1,
                 "output_padding": 1, "activation": "tanh"}],
    "regularised": [{"type": "conv2d", "filters": 3, "kernel_size": 3}, {"type": "batch_norm", "momentum": 0.9},
                    {"type": "dropout", "rate": 0.3}, {"type": "flatten"}, {"type": "dense", "units": 4},
                    {"type": "batch_norm"}, {"type": "dense", "units": 2}],
}
X = np.random.default_rng(9).random((3, 12, 10))


@pytest.mark.parametrize("name", list(CHAINS))
def test_exported_code_parses(name: str) -> None:
    chain = Chain(CHAINS[name], seed=1)
    ast.parse(pytorch_code(chain, X, "/x.npy"))
    ast.parse(keras_code(chain, X, "/x.npy"))


@pytest.mark.parametrize("name", list(CHAINS))
def test_pytorch_code_reproduces_the_numbers(name: str) -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed (a multi-GB download): the code is only parsed")
    chain = Chain(CHAINS[name], seed=1)
    namespace: dict[str, Any] = {}
    exec(compile(pytorch_code(chain, X, "/x.npy"), "exported", "exec"), namespace)
    for ours, theirs in zip(chain.run(X), namespace["outputs"], strict=True):
        assert_allclose(theirs, ours, rtol=1e-10, atol=1e-12)


def test_large_inputs_are_loaded_not_inlined() -> None:
    chain = Chain([{"type": "activation"}])
    code = pytorch_code(chain, np.zeros((3, 64, 64)), "/api/chains/abc/input.npy")
    assert "np.load('kernel-lens-input.npy')" in code and "/api/chains/abc/input.npy" in code


def test_pytorch_code_keeps_trained_batch_norm_statistics() -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed (a multi-GB download): the code is only parsed")
    chain = Chain(CHAINS["regularised"], seed=1)
    chain.build(X.shape)
    rng = np.random.default_rng(3)
    # statistics and scales as training leaves them: every batch-norm array away from its initial value
    chain.set_weights([w + rng.uniform(0.1, 0.5, w.shape) if w.ndim == 1 else w for w in chain.get_weights()])
    namespace: dict[str, Any] = {}
    exec(compile(pytorch_code(chain, X, "/x.npy"), "exported", "exec"), namespace)
    for ours, theirs in zip(chain.run(X), namespace["outputs"], strict=True):
        assert_allclose(theirs, ours, rtol=1e-10, atol=1e-12)
    assert "layers.BatchNormalization(momentum=0.9, epsilon=0.001)" in keras_code(chain, X, "/x.npy")
