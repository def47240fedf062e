"""`kernel-lens render`: the PNG and GIF it writes are the server's own for the same request (fetched over real
HTTP), its progress bar is on stderr, and bad arguments or refused runs are one clear line with exit status 2."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from app.config import Settings
from tests.app.conftest import live_server

RENDER = [sys.executable, "-m", "app.cli", "render"]


def get(url: str, timeout: float = 60, **options: Any) -> httpx.Response:
    """httpx.get with room for a busy machine (its default 5 s read timeout is not enough at a load of 25)."""
    return httpx.get(url, timeout=timeout, **options)


def post(url: str, timeout: float = 60, **options: Any) -> httpx.Response:
    """httpx.post, as get."""
    return httpx.post(url, timeout=timeout, **options)


def render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RENDER, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with live_server(Settings()) as base:
        yield base


def sample_id(server: str, name: str) -> str:
    found: str = next(sample["id"] for sample in get(f"{server}/api/samples").json() if sample["name"] == name)
    return found


def pixels(data: bytes) -> np.ndarray[Any, Any]:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


CASES = [
    (["--kernel", "sobel_x"], {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}}]}),
    (["--kernel", "gaussian", "--param", "size=5", "--param", "sigma=1.5", "--stride", "2", "--padding", "same",
      "--padding-mode", "reflect", "--dilation", "2", "--bias", "-3"],
     {"op": "conv2d", "filters": [{"kernel": {"name": "gaussian", "params": {"size": 5, "sigma": 1.5}}, "bias": -3.0}],
      "stride": 2, "padding": "same", "padding_mode": "reflect", "dilation": 2}),
    (["--op", "pool", "--kernel-size", "3", "--stride", "2", "--ceil-mode"],
     {"op": "max_pool2d", "kernel_size": 3, "stride": 2, "ceil_mode": True}),
    (["--op", "upsample", "--scale", "3", "--mode", "bilinear"], {"op": "upsample", "scale_factor": 3,
                                                                  "mode": "bilinear"}),
    (["--op", "conv_transpose2d", "--kernel-text", "1 2; 3 4", "--stride", "2", "--output-padding", "1"],
     {"op": "conv_transpose2d", "filters": [{"kernel": {"text": "1 2; 3 4"}}], "stride": 2, "output_padding": 1}),
]


@pytest.mark.parametrize(("args", "operation"), CASES, ids=["sobel_x", "gaussian-strided", "pool", "upsample",
                                                             "transposed"])
def test_the_png_is_the_servers_result_png_for_the_same_request(server: str, tmp_path: Path, args: list[str],
                                                                operation: dict[str, Any]) -> None:
    out = tmp_path / "map.png"
    done = render("shapes", *args, "-o", str(out), "--color", "gray")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and f"wrote {out}" in done.stderr
    request = {"source": {"image_id": sample_id(server, "shapes"), "color": "gray"}, "operation": operation}
    run = post(f"{server}/api/run", json=request)
    assert run.status_code == 200, run.text
    served = get(f"{server}{run.json()['result_png_url']}", params={"channel": 0})
    assert served.status_code == 200
    mine = pixels(out.read_bytes())
    assert mine.shape[:2] == tuple(run.json()["output_shape"][-2:])
    assert np.array_equal(mine, pixels(served.content))


def test_the_png_of_an_image_file_in_colour_is_the_servers_after_an_upload(server: str, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "map.png"
    done = render(str(photo), "--kernel", "laplace_8", "--padding", "1", "-o", str(out))
    assert done.returncode == 0, done.stderr
    uploaded = post(f"{server}/api/images", files={"file": ("photo.png", photo.read_bytes(), "image/png")})
    request = {"source": {"image_id": uploaded.json()["id"]},
               "operation": {"op": "conv2d", "filters": [{"kernel": {"name": "laplace_8"}}], "padding": 1}}
    run = post(f"{server}/api/run", json=request).json()
    served = get(f"{server}{run['result_png_url']}", params={"channel": 0}).content
    assert np.array_equal(pixels(out.read_bytes()), pixels(served))
    assert pixels(out.read_bytes()).shape == (37, 53, 3)


def test_a_small_gif_has_its_frames_and_size_and_is_the_servers(server: str, tmp_path: Path) -> None:
    photo = tmp_path / "small.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "slide.gif"
    done = render(str(photo), "--kernel", "sobel_y", "--padding", "1", "--frames", "6", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "rendering slide.gif [" in done.stderr and "100%" in done.stderr  # the progress bar, on stderr
    assert f"wrote {out} (6 frames over 192 steps;" in done.stderr  # 12x16 outputs, one step each
    assert done.stdout == ""
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 6
        # the padded input (14x18) and the map (12x16) each scaled to 240 pixels high (x17 and x20), 12 pixels apart
        assert gif.size == (18 * 17 + 12 + 16 * 20, 240)

    uploaded = post(f"{server}/api/images", files={"file": ("small.png", photo.read_bytes(), "image/png")})
    request = {"source": {"image_id": uploaded.json()["id"]},
               "operation": {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_y"}}], "padding": 1}}
    run = post(f"{server}/api/run", json=request).json()
    job = post(f"{server}/api/runs/{run['run_id']}/gif", params={"frames": 6}).json()
    deadline = time.monotonic() + 60
    while not (status := get(f"{server}{job['status_url']}").json())["done"]:
        assert time.monotonic() < deadline, "the server's GIF job did not finish"
        time.sleep(0.1)  # polling the job the page polls: there is no event to wait on
    served = get(f"{server}{status['gif_url']}").content
    assert out.read_bytes() == served


@pytest.mark.parametrize(("args", "expected"), [
    (["--kernel", "sobel_z"], "argument --kernel: invalid choice: 'sobel_z' (choose from 'identity', 'sobel_x'"),
    (["--op", "conv3d"], "argument --op: invalid choice: 'conv3d' (choose from 'conv2d', 'conv_transpose2d'"),
    (["--stride", "0"], "argument --stride: must be a whole number of at least 1, got 0"),
    (["--padding", "wide"], "argument --padding: must be a whole number of at least 0, or valid, same or full"),
    (["--scale", "2"], "--scale does not apply to --op conv2d (it applies to upsample)"),
    (["--frames", "500"], "argument --frames: must be from 2 to 200"),
    (["--param", "size"], "argument --param: must be NAME=NUMBER"),
])
def test_bad_arguments_are_an_argparse_error_naming_what_is_allowed(tmp_path: Path, args: list[str],
                                                                     expected: str) -> None:
    out = tmp_path / "out.png"
    done = render("shapes", *args, "-o", str(out))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert expected in done.stderr
    assert done.stderr.startswith("usage: kernel-lens render")
    assert not out.exists()


def test_an_output_that_is_neither_gif_nor_png_is_refused(tmp_path: Path) -> None:
    done = render("shapes", "-o", str(tmp_path / "slide.jpg"))
    assert done.returncode == 2
    assert "argument -o/--output: must end in .gif (the animation) or .png (the map)" in done.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["--kernel", "gaussian", "--param", "size=4"], "size must be an odd int from 1 to 15, got 4"),
    (["--kernel-text", "1 2; 3"], "row 2 has 1 number but row 1 has 2: every row needs the same count"),
    (["--dilation", "17"], "dilation may be at most 16 here, got 17"),
    (["--op", "pool", "--kernel-size", "9", "--padding", "5"], "padding must be at most half the kernel size"),
    (["--channel", "3"], "channel must be from 0 to 0, got 3"),
    (["--op", "upsample", "--scale", "99"], "scale_factor may be at most 8 here, got 99"),
])
def test_engine_refusals_are_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    out = tmp_path / "out.png"
    done = render("shapes", *args, "-o", str(out), "--quiet", "--color", "gray")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("kernel-lens render: ")
    assert expected in done.stderr
    assert not out.exists()


def test_a_missing_or_unreadable_image_is_one_line(tmp_path: Path) -> None:
    done = render(str(tmp_path / "nothing.png"), "-o", str(tmp_path / "out.png"), "--quiet")
    assert done.returncode == 2
    assert done.stderr == (f"kernel-lens render: {tmp_path / 'nothing.png'} is neither an image file nor a bundled "
                           "sample (shapes, astronaut)\n")
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    done = render(str(text), "-o", str(tmp_path / "out.png"), "--quiet")
    assert done.returncode == 2
    assert "data is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP)" in done.stderr
