"""The kernel catalogue and the parser for typed kernels."""

from __future__ import annotations

from fastapi import APIRouter

from app.schemas import ErrorBody, KernelEntry, ParsedKernel, ParseRequest
from app.typed import parse_blocks
from cnn_core import list_kernels
from cnn_core.kernels import MAX_KERNEL_SIDE

router = APIRouter(prefix="/api/kernels", tags=["kernels"])
CATALOGUE = [KernelEntry(**entry) for entry in list_kernels()]
MAX_BLOCKS = 64  # kernels in one typed text: filters x input channels


@router.get("", response_model=list[KernelEntry])
async def kernels() -> list[KernelEntry]:
    """Every catalogue kernel with a one-sentence description, default parameters and values."""
    return CATALOGUE


@router.post("/parse", response_model=ParsedKernel, response_model_exclude_none=True,
             responses={422: {"model": ErrorBody}})
async def parse(body: ParseRequest) -> ParsedKernel:
    """Read a typed kernel (rows by newline or ';', numbers by space or ','; fractions like 1/9).

    Blocks of rows separated by a blank line are several kernels of the same size, in ``blocks``
    (a filter's channel slices, then the next filter's; at most 64); ``kernel`` is the first.
    One block has no ``blocks``.
    A 422 names the kernel, and the row (1-based among every non-empty row of the text) and column
    of the culprit in ``row`` and ``column``.
    """
    blocks = parse_blocks(body.text, MAX_KERNEL_SIDE, what="kernel", max_blocks=MAX_BLOCKS)
    return ParsedKernel(kernel=blocks[0].tolist(), shape=list(blocks[0].shape),
                        blocks=[b.tolist() for b in blocks] if len(blocks) > 1 else None)
