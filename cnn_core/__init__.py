"""Kernel Lens' engine: exact NumPy convolution, pooling, up-sampling, kernels, images and frames.

The public API is documented in ``docs/engine.md`` and ``docs/training.md``: PyTorch's
``torch.nn.functional`` semantics on channel-first ``(C, H, W)`` arrays and ``(N, C, H, W)`` batches;
training lives in the submodules ``chain``, ``grad``, ``optim`` and ``datasets``. No web code, no torch,
no OpenCV.
"""

from cnn_core.frames import (
    avg_pool2d_frames,
    conv2d_frames,
    conv_transpose2d_frames,
    max_pool2d_frames,
    sum_pool2d_frames,
    upsample_frames,
)
from cnn_core.geometry import conv_output_size, conv_transpose_output_size, pool_output_size
from cnn_core.imageio import load_image, to_display
from cnn_core.kernels import get_kernel, list_kernels, parse_kernel
from cnn_core.ops import (
    avg_pool2d,
    conv2d,
    conv_transpose2d,
    cross_entropy,
    dropout,
    leaky_relu,
    linear,
    log_softmax,
    max_pool2d,
    relu,
    sigmoid,
    softmax,
    sum_pool2d,
    tanh,
    upsample,
)

__version__ = "0.1.0"  # the one version number: pyproject.toml and app.__version__ read it here

__all__ = [
    "__version__",
    "avg_pool2d",
    "avg_pool2d_frames",
    "conv2d",
    "conv2d_frames",
    "conv_output_size",
    "conv_transpose2d",
    "conv_transpose2d_frames",
    "conv_transpose_output_size",
    "cross_entropy",
    "dropout",
    "get_kernel",
    "leaky_relu",
    "linear",
    "list_kernels",
    "load_image",
    "log_softmax",
    "max_pool2d",
    "max_pool2d_frames",
    "parse_kernel",
    "pool_output_size",
    "relu",
    "sigmoid",
    "softmax",
    "sum_pool2d",
    "sum_pool2d_frames",
    "tanh",
    "to_display",
    "upsample",
    "upsample_frames",
]
