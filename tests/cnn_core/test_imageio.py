"""load_image on images made in code (every mode, EXIF, transparency, size limits, broken files) and to_display."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from cnn_core import load_image, to_display
from cnn_core.imageio import display_indices, display_range


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def gradient(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs * 255 // max(width - 1, 1), ys * 255 // max(height - 1, 1),
                     (xs + ys) % 256], axis=-1).astype(np.uint8)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size, with almost no pixel data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) \
        + chunk(b"IEND", b"")


def test_load_image_rgb_png_is_exact_channel_first_float32() -> None:
    pixels = gradient(7, 5)
    x = load_image(encode(Image.fromarray(pixels)))
    assert x.dtype == np.float32
    assert x.shape == (3, 5, 7)
    assert_array_equal(x, pixels.transpose(2, 0, 1))


def test_load_image_gray_is_pillow_luma() -> None:
    image = Image.fromarray(gradient(6, 4))
    x = load_image(encode(image), mode="gray")
    assert x.shape == (1, 4, 6)
    assert_array_equal(x[0], np.asarray(image.convert("L")))


def test_load_image_applies_exif_orientation() -> None:
    pixels = gradient(4, 2)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    x = load_image(encode(Image.fromarray(pixels), exif=exif))
    assert x.shape == (3, 4, 2)
    assert_array_equal(x, np.rot90(pixels, k=-1).transpose(2, 0, 1))


def test_load_image_composites_transparency_over_white() -> None:
    rgba = np.zeros((1, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (0, 0, 0, 0)  # fully transparent black -> white
    rgba[0, 1] = (0, 0, 0, 255)  # opaque black stays black
    rgba[0, 2] = (255, 0, 0, 128)  # half red over white
    x = load_image(encode(Image.fromarray(rgba, "RGBA")))
    assert_array_equal(x[:, 0, 0], [255, 255, 255])
    assert_array_equal(x[:, 0, 1], [0, 0, 0])
    assert_allclose(x[:, 0, 2], [255, 127, 127], atol=1)


def test_load_image_palette_with_transparency() -> None:
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putdata([0, 1, 0])
    image.info["transparency"] = 1
    x = load_image(encode(image, transparency=1))
    assert_array_equal(x[:, 0], [[255, 255, 255], [0, 255, 0], [0, 255, 0]])


def test_load_image_scales_16_bit_without_clipping() -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values))  # Pillow picks I;16 for uint16
    x = load_image(data, mode="gray")
    assert_allclose(x[0, 0], values[0].astype(np.float64) * 255 / 65535, rtol=1e-6)
    assert x.max() == pytest.approx(255.0)
    assert load_image(data).shape == (3, 1, 4)


def test_load_image_cmyk_tiff() -> None:
    cmyk = Image.new("CMYK", (2, 2), (0, 0, 0, 0))
    x = load_image(encode(cmyk, "TIFF"))
    assert x.shape == (3, 2, 2)
    assert_array_equal(x, 255)


def test_load_image_animated_gif_takes_the_first_frame() -> None:
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    x = load_image(data)
    assert_array_equal(x[:, 0, 0], [255, 0, 0])


def test_load_image_downsizes_keeping_aspect() -> None:
    data = encode(Image.fromarray(gradient(300, 150)))
    assert load_image(data, max_side=100).shape == (3, 50, 100)
    assert load_image(data, max_side=1000).shape == (3, 150, 300)


def test_load_image_large_jpeg_uses_draft_and_keeps_aspect() -> None:
    photo = Image.fromarray(gradient(4000, 3000))
    x = load_image(encode(photo, "JPEG", quality=80), max_side=1024)
    assert x.shape == (3, 768, 1024)
    # a smooth gradient survives draft decoding: the left column is dark red, the right bright red
    assert x[0, :, :5].mean() < 10 and x[0, :, -5:].mean() > 245


def test_load_image_rotated_large_jpeg_long_side_is_max_side() -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    x = load_image(encode(Image.fromarray(gradient(2000, 1000)), "JPEG", exif=exif), max_side=500)
    assert x.shape == (3, 500, 250)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "data is empty"),
    (b"hello, I am text renamed to .png", "data is not an image file Pillow can read"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>', "not an image file"),
])
def test_load_image_refuses_non_images(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_image(data)


def test_load_image_refuses_truncated_jpeg() -> None:
    noise = np.random.default_rng(3).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG")
    with pytest.raises(ValueError, match="damaged or truncated"):
        load_image(data[: len(data) // 2])


def test_load_image_refuses_a_decompression_bomb_from_its_header() -> None:
    with pytest.raises(ValueError, match=r"3,600,000,000 pixels; at most 50,000,000 are allowed"):
        load_image(png_claiming(60_000, 60_000))
    with pytest.raises(ValueError, match=r"9000x9000 = 81,000,000 pixels; at most 50,000,000 are allowed"):
        load_image(png_claiming(9_000, 9_000))
    with pytest.raises(ValueError, match="at most 10 are allowed"):
        load_image(encode(Image.new("RGB", (4, 4))), max_pixels=10)


def test_load_image_argument_errors() -> None:
    with pytest.raises(ValueError, match="mode must be one of 'rgb', 'gray', got 'cmyk'"):
        load_image(b"x", mode="cmyk")
    with pytest.raises(ValueError, match="max_side must be a positive integer, got 0"):
        load_image(b"x", max_side=0)
    with pytest.raises(TypeError, match=r"data must be bytes, a path \(str or os.PathLike\), a PIL image or a "
                                        "NumPy array, got int"):
        load_image(42)  # type: ignore[arg-type]


def test_load_image_reads_a_path_as_its_bytes(tmp_path: Path) -> None:
    data = encode(Image.fromarray(gradient(30, 20)), "JPEG", quality=90)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    expected = load_image(data, max_side=16, mode="gray")
    assert_array_equal(load_image(path, max_side=16, mode="gray"), expected)
    assert_array_equal(load_image(str(path), max_side=16, mode="gray"), expected)
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        load_image(tmp_path / "missing.png")


def test_load_image_takes_a_pil_image_without_changing_it() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways
    data = encode(Image.fromarray(gradient(40, 20)), exif=exif)
    image = Image.open(io.BytesIO(data))
    assert_array_equal(load_image(image), load_image(data))
    assert_array_equal(load_image(image, max_side=10, mode="gray"), load_image(data, max_side=10, mode="gray"))
    assert image.size == (40, 20)
    rgba = Image.fromarray(np.zeros((1, 1, 4), dtype=np.uint8), "RGBA")
    assert_array_equal(load_image(rgba)[:, 0, 0], [255, 255, 255])
    with pytest.raises(ValueError, match=r"the image has 40x20 = 800 pixels; at most 10 are allowed"):
        load_image(image, max_pixels=10)


def test_load_image_takes_channel_last_uint8_arrays_as_pillow_does() -> None:
    pixels = gradient(7, 5)
    assert_array_equal(load_image(pixels), pixels.transpose(2, 0, 1))
    assert_array_equal(load_image(pixels, mode="gray"), load_image(encode(Image.fromarray(pixels)), mode="gray"))
    gray = pixels[..., 0]
    assert_array_equal(load_image(gray), np.repeat(gray[None], 3, axis=0))
    rgba = np.concatenate([pixels, np.full((5, 7, 1), 128, dtype=np.uint8)], axis=2)
    assert_array_equal(load_image(rgba), load_image(encode(Image.fromarray(rgba, "RGBA"))))
    big = gradient(300, 150)
    assert_array_equal(load_image(big, max_side=100), load_image(encode(Image.fromarray(big)), max_side=100))


def test_load_image_float_arrays_are_on_the_0_255_scale_it_returns() -> None:
    x = load_image(gradient(9, 6))
    assert_array_equal(load_image(x.transpose(1, 2, 0)), x)
    values = np.array([[0.0, 0.5, 100.25, 255.0]])
    assert_array_equal(load_image(values, mode="gray")[0], values.astype(np.float32))
    rgb = np.random.default_rng(5).uniform(0, 255, (4, 3, 3))
    assert_allclose(load_image(rgb, mode="gray")[0], rgb @ [0.299, 0.587, 0.114], rtol=1e-6)
    rgba = np.zeros((1, 2, 4))
    rgba[0, 1] = (255, 0, 0, 127.5)  # half red over white
    assert_allclose(load_image(rgba)[:, 0], [[255, 255], [255, 127.5], [255, 127.5]], rtol=1e-6)
    small = load_image(gradient(300, 150).astype(np.float64), max_side=100)
    assert small.shape == (3, 50, 100) and small.dtype == np.float32
    assert small.min() >= 0 and small.max() <= 255
    # the same Lanczos filter as for a uint8 image (whose fixed-point arithmetic rounds): compare smooth channels
    assert_allclose(small[:2], load_image(gradient(300, 150), max_side=100)[:2], atol=1)


def test_load_image_uint16_arrays_scale_as_16_bit_images() -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    assert_allclose(load_image(values, mode="gray"), load_image(encode(Image.fromarray(values)), mode="gray"),
                    rtol=1e-6)


@pytest.mark.parametrize(("array", "error", "message"), [
    (np.zeros((3, 8, 8)), ValueError, r"data must be an image array laid out \(H, W\), \(H, W, 3\) or \(H, W, 4\) "
     r"\(channel-last, as Pillow and NumPy image libraries use\), got shape \(3, 8, 8\); it looks channel-first: "
     r"pass x.transpose\(1, 2, 0\)"),
    (np.zeros((8, 8, 2)), ValueError, r"got shape \(8, 8, 2\)$"),
    (np.zeros((2, 8, 8, 3)), ValueError, r"got shape \(2, 8, 8, 3\)$"),
    (np.full((2, 2), 256.0), ValueError, r"data must hold values in \[0, 255\] in a float array \(scale a \[0, 1\] "
     r"image by 255\), got values from 256.0 to 256.0"),
    (np.array([[np.nan, 1.0]]), ValueError, r"data must hold values in \[0, 255\]"),
    (np.zeros((2, 2), dtype=np.int64), TypeError, "data must be a uint8, uint16 or float image array, got dtype int64"),
    (np.zeros((0, 2), dtype=np.uint8), ValueError, r"the image has no pixels \(2x0\)"),
])
def test_load_image_refuses_arrays_it_would_have_to_guess_about(array: np.ndarray, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        load_image(array)


def test_load_image_refuses_an_array_with_too_many_pixels() -> None:
    with pytest.raises(ValueError, match=r"the image has 5x4 = 20 pixels; at most 10 are allowed"):
        load_image(np.zeros((4, 5), dtype=np.uint8), max_pixels=10)


def test_to_display_signed_map_is_diverging_around_zero() -> None:
    rgb = to_display(np.array([[-2.0, 0.0, 1.0, 2.0]]))
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 4, 3)
    assert_array_equal(rgb[0, 0], [0x21, 0x66, 0xAC])  # most negative: blue end
    assert_array_equal(rgb[0, 1], [0xF7, 0xF7, 0xF7])  # zero: the neutral middle
    assert_array_equal(rgb[0, 3], [0xB2, 0x18, 0x2B])  # most positive: red end
    assert rgb[0, 2, 0] > rgb[0, 2, 2]  # positive values are reddish


def test_to_display_non_negative_map_is_sequential() -> None:
    rgb = to_display(np.array([[0.0, 5.0, 10.0]]))
    assert_array_equal(rgb[0, 0], [0x44, 0x01, 0x54])
    assert_array_equal(rgb[0, 2], [0xFD, 0xE7, 0x25])
    assert display_range(np.array([[3.0, 10.0]])) == ("sequential", 0.0, 10.0)


@pytest.mark.parametrize("value", [0.0, 5.0, -5.0])
def test_to_display_constant_map_does_not_divide_by_zero(value: float) -> None:
    rgb = to_display(np.full((3, 3), value))
    assert rgb.shape == (3, 3, 3)
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) == 1


def test_to_display_channels_share_one_scale() -> None:
    maps = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 10.0)])
    rgb = to_display(maps)
    assert rgb.shape == (2, 2, 2, 3)
    assert not np.array_equal(rgb[0], rgb[1])
    assert to_display(maps[:1]).shape == (2, 2, 3)


def test_to_display_errors() -> None:
    with pytest.raises(ValueError, match="scheme must be one of 'auto', 'diverging', 'sequential', 'gray'"):
        to_display(np.zeros((2, 2)), scheme="rainbow")
    with pytest.raises(ValueError, match="feature_map must contain only finite numbers"):
        to_display(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"feature_map must be \(H, W\) or \(C, H, W\), got shape \(3,\)"):
        to_display(np.zeros(3))


def test_display_indices_are_to_displays_colours_as_a_palette() -> None:
    values = np.array([[[-3.0, -1.0, 0.0], [0.5, 1.0, 3.0]]])
    index, lut = display_indices(values, "diverging", (-2.0, 2.0))
    assert index.shape == (2, 3) and index.dtype == np.uint8 and lut.shape == (255, 3)
    # by hand: level = rint((v + 2) * 254 / 4), clipped to 0..254
    assert index.tolist() == [[0, 64, 127], [159, 190, 254]]
    assert np.array_equal(lut[index], to_display(values, "diverging", (-2.0, 2.0)))
    rgb_index, _ = display_indices(np.ones((3, 2, 2)))
    assert rgb_index.shape == (3, 2, 2)  # several channels keep their axis
