"""The engine's own error types: an argument it refuses, as distinct from a bug.

``ArgumentError`` is a ``ValueError`` and ``ArgumentTypeError`` a ``TypeError``, so code that catches the
built-in types keeps working; a caller that must tell a user's mistake from a fault in the code (the web
server answers the first with a 422 and the second with a 500) catches these.

>>> from cnn_core import conv2d
>>> try:
...     conv2d([[1.0]], [[1.0]], stride=0)
... except ArgumentError as error:
...     print(error)
stride must be a positive integer, got 0
"""

from __future__ import annotations


class ArgumentError(ValueError):
    """An argument with a value the engine refuses; the message names it and what is allowed."""


class ArgumentTypeError(TypeError):
    """An argument of a type the engine refuses; the message names it and what is allowed."""
