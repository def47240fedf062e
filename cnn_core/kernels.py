"""The kernel catalogue, and a parser for kernels typed by a user (parsed, never evaluated)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from cnn_core._checks import FloatArray, is_int
from cnn_core.errors import ArgumentError, ArgumentTypeError

MAX_KERNEL_SIDE = 15

IDENTITY = ((0, 0, 0), (0, 1, 0), (0, 0, 0))
SOBEL_X = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))
SCHARR_X = ((-3, 0, 3), (-10, 0, 10), (-3, 0, 3))
PREWITT_X = ((-1, 0, 1), (-1, 0, 1), (-1, 0, 1))
LAPLACE_4 = ((0, 1, 0), (1, -4, 1), (0, 1, 0))
LAPLACE_8 = ((1, 1, 1), (1, -8, 1), (1, 1, 1))
SHARPEN = ((0, -1, 0), (-1, 5, -1), (0, -1, 0))
EMBOSS = ((-2, -1, 0), (-1, 1, 1), (0, 1, 2))
OUTLINE = ((-1, -1, -1), (-1, 8, -1), (-1, -1, -1))


def _size(params: dict[str, Any], default: int) -> int:
    size = params.get("size", default)
    if not is_int(size):
        raise ArgumentTypeError(f"size must be an odd int from 1 to {MAX_KERNEL_SIDE}, got {size!r}")
    if not (1 <= int(size) <= MAX_KERNEL_SIDE and int(size) % 2 == 1):
        raise ArgumentError(f"size must be an odd int from 1 to {MAX_KERNEL_SIDE}, got {size!r}")
    return int(size)


def _sigma(params: dict[str, Any], default: float) -> float:
    sigma = params.get("sigma", default)
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not math.isfinite(sigma):
        raise ArgumentTypeError(f"sigma must be a number from 0.1 to 10, got {sigma!r}")
    if not 0.1 <= sigma <= 10:
        raise ArgumentError(f"sigma must be a number from 0.1 to 10, got {sigma!r}")
    return float(sigma)


def gaussian_1d(size: int, sigma: float) -> FloatArray:
    """OpenCV's ``getGaussianKernel(size, sigma)`` for sigma > 0: sampled, normalised to sum 1."""
    offsets = np.arange(size) - (size - 1) / 2
    values = np.exp(-(offsets**2) / (2 * sigma**2))
    return values / values.sum()  # type: ignore[no-any-return]


def _gaussian(params: dict[str, Any]) -> FloatArray:
    line = gaussian_1d(_size(params, 5), _sigma(params, 1.0))
    return np.outer(line, line)


def _log(params: dict[str, Any]) -> FloatArray:
    size, sigma = _size(params, 7), _sigma(params, 1.0)
    offsets = np.arange(size) - (size - 1) / 2
    squared = (offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2)
    values = -(1 - squared) * np.exp(-squared) / (math.pi * sigma**4)
    return values - values.mean()  # type: ignore[no-any-return]


def _box(params: dict[str, Any]) -> FloatArray:
    size = _size(params, 3)
    return np.full((size, size), 1.0 / (size * size))


@dataclass(frozen=True)
class KernelSpec:
    """A catalogue entry: how to make the array, a learner's description, default parameters."""

    make: Callable[[dict[str, Any]], FloatArray]
    description: str
    params: dict[str, Any]


def _fixed(values: tuple[tuple[int, ...], ...], transpose: bool = False) -> Callable[[dict[str, Any]], FloatArray]:
    array = np.array(values, dtype=np.float64)
    return lambda params: (array.T if transpose else array).copy()


CATALOGUE: dict[str, KernelSpec] = {
    "identity": KernelSpec(_fixed(IDENTITY), "Copies each pixel unchanged: a 1 in the centre, 0 elsewhere.", {}),
    "sobel_x": KernelSpec(_fixed(SOBEL_X), "Finds vertical edges: positive where the image gets brighter "
                          "from left to right.", {}),
    "sobel_y": KernelSpec(_fixed(SOBEL_X, True), "Finds horizontal edges: positive where the image gets "
                          "brighter from top to bottom.", {}),
    "scharr_x": KernelSpec(_fixed(SCHARR_X), "Like Sobel x with weights chosen so edges at every angle "
                           "respond more evenly.", {}),
    "scharr_y": KernelSpec(_fixed(SCHARR_X, True), "Like Sobel y with weights chosen so edges at every angle "
                           "respond more evenly.", {}),
    "prewitt_x": KernelSpec(_fixed(PREWITT_X), "Finds vertical edges by subtracting the left column from the "
                            "right one, all rows weighted equally.", {}),
    "prewitt_y": KernelSpec(_fixed(PREWITT_X, True), "Finds horizontal edges by subtracting the top row from "
                            "the bottom one.", {}),
    "laplace_4": KernelSpec(_fixed(LAPLACE_4), "Second derivative: responds to edges and fine detail in every "
                            "direction, zero on flat areas and steady slopes.", {}),
    "laplace_8": KernelSpec(_fixed(LAPLACE_8), "Second derivative including the diagonals: stronger, more "
                            "isotropic response to edges and noise.", {}),
    "gaussian": KernelSpec(_gaussian, "Smooths the image with a bell-shaped weighted average; a larger sigma "
                           "blurs more.", {"size": 5, "sigma": 1.0}),
    "log": KernelSpec(_log, "Laplacian of Gaussian: blurs first, then takes the second derivative, so it finds "
                      "edges without amplifying noise.", {"size": 7, "sigma": 1.0}),
    "box_blur": KernelSpec(_box, "Replaces each pixel with the plain average of its neighbourhood.", {"size": 3}),
    "sharpen": KernelSpec(_fixed(SHARPEN), "Adds the difference from the neighbours back to each pixel, so "
                          "edges look crisper.", {}),
    "emboss": KernelSpec(_fixed(EMBOSS), "Makes the image look raised or carved, lit from the top left.", {}),
    "outline": KernelSpec(_fixed(OUTLINE), "Keeps only outlines: bright where a pixel differs from all eight "
                          "neighbours.", {}),
}


def get_kernel(name: str, **params: Any) -> FloatArray:
    """A catalogue kernel as a float64 (kh, kw) array.

    Parameters
    ----------
    name : one of ``[entry["name"] for entry in list_kernels()]``
    **params : ``size`` (odd, 1..15) and ``sigma`` (0.1..10) for "gaussian" and "log"; ``size`` for "box_blur"

    Raises
    ------
    ValueError
        Unknown name or a parameter out of range. TypeError for an unknown parameter.

    >>> get_kernel("sobel_x")
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    """
    spec = CATALOGUE.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ArgumentError(f"name must be one of {', '.join(CATALOGUE)}, got {name!r}")
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(spec.params) or "no parameters"
        raise ArgumentTypeError(f"kernel {name!r} takes {allowed}, got unexpected {', '.join(unknown)}")
    return spec.make(params)


def list_kernels() -> list[dict[str, Any]]:
    """The catalogue: dicts with ``name``, ``description``, ``params`` (defaults) and ``kernel`` (nested lists).

    >>> list_kernels()[1]["name"]
    'sobel_x'
    """
    return [
        {"name": name, "description": spec.description, "params": dict(spec.params),
         "kernel": spec.make(dict(spec.params)).tolist()}
        for name, spec in CATALOGUE.items()
    ]


class KernelParseError(ArgumentError):
    """A typed kernel could not be read; ``row`` and ``column`` (1-based) point at the culprit when known."""

    def __init__(self, message: str, row: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column


_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(rf"^({_NUMBER})(?:/({_NUMBER}))?$")
_MAX_TEXT = 100_000
_MAX_DIGITS = 40  # digits of one number (before its exponent): exact fractions stay cheap
_MAX_EXPONENT = 999  # far beyond float64's range either way; bounds the size of the Fraction arithmetic


def _check_bounds(part: str, row: int, column: int) -> None:
    """Refuse a number whose digits or exponent would make exact (Fraction) arithmetic expensive."""
    mantissa, _, exponent = part.lower().partition("e")
    digits = sum(character.isdigit() for character in mantissa)
    if digits > _MAX_DIGITS:
        raise KernelParseError(f"row {row}, column {column}: a number may have at most {_MAX_DIGITS} digits, "
                               f"got {digits}", row, column)
    magnitude = exponent.lstrip("+-").lstrip("0") or "0"
    if len(magnitude) > len(str(_MAX_EXPONENT)) or int(magnitude) > _MAX_EXPONENT:
        sign = "-" if exponent.startswith("-") else ""
        shown = magnitude if len(magnitude) <= 10 else magnitude[:10] + "..."
        raise KernelParseError(f"row {row}, column {column}: exponents must be from -{_MAX_EXPONENT} to "
                               f"{_MAX_EXPONENT}, got {sign}{shown}", row, column)


def _parse_number(token: str, row: int, column: int) -> float:
    match = _TOKEN.match(token)
    if match is None:
        shown = token if len(token) <= 20 else token[:20] + "..."
        raise KernelParseError(
            f"row {row}, column {column}: {shown!r} is not a number (write decimals like -0.5, "
            f"or fractions like 1/9)", row, column)
    numerator, denominator = match.groups()
    for part in (numerator, denominator or ""):
        _check_bounds(part, row, column)
    try:
        value = float(Fraction(numerator) / Fraction(denominator)) if denominator else float(numerator)
    except ZeroDivisionError:
        raise KernelParseError(f"row {row}, column {column}: {token!r} divides by zero", row, column) from None
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise KernelParseError(f"row {row}, column {column}: {token!r} is too large to be a finite number",
                               row, column)
    return value


def _numbers(count: int) -> str:
    return f"{count} number" if count == 1 else f"{count} numbers"


def parse_kernel(text: str, max_side: int = MAX_KERNEL_SIDE) -> FloatArray:
    """Read a user-typed kernel into a float64 (kh, kw) array.

    Rows are separated by newlines or ``;``, numbers by spaces or commas. Decimals, negatives,
    exponents and fractions (``1/9``) are accepted; nothing is evaluated.

    Raises
    ------
    KernelParseError (a ValueError)
        Empty input, ragged rows, a token that is not a number, a number with more than 40 digits
        or an exponent beyond +-999 (checked before any arithmetic), a non-finite value, or more
        than ``max_side`` x ``max_side`` (15x15 by default; larger for typed input matrices).
        Its ``row`` and ``column`` attributes (1-based) say where, when it is one place.

    >>> parse_kernel("1 0 -1; 2, 0, -2; 1/2 0 -1/2")
    array([[ 1. ,  0. , -1. ],
           [ 2. ,  0. , -2. ],
           [ 0.5,  0. , -0.5]])
    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"text must be a string, got {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise KernelParseError(f"text must be at most {_MAX_TEXT} characters, got {len(text)}")
    lines = [line.strip() for line in re.split(r"[;\n]", text.replace("\r", "\n"))]
    lines = [line for line in lines if line]
    if not lines:
        raise KernelParseError("the kernel is empty: type rows of numbers, e.g. '1 0 -1; 2 0 -2; 1 0 -1'")
    if len(lines) > max_side:
        raise KernelParseError(f"a kernel has at most {max_side} rows, got {len(lines)}")
    rows: list[list[float]] = []
    for row_number, line in enumerate(lines, start=1):
        tokens = [token for token in re.split(r"[\s,]+", line) if token]
        if len(tokens) > max_side:
            raise KernelParseError(f"row {row_number}: a kernel has at most {max_side} columns, "
                                   f"got {len(tokens)}", row_number)
        rows.append([_parse_number(token, row_number, column) for column, token in enumerate(tokens, start=1)])
        if len(rows[-1]) != len(rows[0]):
            raise KernelParseError(f"row {row_number} has {_numbers(len(rows[-1]))} but row 1 has {len(rows[0])}: "
                                   f"every row needs the same count", row_number,
                                   min(len(rows[-1]), len(rows[0])) + 1)
    return np.array(rows, dtype=np.float64)
