"""Image upload (streamed, size-limited), previews and the bundled samples."""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from PIL import Image
from starlette.datastructures import UploadFile

from app.config import Settings, SettingsDep
from app.deps import RegistryDep, StoreDep
from app.runs import encode_png
from app.schemas import IMAGE_ID, ErrorBody, ImageInfo, SampleInfo
from app.store import ImageStore, StoredImage, content_id, freeze
from cnn_core.errors import ArgumentError
from cnn_core.imageio import load_image_modes

router = APIRouter(prefix="/api", tags=["images"])
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")  # the README's; Pillow would open many more (ICO, PSD...)

UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string", "format": "binary"}}}},
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    },
}


def image_info(image: StoredImage) -> ImageInfo:
    """The JSON description of a stored image."""
    return ImageInfo(id=image.image_id, width=int(image.rgb.shape[2]), height=int(image.rgb.shape[1]),
                     channels=int(image.rgb.shape[0]), name=image.name,
                     preview_url=f"/api/images/{image.image_id}.png",
                     gray_preview_url=f"/api/images/{image.image_id}.png?color=gray")


def decode_and_store(data: bytes, name: str, store: ImageStore, settings: Settings,
                     pinned: bool = False) -> StoredImage:
    """Decode an image once in both colour modes and store it under its content hash."""
    image_id = content_id(data)
    existing = None if pinned else store.get(image_id)  # samples are decoded once, at start-up
    if existing is not None:
        return existing
    rgb, gray = load_image_modes(data, settings.max_image_side, settings.max_image_pixels)
    image = StoredImage(image_id, freeze(rgb), freeze(gray), name)
    store.put(image_id, image, pinned=pinned)
    return image


def check_format(data: bytes) -> None:
    """415 unless the header is one of the formats the README names (read from the header: nothing decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.open(io.BytesIO(data), formats=FORMATS).close()
    except Image.DecompressionBombError:
        return  # an image of a known format: the engine refuses its size with the numbers
    except (OSError, SyntaxError, ValueError) as error:
        raise HTTPException(415, "data is not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP): "
                                 f"{type(error).__name__}") from None


@router.post("/images", status_code=201, response_model=ImageInfo, openapi_extra={"requestBody": UPLOAD_BODY},
             responses={400: {"model": ErrorBody, "description": "no image in the request"},
                        413: {"description": "too large"}, 415: {"description": "not an image"},
                        422: {"description": "damaged or too many pixels"}})
async def upload_image(request: Request, settings: SettingsDep, store: StoreDep,
                       registry: RegistryDep) -> ImageInfo:
    """Upload an image (a form field named ``file``, or the raw bytes with an image/* content type).

    Uploading the same file twice gives the same id. The image is downsized so its longer side is at
    most ``KERNEL_LENS_MAX_IMAGE_SIDE`` (1024).
    """
    body = await request.body()  # bounded while it arrived (app.bodies, max_upload_bytes + FORM_OVERHEAD)
    name = "upload"
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        request._body = body  # Starlette's form parser reads the body we already bounded
        async with request.form(max_files=1, max_fields=8) as form:  # closes the spooled files
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(400, "send the image in a multipart form field named 'file'")
            data = await upload.read()
            name = upload.filename or name
    else:
        data = body
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"the file is {len(data):,} bytes; at most {settings.max_upload_bytes:,} "
                                 "are allowed")
    if not data:
        raise HTTPException(400, "the upload is empty: send the bytes of an image file")
    check_format(data)
    try:
        image = await registry.in_thread(decode_and_store, data, name[:200], store, settings)
    except ArgumentError as error:  # damaged, or too many pixels: the engine says which
        raise HTTPException(422, str(error)) from None
    return image_info(image).model_copy(update={"name": name[:200]})  # the same file may come under other names


@router.get("/images/{image_id}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "the image as PNG"},
                       404: {"model": ErrorBody}})
async def image_png(image_id: str, store: StoreDep, registry: RegistryDep, color: str = "rgb") -> Response:
    """The stored image (as it is computed on) as PNG, in colour or gray."""
    if color not in ("rgb", "gray"):
        raise HTTPException(422, f"color must be 'rgb' or 'gray', got {color!r}")
    image = await _stored(image_id, store)
    key = f"{image_id}/{color}"
    png = registry.pngs.get(key)
    if png is None:
        png = await registry.in_thread(_preview, image, color)
        registry.pngs.put(key, png)
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/images/{image_id}", response_model=ImageInfo, responses={404: {"model": ErrorBody}})
async def get_image(image_id: str, store: StoreDep) -> ImageInfo:
    """Size and preview URLs of a stored image."""
    return image_info(await _stored(image_id, store))


def _preview(image: StoredImage, color: str) -> bytes:
    pixels = image.pixels(color)
    rgb = pixels.repeat(3, axis=0) if pixels.shape[0] == 1 else pixels
    return encode_png(rgb.clip(0, 255).round().astype("uint8").transpose(1, 2, 0))


async def _stored(image_id: str, store: ImageStore) -> StoredImage:
    if not re.fullmatch(IMAGE_ID, image_id):
        raise HTTPException(404, "image ids are 24 lowercase hexadecimal characters")
    image = await store.aget(image_id)  # this process' copy, or the shared state's (any process' upload)
    if image is None:
        raise HTTPException(404, f"image {image_id} is not stored (it may have been evicted): upload it again "
                                 "or choose a sample")
    return image


@router.get("/samples", response_model=list[SampleInfo])
async def samples(request: Request) -> list[SampleInfo]:
    """The bundled sample images (the page opens on the first)."""
    result: list[SampleInfo] = request.app.state.samples
    return result
