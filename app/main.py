"""create_app(): static files, templates, routers, security headers, error handlers, bundled samples."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.bodies import BodyLimit
from app.chains import ChainStore
from app.config import Settings, get_settings
from app.errors import install_error_handlers
from app.jobqueue import QueuedJobs
from app.jobs import Jobs
from app.memory import IdleTrim
from app.openapi import documented_openapi
from app.paths import STATIC
from app.playback import PlaybackShare
from app.prefix import RootPath
from app.routes import animate, backprop, chains, extras, frames, images, kernels, ops, pages, train
from app.runs import RunRegistry
from app.samples import SAMPLES
from app.schemas import SampleInfo
from app.security import SameOrigin, SecurityHeaders
from app.shared_state import StateUnavailable, state_from, unavailable
from app.static_files import MemoryStaticFiles, quiet_static_access_log
from app.store import ImageStore
from app.train_queue import QueuedTrainer
from app.training import Trainer

DESCRIPTION = """
Kernel Lens computes convolutions, pooling, up-sampling and transposed convolutions on your image
with exact NumPy (PyTorch semantics), and serves every step of the computation as animation frames.

Typical use: `POST /api/images` (or pick `GET /api/samples`), `POST /api/run` with an operation,
then fetch frames with `GET /api/frames` or play them over the `/ws/animate` WebSocket.
Errors are always `{"detail": "..."}` naming what was wrong and what is allowed.
"""


def _swagger_assets() -> Path | None:
    try:
        import swagger_ui_bundle  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a runtime dependency; /docs then has no assets
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application (tests pass their own Settings)."""
    settings = settings or get_settings()
    app = FastAPI(title="Kernel Lens", version=__version__, description=DESCRIPTION, docs_url=None,
                  redoc_url=None)
    app.state.settings = settings
    # images, run and chain requests: in this process (default) or in Redis, shared by every process
    app.state.shared_state = state_from(settings.redis_url, settings.redis_prefix)
    app.state.store = ImageStore(settings.store_bytes, app.state.shared_state)
    app.state.registry = RunRegistry(settings, app.state.store)
    app.state.chains = ChainStore(settings.run_cache_bytes, app.state.shared_state, settings.run_request_bytes)
    app.state.jobs = QueuedJobs(settings) if settings.redis_url else Jobs(settings)
    app.state.playback = PlaybackShare(settings.playback_bytes_per_second,
                                       settings.playback_connection_bytes_per_second, settings.playback_concurrent,
                                       settings.playback_busy_share)
    app.state.trainer = Trainer(settings)
    # training jobs: in threads of this process (default) or on the Redis queue, for `kernel-lens worker`
    app.state.train_runner = QueuedTrainer(settings, app.state.trainer.models) if settings.redis_url \
        else app.state.trainer
    app.state.samples = _load_samples(app, settings)
    upload_limit = settings.max_upload_bytes + images.FORM_OVERHEAD
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, idle_timeout=settings.body_idle_timeout,
                       limits={f"{settings.root_path}/api/images": upload_limit})
    app.add_middleware(SameOrigin, allowed=settings.cors_origins)
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["*"])
    app.add_middleware(IdleTrim, idle_seconds=settings.idle_trim_seconds)  # frees memory once idle
    app.add_middleware(RootPath, prefix=settings.root_path)  # outermost: the others see the path with the prefix
    install_error_handlers(app)
    app.add_exception_handler(StateUnavailable, unavailable)  # Redis down: 503 with the reason, not a 500
    app.openapi = documented_openapi(app)  # type: ignore[method-assign]
    for module in (pages, images, kernels, ops, frames, chains, extras, animate, train, backprop):
        app.include_router(module.router)
    app.mount("/static", MemoryStaticFiles(directory=STATIC), name="static")
    quiet_static_access_log()
    assets = _swagger_assets()
    if assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")
    return app


def _load_samples(app: FastAPI, settings: Settings) -> list[SampleInfo]:
    """Decode the bundled samples into the store (pinned: they are never evicted)."""
    samples = []
    for sample in SAMPLES:
        image = images.decode_and_store(sample.read(), sample.name, app.state.store, settings, pinned=True)
        info = images.image_info(image)
        samples.append(SampleInfo(**info.model_dump(), title=sample.title, description=sample.description,
                                  license=sample.license))
    logging.getLogger("kernel_lens").info("loaded %d samples", len(samples))
    return samples
