"""An op whose result overflows gets a 422 naming the overflow, not a misleading error further on."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

HUGE = [[1e300] * 3] * 3
BIG_KERNEL = {"kernel": {"values": [[1e300, 1e300], [1e300, 1e300]]}}


@pytest.mark.parametrize("op", ["conv_transpose2d", "conv2d"])
def test_an_overflowing_convolution_is_a_422_that_says_so(client: TestClient, op: str) -> None:
    response = client.post("/api/run", json={"source": {"matrix": HUGE},
                                             "operation": {"op": op, "filters": [BIG_KERNEL]}})
    assert response.status_code == 422
    assert response.json() == {"detail": f"{op} overflowed: the inputs are finite but their products or sums are "
                                         f"too large for float64 (scale the input or the kernel down)"}
