"""What a transposed convolution's running sums cost its frame batches (issue 9, item 4).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_transposed_frames.py [--repeat 7]

For each case, the median time (ms, one BLAS thread, after a warm-up) of ``seq.batch(start, start + n)``
with every field, and of the same batch's fields without the running sums (the stamp alone: input
values, contribution, where it lands; what a batch held before); "ratio" is the first over the second.
The sums of a stamp's cells cost one product per overlap of earlier stamps, so a large kernel at
stride 1 (225 taps, 421 overlaps) costs far more than the stamp itself; the common 2x2 and 3x3 at
stride 2 (no or 4 overlaps) little.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnn_core.frames import conv_transpose2d_frames

CASES = [
    ("3x240x320, 2x2 stride 2", (3, 240, 320), (3, 1, 2, 2), 2),
    ("3x512x512, 3x3 stride 2, 4 maps", (3, 512, 512), (3, 4, 3, 3), 2),
    ("3x240x320, 15x15 stride 1", (3, 240, 320), (3, 1, 15, 15), 1),
    ("1x5x5, 3x3 stride 2 (small: running_output)", (1, 5, 5), (1, 1, 3, 3), 2),
]


def median_ms(run: Callable[[], Any], repeat: int) -> float:
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def stamp_only(seq: Any, start: int, stop: int) -> dict[str, Any]:
    """The batch's fields without the running sums, computed as batch() computes them."""
    plan = seq.plan
    index = np.arange(start, stop)
    iy, ix = np.divmod(index, plan.batch.shape[3])
    values = plan.batch[:, :, iy, ix]
    kh, kw = plan.weight.shape[2:]
    contribution = np.einsum("bcn,cfij->nbfij", values, plan.weight).reshape(len(index), -1, kh, kw)
    return {"input_index": np.stack([iy, ix], axis=1), "input_values": values.reshape(-1, len(index)).T,
            "contribution": contribution, "out_rows": seq.scatter.tap_rows(iy), "out_cols": seq.scatter.tap_cols(ix)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'case':<46} {'frames':>7} {'batch ms':>10} {'stamp ms':>10} {'ratio':>7}")
    with threadpool_limits(1):
        for name, shape, kernel, stride in CASES:
            seq = conv_transpose2d_frames(rng.standard_normal(shape), rng.standard_normal(kernel), stride=stride)
            seq.result()
            for count in (1, 64, 2000):
                start = min(len(seq) // 3, max(len(seq) - count, 0))
                stop = min(start + count, len(seq))
                full = median_ms(partial(seq.batch, start, stop), args.repeat)
                bare = median_ms(partial(stamp_only, seq, start, stop), args.repeat)
                print(f"{name:<46} {stop - start:>7} {full:>10.2f} {bare:>10.2f} {full / bare:>7.1f}")


if __name__ == "__main__":
    main()
