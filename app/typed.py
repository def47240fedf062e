"""Typed matrices with several channels: blocks of rows separated by a blank line, each read by
:func:`cnn_core.parse_kernel`. A refusal names the channel, and its ``row`` (1-based among every
non-empty row of the text, as a text box counts them) and ``column`` point at the culprit."""

from __future__ import annotations

import re

import numpy as np

from cnn_core import parse_kernel
from cnn_core._checks import FloatArray
from cnn_core.kernels import KernelParseError

MAX_CHANNELS = 16
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_ROW = re.compile(r"[;\n]")


def _rows(block: str) -> int:
    return sum(1 for line in _ROW.split(block) if line.strip())


def split_blocks(text: str) -> list[str]:
    """The text's blocks of rows (a blank line, or several, between blocks)."""
    return [block for block in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n")) if block.strip()]


def parse_blocks(text: str, max_side: int, what: str = "channel",
                 max_blocks: int = MAX_CHANNELS) -> list[FloatArray]:
    """Every block of ``text`` as a (rows, cols) array, each at most ``max_side`` a side.

    Raises KernelParseError naming the block ("channel 2: row 3, column 1: ...") with the text-wide
    row; more than ``max_blocks`` blocks is refused before any number is read."""
    blocks = split_blocks(text)
    if len(blocks) > max_blocks:
        raise KernelParseError(f"a typed matrix has at most {max_blocks} {what}s (blocks separated by a blank "
                               f"line), got {len(blocks)}")
    if len(blocks) <= 1:
        return [parse_kernel(text, max_side=max_side)]
    parsed, offset = [], 0
    for number, block in enumerate(blocks, start=1):
        try:
            parsed.append(parse_kernel(block, max_side=max_side))
        except KernelParseError as error:
            row = None if error.row is None else error.row + offset
            raise KernelParseError(f"{what} {number}: {error}", row, error.column) from None
        if parsed[-1].shape != parsed[0].shape:
            (h, w), (h0, w0) = parsed[-1].shape, parsed[0].shape
            raise KernelParseError(f"{what} {number} is {h}x{w} but {what} 1 is {h0}x{w0}: every {what} needs "
                                   f"the same rows and columns", offset + 1)
        offset += _rows(block)
    return parsed


def parse_matrix(text: str, max_side: int) -> FloatArray:
    """A typed input: (H, W) for one block of rows, (C, H, W) for C blocks separated by blank lines.

    >>> parse_matrix("1 2; 3 4", 8).shape, parse_matrix("1 2\\n3 4\\n\\n5 6\\n7 8", 8).shape
    ((2, 2), (2, 2, 2))
    """
    blocks = parse_blocks(text, max_side)
    return blocks[0] if len(blocks) == 1 else np.stack(blocks)
