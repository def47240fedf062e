"""The kernel catalogue and the parser for typed kernels."""

from __future__ import annotations

from fastapi import APIRouter

from app.schemas import ErrorBody, KernelEntry, ParsedKernel, ParseRequest
from cnn_core import list_kernels, parse_kernel

router = APIRouter(prefix="/api/kernels", tags=["kernels"])
CATALOGUE = [KernelEntry(**entry) for entry in list_kernels()]


@router.get("", response_model=list[KernelEntry])
async def kernels() -> list[KernelEntry]:
    """Every catalogue kernel with a one-sentence description, default parameters and values."""
    return CATALOGUE


@router.post("/parse", response_model=ParsedKernel, responses={422: {"model": ErrorBody}})
async def parse(body: ParseRequest) -> ParsedKernel:
    """Read a typed kernel (rows by newline or ';', numbers by space or ','; fractions like 1/9).

    A 422 names the row and column of the culprit in ``row`` and ``column`` (1-based).
    """
    kernel = parse_kernel(body.text)
    return ParsedKernel(kernel=kernel.tolist(), shape=list(kernel.shape))
