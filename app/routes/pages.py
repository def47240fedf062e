"""HTML pages: the visualizer and the offline API docs (templates autoescaped, data in a JSON tag)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from app import __version__
from app.config import SettingsDep
from app.paths import TEMPLATES
from app.routes.kernels import CATALOGUE
from cnn_core.imageio import palette

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The visualizer page, opening on the first sample."""
    initial = {
        "version": __version__,
        "samples": [sample.model_dump() for sample in request.app.state.samples],
        "kernels": [entry.model_dump() for entry in CATALOGUE],
        "palettes": {scheme: palette(scheme) for scheme in ("diverging", "sequential", "gray")},
        "limits": {"max_upload_bytes": settings.max_upload_bytes, "max_kernel_side": settings.max_kernel_side,
                   "max_stride": settings.max_stride, "max_padding": settings.max_padding,
                   "max_dilation": settings.max_dilation, "max_filters": settings.max_filters,
                   "max_scale_factor": settings.max_scale_factor, "max_matrix_side": settings.max_matrix_side},
    }
    return templates.TemplateResponse(request, "index.html", {"initial": initial, "version": __version__})


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI for /openapi.json, served from the package (works offline, no inline script)."""
    return templates.TemplateResponse(request, "docs.html", {"version": __version__})


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> JSONResponse:
    """Liveness for Docker's HEALTHCHECK and load balancers."""
    return JSONResponse({"status": "ok", "version": __version__})
