"""``kernel-lens render IMAGE --kernel sobel_x [--stride ...] -o out.gif|out.png``: a run's animation (GIF) or its
map (PNG) for slides, without a browser or a server.

The run goes through the server's own code: the image is decoded and stored as an upload is
(``app.routes.images``), the request is the API's ``RunRequest``, computed by ``app.runs.compute_run`` under the
same ``KERNEL_LENS_*`` limits, and drawn by ``Run.result_png`` (the PNG ``GET /api/runs/{id}/result.png`` serves)
or ``app.gif.render_gif`` (the GIF ``POST /api/runs/{id}/gif`` makes). Options that do not apply to the chosen
``--op``, and every refusal, are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from fastapi.exceptions import RequestValidationError
from PIL import Image
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from app.config import Settings
from app.errors import validation_message
from app.gif import render_gif
from app.operations import NotFound
from app.routes.images import check_format, decode_and_store
from app.runs import Run, compute_run, run_id_of
from app.samples import SAMPLES
from app.schemas import RunRequest
from app.store import ImageStore
from cnn_core import list_kernels
from cnn_core.errors import ArgumentError, ArgumentTypeError

OPS = ("conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "sum_pool2d", "relu", "leaky_relu", "sigmoid",
       "tanh", "upsample")
ALIASES = {"pool": "max_pool2d"}
FILTERED = ("conv2d", "conv_transpose2d")
POOLS = ("max_pool2d", "avg_pool2d", "sum_pool2d")
# which options each operation reads (the others are refused, so a typo'd intent is never silently ignored)
USES: dict[str, tuple[str, ...]] = {
    "kernel": FILTERED, "kernel_text": FILTERED, "param": FILTERED, "bias": FILTERED,
    "stride": (*FILTERED, *POOLS), "padding": (*FILTERED, *POOLS), "dilation": ("conv2d", "conv_transpose2d",
                                                                               "max_pool2d"),
    "padding_mode": ("conv2d",), "flip": ("conv2d",), "output_padding": ("conv_transpose2d",),
    "kernel_size": POOLS, "ceil_mode": POOLS, "scale": ("upsample",), "mode": ("upsample",),
    "negative_slope": ("leaky_relu",),
}
BAR_WIDTH = 30


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, got {value}")
    return value


def _frames(text: str) -> int:
    value = _positive(text)
    if not 2 <= value <= 200:
        raise argparse.ArgumentTypeError(f"must be from 2 to 200 (as the server's GIF), got {value}")
    return value


def _padding(text: str) -> int | str:
    if text in ("valid", "same", "full"):
        return text
    try:
        return _count(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, or valid, same or full, got "
                                         f"{text!r}") from None


def _param(text: str) -> tuple[str, int | float]:
    name, equals, value = text.partition("=")
    try:
        if not equals or not name.strip():
            raise ValueError
        number = float(value)
        return name.strip(), int(number) if number.is_integer() and "." not in value else number
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be NAME=NUMBER, e.g. size=5 or sigma=1.5, got {text!r}") from None


def _output(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in (".gif", ".png"):
        raise argparse.ArgumentTypeError(f"must end in .gif (the animation) or .png (the map), got {text!r}")
    return path


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``render`` to the ``kernel-lens`` subcommands."""
    kernels = [entry["name"] for entry in list_kernels()]
    samples = [sample.name for sample in SAMPLES]
    render: argparse.ArgumentParser = commands.add_parser(
        "render", help="render a run's animation (GIF) or map (PNG) for slides, without a browser",
        description="Compute one operation on an image, as the web app does, and write the animation (.gif) or "
                    "the output map (.png). Defaults are the API's (docs: /docs, or docs/README.md).")
    render.add_argument("image", metavar="IMAGE",
                        help=f"an image file (PNG, JPEG, GIF, BMP, TIFF, WebP) or a sample: {', '.join(samples)}")
    render.add_argument("-o", "--output", type=_output, required=True, metavar="OUT",
                        help="out.gif: the window sliding and the map filling in; out.png: the output map")
    render.add_argument("--op", default="conv2d", choices=[*OPS, *ALIASES], metavar="OP",
                        help=f"the operation: {', '.join(OPS)} (default conv2d; pool means max_pool2d)")
    render.add_argument("--kernel", choices=kernels, default=None, metavar="NAME",
                        help=f"a catalogue kernel: {', '.join(kernels)} (default sobel_x)")
    render.add_argument("--kernel-text", default=None, metavar="TEXT",
                        help="a typed kernel instead, rows by ';': '1 0 -1; 2 0 -2; 1 0 -1'")
    render.add_argument("--param", type=_param, action="append", default=None, metavar="NAME=NUMBER",
                        help="a catalogue kernel's parameter, e.g. --param size=5 --param sigma=1.5")
    render.add_argument("--bias", type=float, default=None, help="added to every output value")
    render.add_argument("--stride", type=_positive, default=None)
    render.add_argument("--padding", type=_padding, default=None, help="pixels, or valid, same or full")
    render.add_argument("--padding-mode", choices=("zeros", "reflect", "replicate", "circular"), default=None)
    render.add_argument("--dilation", type=_positive, default=None)
    render.add_argument("--flip", action="store_true", default=None, help="true convolution (kernel flipped)")
    render.add_argument("--output-padding", type=_count, default=None, help="transposed convolution only")
    render.add_argument("--kernel-size", type=_positive, default=None, help="pooling window side (default 2)")
    render.add_argument("--ceil-mode", action="store_true", default=None, help="pooling: keep partial windows")
    render.add_argument("--scale", type=_positive, default=None, help="up-sampling factor (default 2)")
    render.add_argument("--mode", choices=("nearest", "bilinear"), default=None, help="up-sampling mode")
    render.add_argument("--negative-slope", type=float, default=None, help="leaky ReLU's slope (default 0.01)")
    render.add_argument("--color", choices=("rgb", "gray"), default="rgb", help="3 channels or 1 (default rgb)")
    render.add_argument("--channel", type=_count, default=0, help="which output map the PNG shows (default 0)")
    render.add_argument("--frames", type=_frames, default=48, help="GIF frames, 2 to 200 (default 48)")
    render.add_argument("--quiet", action="store_true", help="no progress on stderr")
    render.set_defaults(render_parser=render)
    return render


def check_options(args: argparse.Namespace) -> None:
    """ArgumentTypeError when an option given does not apply to the operation (or two exclude each other)."""
    op = ALIASES.get(args.op, args.op)
    for name in sorted(name for name in USES if getattr(args, name) is not None):
        if op not in USES[name]:
            flag = "--" + name.replace("_", "-")
            raise argparse.ArgumentTypeError(f"{flag} does not apply to --op {op} (it applies to "
                                             f"{', '.join(USES[name])})")
    if args.kernel_text is not None and (args.kernel is not None or args.param is not None):
        raise argparse.ArgumentTypeError("give --kernel (and --param) or --kernel-text, not both")


def build_request(args: argparse.Namespace, image_id: str) -> dict[str, Any]:
    """The API's RunRequest (as JSON data) for these arguments: only what was given, the API's defaults otherwise."""
    check_options(args)
    op = ALIASES.get(args.op, args.op)
    operation: dict[str, Any] = {"op": op}
    if op in FILTERED:
        ref: dict[str, Any] = ({"text": args.kernel_text} if args.kernel_text is not None
                               else {"name": args.kernel or "sobel_x", "params": dict(args.param or [])})
        operation["filters"] = [{"kernel": ref, **({"bias": args.bias} if args.bias is not None else {})}]
    names = {"stride": "stride", "padding": "padding", "dilation": "dilation", "padding_mode": "padding_mode",
             "flip": "flip", "output_padding": "output_padding", "kernel_size": "kernel_size",
             "ceil_mode": "ceil_mode", "scale": "scale_factor", "mode": "mode", "negative_slope": "negative_slope"}
    operation.update({field: getattr(args, name) for name, field in names.items() if getattr(args, name) is not None})
    return {"source": {"image_id": image_id, "color": args.color}, "operation": operation}


class Progress:
    """A text progress bar on stderr (redrawn in place on a terminal, one line per quarter otherwise)."""

    def __init__(self, stream: TextIO, label: str, quiet: bool) -> None:
        self.stream = stream
        self.label = label
        self.quiet = quiet
        self.terminal = stream.isatty()
        self.shown = -1

    def __call__(self, fraction: float) -> None:
        percent = int(max(0.0, min(fraction, 1.0)) * 100)
        step = 1 if self.terminal else 25
        if self.quiet or percent // step == self.shown // step:
            return
        self.shown = percent
        filled = round(BAR_WIDTH * percent / 100)
        bar = f"{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}%"
        self.stream.write(f"\r{bar}" if self.terminal else f"{bar}\n")
        if self.terminal and percent == 100:
            self.stream.write("\n")
        self.stream.flush()


def read_image(name: str) -> tuple[bytes, str]:
    """The bytes of an image file, or of the bundled sample of that name (a file wins over a sample)."""
    path = Path(name)
    if path.is_file():
        return path.read_bytes(), path.name
    for sample in SAMPLES:
        if name == sample.name:
            return sample.read(), sample.name
    samples = ", ".join(sample.name for sample in SAMPLES)
    raise NotFound(f"{name} is neither an image file nor a bundled sample ({samples})")


def compute(args: argparse.Namespace, settings: Settings) -> Run:
    """Store the image and compute the run exactly as the server does for the same request."""
    data, name = read_image(args.image)
    if len(data) > settings.max_upload_bytes:
        raise ArgumentError(f"{name} is {len(data):,} bytes; at most {settings.max_upload_bytes:,} are allowed "
                            "(KERNEL_LENS_MAX_UPLOAD_BYTES)")
    check_format(data)
    store = ImageStore(settings.store_bytes)
    image = decode_and_store(data, name, store, settings)
    request = RunRequest.model_validate(build_request(args, image.image_id))
    return compute_run(run_id_of(request), request, store, settings)


def run(args: argparse.Namespace, settings: Settings, stderr: TextIO = sys.stderr) -> int:
    """``kernel-lens render``: write the file; 0, or 2 with one line on stderr when something is refused."""
    parser: argparse.ArgumentParser = args.render_parser
    try:
        started = time.perf_counter()
        check_options(args)
        if not args.quiet:
            stderr.write(f"computing {ALIASES.get(args.op, args.op)} on {args.image}...\n")
        made = compute(args, settings)
        if args.output.suffix.lower() == ".png":
            data = made.result_png(args.channel)
            what = f"map {args.channel} of {made.maps().shape[0]}, {made.maps().shape[2]}x{made.maps().shape[1]}"
        else:
            data = render_gif(made, args.frames, Progress(stderr, f"rendering {args.output.name}", args.quiet))
            with Image.open(io.BytesIO(data)) as gif:  # fewer frames than asked when the run has fewer steps
                what = f"{getattr(gif, 'n_frames', 1)} frames over {len(made.prepared.frames):,} steps"
        args.output.write_bytes(data)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))  # exit 2 with the usage line
    except ValidationError as error:
        return _refused(stderr, validation_message(RequestValidationError(error.errors())))
    except (ArgumentError, ArgumentTypeError, NotFound) as error:
        return _refused(stderr, str(error))
    except HTTPException as error:
        return _refused(stderr, str(error.detail))
    except OSError as error:
        return _refused(stderr, f"{error.strerror or error}: {error.filename or args.output}")
    if not args.quiet:
        stderr.write(f"wrote {args.output} ({what}; {len(data):,} bytes, {time.perf_counter() - started:.1f} s)\n")
    return 0


def _refused(stderr: TextIO, message: str) -> int:
    stderr.write(f"kernel-lens render: {message}\n")
    return 2
