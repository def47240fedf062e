"""Kernel Lens' web app: a FastAPI server around the cnn_core engine."""

__version__ = "0.1.0"
