"""Engine speed and memory against SciPy, OpenCV and PyTorch (both layouts), in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_engine.py [--threads 1] [--repeat 7]
        [--clock wall|cpu]

Every implementation runs with the same thread count and in its best configuration for it: NumPy's
BLAS through threadpoolctl, PyTorch through ``torch.set_num_threads`` (its OpenMP pool too) and in both
memory layouts (contiguous and channels_last; "vs best torch" takes the faster), OpenCV through
``cv2.setNumThreads``, SciPy as is (single-threaded). The header prints the thread counts in effect.
Times are medians of ``--repeat`` runs after one warm-up, in milliseconds, the peers of a case timed
in turns (one run each per round) so that they share the machine's load alike; ratios are Kernel Lens'
time divided by the peer's (below 1 means Kernel Lens is faster). Peers that have no such op
print "-". PyTorch is optional: without it those columns are "-". ``--clock cpu`` times the process'
CPU time instead of the wall clock: at one thread it is the same work, but it does not count the
time the process waits for a core, so it is the steadier measure on a shared machine.

The batched table times the (N, C, H, W) path on the MNIST training shapes of the seed network, and
compares it per sample with a loop over the same samples one at a time. Both libraries take the batch in
both memory layouts: contiguous, and channels last (PyTorch's ``channels_last``; for Kernel Lens an
(N, C, H, W) view of (N, H, W, C) memory), each keeping its input's layout in its result; "best KL vs best
torch" compares each library's faster layout.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import cnn_core as kl

try:
    import cv2
except ImportError:  # pragma: no cover - the bench extra installs it
    cv2 = None
try:
    import scipy.ndimage as ndimage
except ImportError:  # pragma: no cover
    ndimage = None
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

Timed = Callable[[], Any] | None
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def median_ms(fn: Timed, repeat: int) -> float | None:
    if fn is None:
        return None
    fn()
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return 1e3 * statistics.median(times)


def interleaved_ms(fns: dict[str, Timed], repeat: int) -> dict[str, float | None]:
    """Median ms of each function, timed in turns (one run of each per round, after one warm-up each),
    so that a change in the machine's load falls on every peer alike instead of on whoever ran then."""
    present = {key: fn for key, fn in fns.items() if fn is not None}
    for fn in present.values():
        fn()
    times: dict[str, list[float]] = {key: [] for key in present}
    for _ in range(repeat):
        for key, fn in present.items():
            start = clock()
            fn()
            times[key].append(clock() - start)
    return {key: 1e3 * statistics.median(times[key]) if key in times else None for key in fns}


def dilated(weight: np.ndarray, dilation: int) -> np.ndarray:
    """The weight with dilation - 1 zeros between taps: what peers without dilation must correlate with."""
    if dilation == 1:
        return weight
    spread = np.zeros((*weight.shape[:2], *(dilation * (k - 1) + 1 for k in weight.shape[2:])), weight.dtype)
    spread[:, :, ::dilation, ::dilation] = weight
    return spread


def scipy_conv(x: np.ndarray, weight: np.ndarray, stride: int, dilation: int) -> Timed:
    if ndimage is None:
        return None
    weight = dilated(weight, dilation)

    def run() -> list[np.ndarray]:
        return [sum(ndimage.correlate(x[c], weight[f, c], mode="constant")
                    for c in range(x.shape[0]))[::stride, ::stride] for f in range(weight.shape[0])]
    return run


def opencv_conv(x: np.ndarray, weight: np.ndarray, stride: int, dilation: int) -> Timed:
    if cv2 is None:
        return None
    weight = dilated(weight, dilation)

    def run() -> list[np.ndarray]:
        return [sum(cv2.filter2D(x[c], -1, weight[f, c], borderType=cv2.BORDER_CONSTANT)
                    for c in range(x.shape[0]))[::stride, ::stride] for f in range(weight.shape[0])]
    return run


def torch_pair(make: Callable[[Callable[[Any], Any]], Callable[[], Any]]) -> tuple[Timed, Timed]:
    """Build (default layout, channels_last) timings; ``make`` gets a tensor converter."""
    if torch is None:
        return None, None
    return (make(lambda a: torch.from_numpy(np.ascontiguousarray(a))),
            make(lambda a: torch.from_numpy(np.ascontiguousarray(a)).contiguous(memory_format=torch.channels_last)
                 if a.ndim == 4 else torch.from_numpy(a)))


def conv_case(name: str, x: np.ndarray, weight: np.ndarray, stride: int = 1, dilation: int = 1,
              depthwise: bool = False) -> dict[str, Any]:
    padding = dilation * (weight.shape[-1] - 1) // 2
    ours_weight = weight[0, 0] if depthwise else weight

    def make(convert: Callable[[Any], Any]) -> Callable[[], Any]:
        tx, tw = convert(x[None]), convert(weight)
        return lambda: F.conv2d(tx, tw, stride=stride, padding=padding, dilation=dilation)
    default, channels_last = torch_pair(make)
    return {"case": name,
            "ours": lambda: kl.conv2d(x, ours_weight, stride=stride, padding=padding, dilation=dilation),
            "scipy": scipy_conv(x, weight, stride, dilation), "opencv": opencv_conv(x, weight, stride, dilation),
            "torch": default, "torch_cl": channels_last}


def pool_case(kind: str, x: np.ndarray) -> dict[str, Any]:
    scipy_filter = None if ndimage is None else (
        (lambda: ndimage.maximum_filter(x, size=(1, 2, 2))[:, ::2, ::2]) if kind == "max"
        else (lambda: ndimage.uniform_filter(x, size=(1, 2, 2))[:, ::2, ::2]))
    hwc = np.ascontiguousarray(x.transpose(1, 2, 0))
    opencv = None if cv2 is None else (
        (lambda: cv2.dilate(hwc, np.ones((2, 2), np.uint8))[::2, ::2]) if kind == "max"
        else (lambda: cv2.resize(hwc, (x.shape[2] // 2, x.shape[1] // 2), interpolation=cv2.INTER_AREA)))

    def make(convert: Callable[[Any], Any]) -> Callable[[], Any]:
        tx = convert(x[None])
        return (lambda: F.max_pool2d(tx, 2)) if kind == "max" else (lambda: F.avg_pool2d(tx, 2))
    default, channels_last = torch_pair(make)
    ours = (lambda: kl.max_pool2d(x, 2)) if kind == "max" else (lambda: kl.avg_pool2d(x, 2))
    return {"case": f"{kind} pool 2x2, 8x1024x1024", "ours": ours, "scipy": scipy_filter, "opencv": opencv,
            "torch": default, "torch_cl": channels_last}


def upsample_case(mode: str, x: np.ndarray) -> dict[str, Any]:
    hwc = np.ascontiguousarray(x.transpose(1, 2, 0))
    size = (x.shape[2] * 2, x.shape[1] * 2)
    opencv = None if cv2 is None else (lambda: cv2.resize(
        hwc, size, interpolation=cv2.INTER_LINEAR if mode == "bilinear" else cv2.INTER_NEAREST))
    scipy_zoom = None if ndimage is None else (lambda: ndimage.zoom(
        x, (1, 2, 2), order=1 if mode == "bilinear" else 0, grid_mode=True, mode="nearest"))

    def make(convert: Callable[[Any], Any]) -> Callable[[], Any]:
        tx = convert(x[None])
        corners = False if mode == "bilinear" else None
        return lambda: F.interpolate(tx, scale_factor=2, mode=mode, align_corners=corners)
    default, channels_last = torch_pair(make)
    return {"case": f"{mode} x2, 8x512x512", "ours": lambda: kl.upsample(x, 2, mode), "scipy": scipy_zoom,
            "opencv": opencv, "torch": default, "torch_cl": channels_last}


def transpose_case(x: np.ndarray, weight: np.ndarray) -> dict[str, Any]:
    def make(convert: Callable[[Any], Any]) -> Callable[[], Any]:
        tx, tw = convert(x[None]), convert(weight)
        return lambda: F.conv_transpose2d(tx, tw, stride=2)
    default, channels_last = torch_pair(make)
    return {"case": "conv_transpose2d s2 3x3, 8x512x512 -> 3", "ours": lambda: kl.conv_transpose2d(x, weight, stride=2),
            "scipy": None, "opencv": None, "torch": default, "torch_cl": channels_last}


def batched_case(x: np.ndarray, weight: np.ndarray | None, padding: int) -> tuple[Callable[[np.ndarray], Any], Timed,
                                                                                 Timed]:
    """(ours on any batch or sample, torch default layout, torch channels_last) for a conv2d or a 2x2 max pool."""
    if weight is None:
        def make(convert: Callable[[Any], Any]) -> Callable[[], Any]:
            tx = convert(x)
            return lambda: F.max_pool2d(tx, 2)
        return (lambda a: kl.max_pool2d(a, 2)), *torch_pair(make)

    def make_conv(convert: Callable[[Any], Any]) -> Callable[[], Any]:
        tx, tw = convert(x), convert(weight)
        return lambda: F.conv2d(tx, tw, padding=padding)
    return (lambda a: kl.conv2d(a, weight, padding=padding)), *torch_pair(make_conv)


def batched_rows(rng: np.random.Generator, repeat: int) -> list[str]:
    """The seed network's training shapes, batch 64: the batch at once, and one sample at a time."""
    rows = []
    for label, shape, weight_shape, padding in (
            ("conv2d 64x1x28x28 -> 32 filters 3x3", (64, 1, 28, 28), (32, 1, 3, 3), 0),
            ("conv2d 64x32x13x13 -> 64 filters 3x3", (64, 32, 13, 13), (64, 32, 3, 3), 0),
            ("conv2d 64x64x5x5 -> 64 filters 3x3", (64, 64, 5, 5), (64, 64, 3, 3), 0),
            ("conv2d 64x32x13x13 -> 64 filters 3x3, padding 1", (64, 32, 13, 13), (64, 32, 3, 3), 1),
            ("max pool 2x2, 64x32x26x26", (64, 32, 26, 26), None, 0),
            ("max pool 2x2, 64x64x11x11", (64, 64, 11, 11), None, 0)):
        x = rng.random(shape, dtype=np.float32)
        weight = None if weight_shape is None else rng.random(weight_shape, dtype=np.float32)
        ours, *peers = batched_case(x, weight, padding)
        # the same numbers stored channels last, as torch's channels_last tensor: (N, C, H, W) strides over
        # (N, H, W, C) memory; Kernel Lens then keeps that layout, as torch does
        x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        times = interleaved_ms({"batch": partial(ours, x), "batch_cl": partial(ours, x_cl), "torch": peers[0],
                                "torch_cl": peers[1],
                                "loop": partial(lambda fn, batch: [fn(sample) for sample in batch], ours, x)}, repeat)
        batch_ms, cl_ms, loop_ms = times["batch"], times["batch_cl"], times["loop"]
        best_torch = min((t for t in (times["torch"], times["torch_cl"]) if t is not None), default=None)
        assert batch_ms is not None and loop_ms is not None and cl_ms is not None
        rows.append(f"| {label} | {fmt(batch_ms)} | {fmt(cl_ms)} | {fmt(loop_ms)} | {batch_ms / loop_ms:.2f}x | "
                    f"{fmt(times['torch'])} | {fmt(times['torch_cl'])} | {ratio(batch_ms, best_torch)} | "
                    f"{ratio(min(batch_ms, cl_ms), best_torch)} |")
    return rows


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(ours: float | None, peer: float | None) -> str:
    return "-" if ours is None or peer is None else f"{ours / peer:.2f}x"


def frames_rows(rng: np.random.Generator, repeat: int) -> list[str]:
    x = rng.random((3, 1024, 1024), dtype=np.float32)
    rows = []
    count = 100_000
    for label, weight in (("1 filter 3x3x3", rng.random((1, 3, 3, 3))), ("8 filters 3x3x3", rng.random((8, 3, 3, 3))),
                          ("depthwise 3x3", rng.random((3, 3)))):
        seq = kl.conv2d_frames(x, weight, padding=1)
        middle = len(seq) // 2
        batch_ms = median_ms(lambda seq=seq, m=middle: seq.batch(m, m + count), repeat)
        single = median_ms(lambda seq=seq: seq[len(seq) - 1], max(repeat, 200))
        assert batch_ms is not None and single is not None
        rows.append(f"| conv2d frames, 3x1024x1024, {label} | {count / batch_ms * 1e3:,.0f} frames/s | "
                    f"{single * 1e3:.1f} us |")
    return rows


def memory_rows(rng: np.random.Generator) -> list[str]:
    rows = []
    for label, x, weight, kwargs in (
            ("gray 1024x1024 sobel, padding 1", rng.random((1024, 1024), dtype=np.float32), kl.get_kernel("sobel_x"),
             {"padding": 1}),
            ("RGB 1024 -> 8 filters 3x3, padding 1", rng.random((3, 1024, 1024), dtype=np.float32),
             rng.random((8, 3, 3, 3)), {"padding": 1}),
            ("RGB 1024 -> 8 filters 3x3, stride 2", rng.random((3, 1024, 1024), dtype=np.float32),
             rng.random((8, 3, 3, 3)), {"padding": 1, "stride": 2})):
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        out = kl.conv2d(x, weight, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        extra = peak - out.nbytes
        rows.append(f"| conv2d {label} | {out.nbytes / 2**20:.1f} MiB | {peak / 2**20:.1f} MiB | "
                    f"{extra / out.nbytes:.2f}x |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    rng = np.random.default_rng(0)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if cv2 is not None:
        cv2.setNumThreads(args.threads)
    gray = rng.random((1, 1024, 1024), dtype=np.float32)
    rgb = rng.random((3, 1024, 1024), dtype=np.float32)
    big = rng.random((3, 2048, 2048), dtype=np.float32)
    eight = rng.random((8, 1024, 1024), dtype=np.float32)
    half = rng.random((8, 512, 512), dtype=np.float32)
    sobel = kl.get_kernel("sobel_x").astype(np.float32)[None, None]
    filters = rng.random((8, 3, 3, 3)).astype(np.float32)
    cases = [
        conv_case("gray 1024x1024 Sobel 3x3", gray, sobel, depthwise=True),
        conv_case("gray 1024x1024 7x7", gray, rng.random((1, 1, 7, 7)).astype(np.float32), depthwise=True),
        conv_case("RGB 3x1024x1024 -> 8 filters 3x3", rgb, filters),
        conv_case("RGB 3x1024x1024 -> 8 filters 3x3 stride 2", rgb, filters, stride=2),
        conv_case("RGB 3x1024x1024 -> 8 filters 3x3 dilation 2", rgb, filters, dilation=2),
        conv_case("RGB 3x2048x2048 -> 1 filter 3x3", big, rng.random((1, 3, 3, 3)).astype(np.float32)),
        pool_case("max", eight),
        pool_case("avg", eight),
        transpose_case(half, rng.random((8, 3, 3, 3)).astype(np.float32)),
        upsample_case("bilinear", half),
        upsample_case("nearest", half),
    ]
    with threadpool_limits(args.threads):
        blas = [f"{info['internal_api']} {info['version']} ({info.get('architecture', '?')})"
                for info in threadpool_info() if info["user_api"] == "blas"]
        print(f"threads {args.threads}, median of {args.repeat}, {args.clock} clock, float32; BLAS: {', '.join(blas)}; "
              f"torch {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else 'not installed'}; "
              f"OpenCV {cv2.__version__ + f' ({cv2.getNumThreads()} threads)' if cv2 else '-'}; "
              f"NumPy {np.__version__}\n")
        print("| case | Kernel Lens ms | SciPy ms | OpenCV ms | torch ms | torch CL ms "
              "| vs best torch | vs SciPy | vs OpenCV |")
        print("|---|---|---|---|---|---|---|---|---|")
        for case in cases:
            times = interleaved_ms({key: case[key] for key in ("ours", "scipy", "opencv", "torch", "torch_cl")},
                                   args.repeat)
            best_torch = min((t for t in (times["torch"], times["torch_cl"]) if t is not None), default=None)
            print(f"| {case['case']} | {fmt(times['ours'])} | {fmt(times['scipy'])} | {fmt(times['opencv'])} | "
                  f"{fmt(times['torch'])} | {fmt(times['torch_cl'])} | {ratio(times['ours'], best_torch)} | "
                  f"{ratio(times['ours'], times['scipy'])} | {ratio(times['ours'], times['opencv'])} |", flush=True)
        print("\n| batched (N, C, H, W) | Kernel Lens batch ms | KL channels-last ms | one sample at a time ms "
              "| batch / loop | torch ms | torch CL ms | KL vs best torch | best KL vs best torch |"
              "\n|---|---|---|---|---|---|---|---|---|")
        print("\n".join(batched_rows(rng, args.repeat)), flush=True)
        print("\n| frames | batch throughput | seq[-1] latency |\n|---|---|---|")
        print("\n".join(frames_rows(rng, args.repeat)))
        print("\n| memory (tracemalloc) | output | peak during call | extra beyond output |\n|---|---|---|---|")
        print("\n".join(memory_rows(rng)))


if __name__ == "__main__":
    main()
