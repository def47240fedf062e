"""HTML pages: the visualizer and the offline API docs (templates autoescaped, data in a JSON tag, every URL
relative to the page's ``<base>``, so the app works under a path prefix)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from app import __version__
from app.config import SettingsDep
from app.display import palettes_with_ink
from app.modules import page_modules
from app.paths import TEMPLATES
from app.routes.kernels import CATALOGUE

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES)


def root_path_of(request: Request) -> str:
    """The prefix the app is served under ('' or '/lens'): the page's <base> is this plus '/', and every URL in
    the page and its scripts is relative to it (see app/prefix.py)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def relative_urls(data: dict[str, Any]) -> dict[str, Any]:
    """The data's ``*_url`` paths ("/api/...") relative to the page's base ("api/..."), as static/js/api.js makes
    those of every response."""
    return {key: value.lstrip("/") if key.endswith("_url") and isinstance(value, str) else value
            for key, value in data.items()}


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The visualizer page, opening on the first sample."""
    initial = {
        "version": __version__,
        "samples": [relative_urls(sample.model_dump()) for sample in request.app.state.samples],
        "kernels": [entry.model_dump() for entry in CATALOGUE],
        "palettes": palettes_with_ink(),
        "limits": {"max_upload_bytes": settings.max_upload_bytes, "max_kernel_side": settings.max_kernel_side,
                   "max_stride": settings.max_stride, "max_padding": settings.max_padding,
                   "max_dilation": settings.max_dilation, "max_filters": settings.max_filters,
                   "max_scale_factor": settings.max_scale_factor, "max_matrix_side": settings.max_matrix_side},
    }
    return templates.TemplateResponse(request, "index.html", {"initial": initial, "version": __version__,
                                                              "root_path": root_path_of(request),
                                                              "modules": page_modules()})


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI for /openapi.json, served from the package (works offline, no inline script)."""
    context = {"version": __version__, "root_path": root_path_of(request)}
    return templates.TemplateResponse(request, "docs.html", context)


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> JSONResponse:
    """Liveness for Docker's HEALTHCHECK and load balancers."""
    return JSONResponse({"status": "ok", "version": __version__})
