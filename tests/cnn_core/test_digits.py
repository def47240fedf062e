"""prepare_digit: MNIST's down-sampling recovers known MNIST digits; hand-made pads; empty pads refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from cnn_core.datasets import load_digits
from cnn_core.digits import prepare_digit


def _ink_box(digit: np.ndarray[Any, Any]) -> tuple[slice, slice]:
    rows = np.flatnonzero((digit > 0.1).any(axis=1))
    cols = np.flatnonzero((digit > 0.1).any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def test_prepare_digit_recovers_known_mnist_digits_blown_up_and_moved() -> None:
    """Each digit's ink box, blown up 10x (nearest), inverted onto white paper off-centre: area resampling
    gives the box back exactly and the centre of mass puts it where MNIST did."""
    (x_train, _), _ = load_digits()
    checked = 0
    for digit in x_train[:120, 0]:
        box = _ink_box(digit)
        crop = digit[box]
        if max(crop.shape) != 20:  # the few digits whose faint rim makes the > 0.1 box smaller
            continue
        paper = np.ones((300, 260), dtype=np.float32)
        paper[30:30 + 10 * crop.shape[0], 17:17 + 10 * crop.shape[1]] = 1 - np.kron(crop, np.ones((10, 10)))
        prepared = prepare_digit(paper)
        expected = np.zeros_like(digit)
        expected[box] = crop / crop.max()  # stretched so that the brightest ink is 1
        assert prepared.inverted
        assert prepared.offset == (box[0].start, box[1].start)
        assert_allclose(prepared.digit, expected, atol=1e-6)
        checked += 1
    assert checked > 100


def test_prepare_digit_on_a_smoothly_enlarged_digit_is_close_to_the_original() -> None:
    (x_train, _), _ = load_digits()
    errors = []
    for digit in x_train[:50, 0]:
        big = np.asarray(Image.fromarray(digit, mode="F").resize((280, 280), Image.Resampling.BILINEAR))
        pad = np.zeros((320, 300), dtype=np.float32)
        pad[25:305, 5:285] = np.clip(big, 0, 1)
        errors.append(float(np.abs(prepare_digit(pad).digit - digit).mean()))
    assert np.mean(errors) < 0.04 and max(errors) < 0.1


def test_prepare_digit_steps_of_a_hand_made_bar() -> None:
    pad = np.zeros((280, 280), dtype=np.uint8)
    pad[40:240, 120:160] = 255  # 200 x 40: scaled by 0.1 to 20 x 4
    prepared = prepare_digit(pad)
    assert prepared.box == (40, 120, 200, 40) and not prepared.inverted
    assert prepared.cropped.shape == (200, 40) and prepared.fitted.shape == (20, 4)
    assert_array_equal(prepared.fitted, np.ones((20, 4), dtype=np.float32))
    expected = np.zeros((28, 28), dtype=np.float32)
    expected[4:24, 12:16] = 1  # centre of mass (9.5, 1.5) -> (14, 14): shift round(4.5) = 4, round(12.5) = 12
    assert_array_equal(prepared.digit, expected)
    assert prepared.offset == (4, 12) and prepared.digit is prepared.centred
    assert prepared.digit.dtype == np.float32 and prepared.normalised.shape == (280, 280)


def test_prepare_digit_centres_by_mass_not_by_box() -> None:
    pad = np.zeros((100, 100))
    pad[10:90, 10:20] = 1.0  # a heavy stem
    pad[80:90, 10:50] = 1.0  # a short foot: the mass sits low and left of the box's centre
    prepared = prepare_digit(pad)
    rows, cols = np.indices((28, 28))
    mass = prepared.digit.sum()
    assert abs((prepared.digit * rows).sum() / mass - 14) <= 0.5
    assert abs((prepared.digit * cols).sum() / mass - 14) <= 0.5
    assert prepared.fitted.shape == (20, 10)
    assert prepared.offset != (4, 9)  # the box alone would be centred at (4, 9)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64, np.bool_])
def test_prepare_digit_takes_any_brightness_type_and_either_polarity(dtype: Any) -> None:
    pad = np.zeros((56, 56), dtype=bool)
    pad[8:48, 20:30] = True
    scale = {np.uint8: 255, np.uint16: 255, np.float32: 1.0, np.float64: 255.0, np.bool_: True}[dtype]
    bright = pad.astype(dtype) * scale if dtype is not np.bool_ else pad
    dark = (scale - bright).astype(dtype) if dtype is not np.bool_ else ~pad
    first, second = prepare_digit(bright), prepare_digit(dark)
    assert not first.inverted and second.inverted
    assert_array_equal(first.digit, second.digit)
    assert first.fitted.shape == (20, 5)


def test_prepare_digit_stretches_a_grey_photo() -> None:
    photo = np.full((60, 60), 200, dtype=np.uint8)  # grey paper
    photo[10:50, 25:35] = 60  # grey pencil
    prepared = prepare_digit(photo)
    assert prepared.inverted and prepared.normalised.max() == 1 and prepared.normalised.min() == 0
    assert prepared.digit.max() == 1


@pytest.mark.parametrize("pad", [np.zeros((280, 280)), np.full((280, 280), 255, np.uint8),
                                 np.full((50, 40), 0.95), np.random.default_rng(0).uniform(0, 0.05, (280, 280))])
def test_prepare_digit_refuses_an_empty_pad(pad: np.ndarray[Any, Any]) -> None:
    with pytest.raises(ValueError, match=r"^the pad is empty: draw a digit \(no ink was found"):
        prepare_digit(pad)


def test_prepare_digit_refuses_a_dot() -> None:
    pad = np.zeros((280, 280), dtype=np.uint8)
    pad[100:110, 100:112] = 255
    with pytest.raises(ValueError, match=r"^the pad is empty: draw a digit larger \(the only ink spans 10x12 px of "
                                         r"the 280x280 image"):
        prepare_digit(pad)


def test_prepare_digit_refuses_ink_that_does_not_stand_out() -> None:
    pad = np.zeros((50, 50))
    pad[:, :25] = 0.15  # a faint half: the border's median is halfway, nothing is brighter than it by 0.1
    with pytest.raises(ValueError, match=r"^the pad is empty: draw a digit \(no ink stands out"):
        prepare_digit(pad)


@pytest.mark.parametrize(("image", "error", "message"), [
    (np.zeros((2, 3, 4)), ValueError, r"^image must be a 2-D \(H, W\) array of brightness values, got shape "
                                      r"\(2, 3, 4\)"),
    (np.zeros((0, 4)), ValueError, r"^image must be a 2-D"),
    (np.array([[1, -1]]), ValueError, r"^image must not be negative, got a minimum of -1"),
    (np.array([[0.0, np.nan]]), ValueError, r"^image must contain only finite numbers"),
    (np.array([[0.0, 300.0]]), ValueError, r"^image values must be in \[0, 1\] or \[0, 255\], got \[0, 300\]"),
    (np.array([["a", "b"]]), TypeError, r"^image must be an array of numbers, got dtype <U1"),
])
def test_prepare_digit_refuses_bad_images(image: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        prepare_digit(image)


@pytest.mark.parametrize("threshold", [0, 1, -0.5, True, "0.1"])
def test_prepare_digit_refuses_bad_thresholds(threshold: Any) -> None:
    with pytest.raises(ValueError, match=r"^ink_threshold must be a number in \(0, 1\), got"):
        prepare_digit(np.eye(28), ink_threshold=threshold)
