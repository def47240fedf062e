"""The colour tables are the published ones: matplotlib's viridis entry by entry, exact grays."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cnn_core import to_display
from cnn_core.imageio import palette

# Rows of matplotlib's published float table (matplotlib/_cm_listed.py, _viridis_data), copied by hand.
PUBLISHED_VIRIDIS = {
    0: (0.267004, 0.004874, 0.329415), 1: (0.26851, 0.009605, 0.335427), 64: (0.229739, 0.322361, 0.545706),
    100: (0.166617, 0.463708, 0.558119), 128: (0.127568, 0.566949, 0.550556), 200: (0.440137, 0.811138, 0.340967),
    254: (0.983868, 0.904867, 0.136897), 255: (0.993248, 0.906157, 0.143936),
}


def rgb_of(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def test_palette_sequential_is_matplotlibs_viridis_to_half_a_level() -> None:
    table = palette("sequential")
    assert len(table) == 256
    for index, published in PUBLISHED_VIRIDIS.items():
        assert np.abs(np.array(rgb_of(table[index])) - 255 * np.array(published)).max() <= 0.5, index


def test_to_display_sequential_uses_every_viridis_entry() -> None:
    rgb = to_display(np.arange(256.0)[None])
    assert_array_equal(rgb[0], [rgb_of(c) for c in palette("sequential")])


def test_to_display_gray_levels_are_exact() -> None:
    rgb = to_display(np.arange(256.0)[None], "gray")
    assert_array_equal(rgb[0], np.repeat(np.arange(256)[:, None], 3, axis=1))
    assert len(palette("gray")) == 256


def test_palette_diverging_keeps_zero_in_the_middle() -> None:
    table = palette("diverging")
    assert len(table) == 255 and table[127] == "#f7f7f7"
    assert_array_equal(to_display(np.array([[-1.0, 0.0, 1.0]]))[0, 1], rgb_of("#f7f7f7"))


def test_palette_refuses_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="scheme must be one of 'diverging', 'sequential', 'gray', got 'jet'"):
        palette("jet")
