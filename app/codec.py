"""The compact binary form of a frame batch (documented in docs/frames-binary.md).

    bytes 0-3   b"KLF1"
    bytes 4-7   header length N, uint32 little-endian (N is a multiple of 8)
    bytes 8..   UTF-8 JSON header, padded with spaces: {"start", "count", "total", ...,
                "fields": [{"name", "dtype" ("f4", "f8", "i4" or "i2"), "shape", "offset"}]}
    then        the field blocks, little-endian, C order; ``offset`` counts from the end of the
                header and is a multiple of 8, so a browser can view each block as a typed array;
                "i2" (int16) holds the palette indices of the numbers the step panel colours.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from app.display import frame_colors
from cnn_core.errors import ArgumentError

if TYPE_CHECKING:
    from app.runs import Run

MAGIC = b"KLF1"
JSON_NUMBER_BYTES = 25  # the longest float64 repr ("-2.2250738585072014e-308") and its comma


def run_batch(run: Run, start: int, stop: int) -> dict[str, Any]:
    """Frames start..stop-1 of a run as the page gets them (JSON or KLF1): the engine's fields and, for each
    number the step panel tints, its palette index on the run's scale (``<field>_color``, app.display)."""
    batch = run.prepared.frames.batch(start, stop)
    return {**batch, **frame_colors(batch, run.scales)}


def frame_bytes(one_frame: dict[str, Any], format: str, precision: int = 32) -> int:
    """At most how many bytes each frame adds to a message, from a batch of one frame (fields have fixed shapes)."""
    arrays = [np.asarray(values) for values in one_frame.values()]
    numbers = sum(int(array.size) for array in arrays)
    if format == "json":
        return numbers * JSON_NUMBER_BYTES + sum(len(name) + 8 for name in one_frame) + 2
    return max(sum(array.size * (2 if array.dtype == np.int16 else 8 if precision == 64 else 4) for array in arrays), 1)


def _align(size: int) -> int:
    return -(-size // 8) * 8


def encode_batch(batch: dict[str, Any], meta: dict[str, Any], precision: int = 32) -> bytes:
    """Pack a ``FrameSequence.batch`` dict; floats as float32 (or float64 with precision=64), int16 (colour
    indices) as int16, other ints as int32."""
    float_type = "<f4" if precision == 32 else "<f8"
    fields, blocks, offset = [], [], 0
    for name, values in batch.items():
        array = np.asarray(values)
        kind = "<i2" if array.dtype == np.int16 else "<i4" if array.dtype.kind in "iub" else float_type
        block = np.ascontiguousarray(array, dtype=kind)
        fields.append({"name": name, "dtype": block.dtype.str[1:], "shape": list(block.shape), "offset": offset})
        padded = _align(block.nbytes)
        blocks.append(block.tobytes() + b"\0" * (padded - block.nbytes))
        offset += padded
    header = json.dumps({**meta, "fields": fields}, separators=(",", ":")).encode()
    header += b" " * (_align(len(header)) - len(header))
    return b"".join([MAGIC, struct.pack("<I", len(header)), header, *blocks])


def decode_batch(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray[Any, Any]]]:
    """Unpack :func:`encode_batch`'s bytes into (header, {name: array}); a reference for clients."""
    if data[:4] != MAGIC:
        raise ArgumentError("not a Kernel Lens frame batch: missing the KLF1 magic")
    (length,) = struct.unpack("<I", data[4:8])
    header = json.loads(data[8:8 + length])
    base = 8 + length
    arrays = {}
    for field in header["fields"]:
        dtype = np.dtype("<" + field["dtype"])
        count = int(np.prod(field["shape"], dtype=np.int64))
        start = base + field["offset"]
        arrays[field["name"]] = np.frombuffer(data, dtype, count, start).reshape(field["shape"])
    return header, arrays


def decode_batches(data: bytes) -> Iterator[tuple[dict[str, Any], dict[str, np.ndarray[Any, Any]]]]:
    """Unpack KLF1 messages sent back to back (a large HTTP range arrives as several)."""
    while data:
        header, arrays = decode_batch(data)
        (length,) = struct.unpack("<I", data[4:8])
        end = max((field["offset"] + _align(arrays[field["name"]].nbytes) for field in header["fields"]), default=0)
        yield header, arrays
        data = data[8 + length + end:]
