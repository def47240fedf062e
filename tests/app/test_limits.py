"""Cheap requests can't buy expensive work: typed text, body sizes, matrices and chains are bounded first."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cnn_core.kernels import KernelParseError, parse_kernel


@pytest.mark.parametrize(("text", "message"), [
    ("1e10000000/1", r"row 1, column 1: exponents must be from -999 to 999, got 10000000"),
    ("1 1e-99999999999999999999", r"row 1, column 2: exponents must be from -999 to 999, got -9999999999\.\.\."),
    ("1/" + "9" * 41, r"row 1, column 1: a number may have at most 40 digits, got 41"),
    ("0." + "1" * 5000, r"row 1, column 1: a number may have at most 40 digits, got 5001"),
])
def test_parse_kernel_bounds_each_number_before_any_arithmetic(text: str, message: str) -> None:
    with pytest.raises(KernelParseError, match=message):
        parse_kernel(text)


def test_parse_kernel_still_reads_long_exact_numbers() -> None:
    forty_digits = "0." + "0" * 37 + "1e39"  # 40 digits: 1e-38 * 1e39
    kernel = parse_kernel(f"1e-999/1e-999 {forty_digits} 1e308 1/3e0000000000000000000009")
    assert kernel.tolist() == [[1.0, 10.0, 1e308, 1 / 3e9]]


def test_a_huge_exponent_is_refused_with_its_place(client: TestClient) -> None:
    for url, body in [("/api/kernels/parse", {"text": "1 0; 0 1e10000000/1"}),
                      ("/api/run", {"source": {"matrix": [[1, 2], [3, 4]]},
                                    "operation": {"op": "conv2d",
                                                  "filters": [{"kernel": {"text": "1 0; 0 1e10000000/1"}}]}})]:
        response = client.post(url, json=body)
        assert response.status_code == 422
        assert response.json() == {"detail": "row 2, column 2: exponents must be from -999 to 999, got 10000000",
                                   "row": 2, "column": 2}
