"""Settings from KERNEL_LENS_* environment variables, with a sane default for every limit."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import prefix, security


class Settings(BaseSettings):
    """Every limit the server enforces; override with e.g. ``KERNEL_LENS_MAX_UPLOAD_BYTES=5000000``."""

    model_config = SettingsConfigDict(env_prefix="KERNEL_LENS_", frozen=True)

    max_upload_bytes: int = Field(20_000_000, ge=1, description="largest accepted upload, in bytes")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="largest JSON request body, in bytes")
    body_idle_timeout: float = Field(30.0, gt=0, description="seconds a request body may stop arriving")
    idle_trim_seconds: float = Field(5.0, gt=0, description="seconds without a request after which freed memory "
                                                             "is returned to the system")
    max_image_side: int = Field(1024, ge=8, le=4096, description="longer side after downscaling an upload")
    max_image_pixels: int = Field(50_000_000, ge=1, description="largest image (from its header) to decode")
    max_kernel_side: int = Field(15, ge=1, le=31)
    max_stride: int = Field(16, ge=1)
    max_padding: int = Field(32, ge=0)
    max_dilation: int = Field(16, ge=1)
    max_scale_factor: int = Field(8, ge=1)
    max_filters: int = Field(64, ge=1)
    max_layer_weights: int = Field(4_000_000, ge=1, description="most weights in one layer of a chain")
    max_matrix_side: int = Field(64, ge=1, description="largest side of a typed-in matrix")
    max_output_elements: int = Field(16_777_216, ge=1, description="largest result (elements) of one run")
    max_batch_frames: int = Field(262_144, ge=1, description="most frames in one binary batch")
    max_json_frames: int = Field(2_000, ge=1, description="most frames in one JSON batch")
    max_response_bytes: int = Field(64 << 20, ge=1 << 16, description="largest frames response, in bytes")
    max_message_bytes: int = Field(4 << 20, ge=1 << 12, description="largest frames message or chunk, in bytes")
    store_bytes: int = Field(512 << 20, ge=1 << 20, description="memory budget of stored images")
    run_cache_bytes: int = Field(512 << 20, ge=1 << 20, description="memory budget of computed runs (and of chains)")
    max_runs: int = Field(10_000, ge=1, description="run specifications remembered")
    run_request_bytes: int = Field(32 << 20, ge=1 << 16, description="memory budget of remembered run requests")
    png_cache_bytes: int = Field(64 << 20, ge=1 << 16, description="memory budget of rendered PNGs")
    max_concurrent: int = Field(2, ge=1, description="interactive computations running at once (threads)")
    batch_concurrent: int = Field(1, ge=1, description="batch jobs (GIFs) running at once, in their own threads")
    max_jobs: int = Field(16, ge=1, description="batch jobs waiting or running, in all")
    max_jobs_per_client: int = Field(2, ge=1, description="batch jobs waiting or running, per client address")
    job_result_bytes: int = Field(64 << 20, ge=1 << 16, description="memory budget of finished jobs' results")
    job_result_ttl: int = Field(600, ge=10, description="seconds a finished job's result is kept (with Redis)")
    redis_url: str | None = Field(None, description="Redis shared by every server process and job worker, e.g. "
                                                    "redis://localhost:6379/0; unset: one process, all in memory")
    redis_prefix: str = Field("kernel-lens:", min_length=1, description="prefix of this app's keys in Redis (the "
                                                                      "shared images, runs and chains)")
    ws_window_frames: int = Field(65_536, ge=1, description="frames a WebSocket may run ahead of acks")
    ws_window_bytes: int = Field(8 << 20, ge=1 << 12, description="bytes of frames a WebSocket may run ahead of acks")
    ws_max_fps: int = Field(1_000_000, ge=1)
    ws_messages_per_second: float = Field(
        240, ge=1, description="messages one WebSocket may send per second, sustained (twice that in a burst); "
                               "more wait their turn, so a flood of seeks or restarts can't take the event loop "
                               "from other clients (a person stepping, scrubbing and hovering sends under 150)")
    playback_bytes_per_second: int = Field(128 << 20, ge=1 << 10, description="frames streamed per second by all "
                                                                               "players together, shared equally")
    playback_connection_bytes_per_second: int = Field(64 << 20, ge=1 << 10, description="the same, per player")
    playback_busy_share: float = Field(0.35, gt=0, le=1, description="the fraction of each second the players "
                                                                   "together may spend building and sending frames; "
                                                                   "beyond it playback slows, other requests don't")
    playback_concurrent: int = Field(1, ge=1, description="threads building large playback batches")
    cors_origins: list[str] = Field(default_factory=list, description="other origins allowed to post and to open "
                                                                   "WebSockets (and by CORS); none by default")
    frame_ancestors: Annotated[list[str], NoDecode, BeforeValidator(security.listed),
                               AfterValidator(security.frame_ancestors)] = Field(
        default_factory=list, description="pages allowed to embed Kernel Lens in a frame: 'self' or origins such as "
                                          "https://lms.example.edu (spaces or commas between); none by default")
    root_path: Annotated[str, AfterValidator(prefix.root_path)] = Field(
        "", description="the path prefix a reverse proxy serves the app under, e.g. /lens; none by default")
    train_concurrent: int = Field(1, ge=1, description="training jobs running at once (worker threads)")
    train_max_queue: int = Field(4, ge=0, description="training jobs waiting for a slot; more are refused (429)")
    train_max_per_client: int = Field(1, ge=1, description="training jobs running or waiting per client address, "
                                                            "across all its sockets; more are refused (429)")
    train_max_params: int = Field(500_000, ge=1, description="largest model to train, in parameters")
    train_max_epochs: int = Field(50, ge=1, description="most epochs of one training job")
    train_time_limit: float = Field(600.0, gt=0, description="seconds a training job may run (pauses count)")
    train_models: int = Field(16, ge=1, description="trained models kept for prediction and download")
    train_model_bytes: int = Field(64 << 20, ge=1 << 16, description="memory budget of the trained models kept")
    train_heartbeat: float = Field(5.0, gt=0, le=60, description="with Redis: seconds between the heartbeats of a "
                                                                 "queued training job's socket; the worker stops "
                                                                 "a job whose heartbeat is three of these late")
    worker_queues: Annotated[list[Literal["gif", "train"]], NoDecode, BeforeValidator(security.listed)] = Field(
        ["gif", "train"], min_length=1, description="the queues `kernel-lens worker` serves, each by its own "
                                                    "process")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def app_settings(request: Request) -> Settings:
    """The settings the app was built with (``create_app`` keeps them on ``app.state``). A dependency override
    would do the same, but FastAPI then rebuilds the dependency tree of every request (``inspect.signature``
    of each handler): about a tenth of a small request's time."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
