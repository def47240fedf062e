"""parse_kernel's messages read as English: one number, two numbers."""

from __future__ import annotations

import pytest

from cnn_core import parse_kernel
from cnn_core.kernels import KernelParseError


@pytest.mark.parametrize(("text", "message"), [
    ("1 2; 3", "row 2 has 1 number but row 1 has 2: every row needs the same count"),
    ("1 2 3; 4 5", "row 2 has 2 numbers but row 1 has 3: every row needs the same count"),
])
def test_parse_kernel_ragged_row_counts_in_words(text: str, message: str) -> None:
    with pytest.raises(KernelParseError, match=f"^{message}$"):
        parse_kernel(text)
