"""Kernel Lens' web app: a FastAPI server around the cnn_core engine."""

from cnn_core import __version__ as __version__  # the one version number (pyproject.toml reads it there too)
