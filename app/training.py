"""Training jobs: a config checked whole before any work, run by Chain.fit in a worker thread, bounded in
number (running and queued), size (parameters), epochs and time; pause, resume and stop from the event loop.

:class:`Trainer` runs jobs in threads of this process (without Redis); ``app.train_queue.QueuedTrainer`` puts them
on the Redis queue for ``kernel-lens worker``. Both are a :class:`TrainRunner` for the socket, and both run a job
with :func:`run_job`."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import redis

from app.chains import check_chain_limits
from app.config import Settings
from app.jobqueue import SharedModels
from app.shared_state import StateUnavailable
from app.train_schemas import TrainConfig
from app.train_worker import Send, train
from cnn_core.chain import MNIST_LAYERS, Chain, check_fit_options, pretrained
from cnn_core.datasets import load_digits
from cnn_core.errors import ArgumentError, ArgumentTypeError

log = logging.getLogger("kernel_lens")
INPUT_SHAPE = (1, 28, 28)
PRETRAINED = "mnist-pretrained"
IN_PROCESS = "in_process"  # the "worker" of a job run by a thread of the server process

_CONV = {"type": "conv2d", "padding": "same", "activation": "relu"}
_POOL = {"type": "max_pool2d", "pool_size": 2, "strides": 2, "padding": "same"}
MODELS: dict[str, list[dict[str, Any]]] = {
    "mnist": MNIST_LAYERS,
    "cnn_1": [{**_CONV, "filters": 8, "kernel_size": 5}, {**_CONV, "filters": 8, "kernel_size": 3},
              {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}],
    "cnn_1_with_pooling": [{**_CONV, "filters": 8, "kernel_size": 5}, _POOL, {**_CONV, "filters": 8, "kernel_size": 3},
                           _POOL, {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}],
    "convnetjs": [{"type": "conv2d", "filters": 8, "kernel_size": 5, "padding": 2, "activation": "relu"},
                  {"type": "max_pool2d", "pool_size": 2, "strides": 2},
                  {"type": "conv2d", "filters": 16, "kernel_size": 5, "padding": 2, "activation": "relu"},
                  {"type": "max_pool2d", "pool_size": 3, "strides": 3},
                  {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}],
}


class TrainBusy(Exception):
    """Too many training jobs (or none can run now: ``status`` 503): try again after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: int, status: int = 429) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.status = status


def config_layers(config: TrainConfig) -> list[dict[str, Any]]:
    """The chain's layers: the named model (or custom layers) with batch_norm after every conv2d and dropout
    before every dense layer when asked."""
    base = config.layers if config.model == "custom" and config.layers is not None else MODELS[config.model]
    layers: list[dict[str, Any]] = []
    for layer in base:
        if not isinstance(layer, dict):
            raise ArgumentError(f"layers must be a list of dicts, got {layer!r}")
        if layer.get("type") == "dense" and config.dropout:
            layers.append({"type": "dropout", "rate": config.dropout})
        layers.append(dict(layer))
        if layer.get("type") == "conv2d" and config.batch_norm:
            layers.append({"type": "batch_norm"})
    return layers


@dataclass
class Plan:
    """A checked config: the chain to train (not built) and the data split it gives."""

    config: TrainConfig
    layers: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    total_params: int
    train_size: int
    validation_size: int


def check_config(config: TrainConfig, settings: Settings, layers: list[dict[str, Any]] | None = None) -> Plan:
    """Every setting checked once, with the engine's own messages, before any work (ValueError / TypeError)."""
    if config.epochs > settings.train_max_epochs:
        raise ArgumentError(f"epochs must be at most {settings.train_max_epochs} on this server, got {config.epochs}")
    chosen = config_layers(config) if layers is None else layers
    check_chain_limits(chosen, settings)
    chain = Chain(chosen, seed=config.seed, max_weights=settings.max_layer_weights)
    summary = chain.summary(INPUT_SHAPE)
    if chain.layers[-1].kind != "dense" or chain.layers[-1].output_shape != (10,):
        raise ArgumentError(f"the last layer must be a dense layer of 10 units (one per digit), got "
                            f"{chain.layers[-1].kind} with output shape {chain.layers[-1].output_shape}")
    total = sum(row["params"] for row in summary)
    if total > settings.train_max_params:
        raise ArgumentError(f"the model has {total:,} parameters; this server trains at most "
                            f"{settings.train_max_params:,}")
    options = check_fit_options(config.train_size, INPUT_SHAPE, config.validation_split, None, config.augment,
                                config.early_stopping, config.optimizer, config.learning_rate)
    return Plan(config, chosen, summary, total, options.train_samples, options.validation_samples)


@dataclass
class TrainedModel:
    """A trained chain kept for prediction and download; its validation digits are x_train[start:stop]."""

    model_id: str
    chain: Chain
    layers: list[dict[str, Any]]
    total_params: int
    history: dict[str, list[float]]
    validation_stop: int | None
    validation_start: int = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the weights."""
        return sum(array.nbytes for layer in self.chain.layers for array in layer.arrays.values())


class TrainedModels:
    """Trained models, newest kept, within a count and a byte budget; "mnist-pretrained" is always there."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: OrderedDict[str, TrainedModel] = OrderedDict()
        self._pretrained: TrainedModel | None = None
        self._lock = threading.Lock()
        # with Redis, models are kept there too, so any process answers for a model trained on another
        self.shared = SharedModels(settings) if settings.redis_url else None

    @property
    def used(self) -> int:
        """Bytes held by the trained models kept (the pretrained one aside)."""
        return sum(model.nbytes for model in self._models.values())

    def put(self, model: TrainedModel, share: bool = True) -> None:
        """Keep a model; forget the oldest beyond the count or byte budget (the newest is always kept)."""
        with self._lock:
            self._models[model.model_id] = model
            while len(self._models) > 1 and (len(self._models) > self.settings.train_models
                                             or self.used > self.settings.train_model_bytes):
                self._models.popitem(last=False)
        if share and self.shared is not None:
            buffer = io.BytesIO()
            model.chain.save(buffer)  # type: ignore[arg-type]  # np.savez takes a file object too
            description = {"layers": model.layers, "total_params": model.total_params, "history": model.history,
                           "validation_stop": model.validation_stop, "validation_start": model.validation_start}
            try:
                self.shared.put(model.model_id, buffer.getvalue(), description)
            except redis.exceptions.RedisError:
                log.warning("Redis unreachable: model %s kept in this process only", model.model_id)

    def get(self, model_id: str) -> TrainedModel | None:
        """A model by id (the pretrained one is loaded on first use), or None."""
        if model_id == PRETRAINED:
            with self._lock:
                if self._pretrained is None:
                    chain = pretrained("mnist")
                    self._pretrained = TrainedModel(PRETRAINED, chain, chain.specs,
                                                    chain.total_params(INPUT_SHAPE), {}, None)
                return self._pretrained
        with self._lock:
            model = self._models.get(model_id)
            if model is not None:
                self._models.move_to_end(model_id)
                return model
        if self.shared is None:
            return None
        try:
            stored = self.shared.get(model_id)  # trained by another process
        except redis.exceptions.RedisError as error:
            raise StateUnavailable(f"the shared state (Redis) is unreachable, so model {model_id} can't be "
                                   "looked up now; try again shortly") from error
        if stored is None:
            return None
        description, weights = stored
        model = TrainedModel(model_id, Chain.load(io.BytesIO(weights)), description["layers"],
                             description["total_params"], description["history"], description["validation_stop"],
                             description["validation_start"])
        self.put(model, share=False)
        return model

    def __len__(self) -> int:
        return len(self._models)


@dataclass
class TrainingJob:
    """One training run: its plan, chain, controls (thread-safe events) and where its messages go."""

    plan: Plan
    chain: Chain
    emit: Callable[[dict[str, Any]], None]  # called on the event loop
    job_id: str = field(default_factory=lambda: secrets.token_hex(12))
    running: threading.Event = field(default_factory=threading.Event)  # cleared while paused
    stopping: threading.Event = field(default_factory=threading.Event)
    parked: threading.Event = field(default_factory=threading.Event)  # set while the worker waits in a pause
    started: float = 0.0
    paused_for: float = 0.0
    stop_reason: str = "stopped"
    remaining: float | None = None
    announce: dict[str, Any] = field(default_factory=dict)  # the "started" message, sent when it starts
    client: str = "unknown"  # the peer's address: its jobs running or waiting are capped

    def __post_init__(self) -> None:
        self.running.set()

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def stop(self, reason: str = "stopped") -> None:
        if not self.stopping.is_set():
            self.stop_reason = reason
        self.stopping.set()
        self.running.set()


def run_job(job: TrainingJob, data: tuple[Any, ...], settings: Settings, send: Send, models: TrainedModels,
            worker: str) -> dict[str, Any]:
    """Train the job (blocking: a worker thread or an RQ job), keep its model, and give its final message: "done"
    or "stopped" with the model's id and URLs, or "error". ``worker`` names where it ran."""
    job.started = time.monotonic()
    try:
        final = train(job, data, settings, send)
        plan = job.plan
        models.put(TrainedModel(job.job_id, job.chain, plan.layers, plan.total_params, final["history"],
                                plan.config.train_size if plan.validation_size else None, plan.train_size))
        final.update(model_id=job.job_id, weights_url=f"/api/train/{job.job_id}/weights.npz",
                     predict_url=f"/api/train/{job.job_id}/predict", worker=worker)
        return final
    except (ArgumentError, ArgumentTypeError) as error:
        return {"type": "error", "job_id": job.job_id, "detail": str(error), "status": 422}
    except Exception:
        log.exception("training job %s failed", job.job_id)
        return {"type": "error", "job_id": job.job_id, "status": 500,
                "detail": f"internal error: training failed (the {'server' if worker == IN_PROCESS else 'worker'} "
                          "logged why)"}


class TrainRunner(Protocol):
    """Where a socket's jobs run: :class:`Trainer` (threads of this process) or ``app.train_queue.QueuedTrainer``
    (``kernel-lens worker`` processes, through Redis). A job's messages reach the socket through ``job.emit``."""

    settings: Settings

    async def submit(self, job: TrainingJob) -> int:
        """Start or queue a job; its queue position (0: started). TrainBusy when it can't be taken now."""

    def pause(self, job: TrainingJob) -> None:
        """Pause after the running batch (a waiting job pauses as soon as it starts)."""

    def resume(self, job: TrainingJob) -> None:
        """Go on after a pause."""

    def cancel(self, job: TrainingJob, reason: str = "stopped") -> None:
        """Stop a job: a waiting one leaves the queue at once, a running one after its current batch."""

    async def load(self) -> tuple[int, int]:
        """(running, waiting) jobs."""


class Trainer:
    """Training jobs: at most ``train_concurrent`` running (own thread slots), ``train_max_queue`` waiting."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limiter = anyio.CapacityLimiter(settings.train_concurrent)
        self.running: dict[str, TrainingJob] = {}
        self.waiting: deque[TrainingJob] = deque()
        self.idle = threading.Event()  # set when no job is running or waiting (tests wait on it)
        self.idle.set()
        self.models = TrainedModels(settings)
        self._data: tuple[Any, ...] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def data(self) -> tuple[Any, ...]:
        """The shipped digits (loaded once)."""
        if self._data is None:
            (x_train, y_train), (x_test, y_test) = load_digits()
            self._data = (x_train, y_train, x_test, y_test)
        return self._data

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the soonest estimated end of a running job."""
        ends = [job.remaining if job.remaining is not None else self.settings.train_time_limit
                for job in self.running.values()]
        return max(1, math.ceil(min(ends, default=1.0)))

    async def load(self) -> tuple[int, int]:
        return len(self.running), len(self.waiting)

    def pause(self, job: TrainingJob) -> None:
        job.pause()

    def resume(self, job: TrainingJob) -> None:
        job.resume()

    async def submit(self, job: TrainingJob) -> int:
        """Start a job, or queue it; returns its queue position (0: started). TrainBusy when the queue is full or
        the job's client already has ``train_max_per_client`` jobs running or waiting (on any of its sockets)."""
        mine = [other for other in (*self.running.values(), *self.waiting) if other.client == job.client]
        if len(mine) >= self.settings.train_max_per_client:
            ends = [other.remaining for other in mine if other.remaining is not None]
            wait = max(1, math.ceil(min(ends, default=self.settings.train_time_limit)))
            raise TrainBusy(f"this address already has {len(mine)} training job{'s' if len(mine) > 1 else ''} running "
                            f"or waiting, the most allowed per client ({self.settings.train_max_per_client}); stop it "
                            f"(another tab?) or try again in about {wait} s", wait)
        starts = len(self.running) < self.settings.train_concurrent
        if not starts and len(self.waiting) >= self.settings.train_max_queue:
            wait = self.retry_after()
            raise TrainBusy(f"the server is training {len(self.running)} models and {len(self.waiting)} wait, the "
                            f"most allowed; try again in about {wait} s", wait)
        if starts:
            self._start(job)
            return 0
        self.waiting.append(job)
        self.idle.clear()
        return len(self.waiting)

    def cancel(self, job: TrainingJob, reason: str = "stopped") -> None:
        """Stop a job: a waiting one leaves the queue at once, a running one after its current batch."""
        if job in self.waiting:
            self.waiting.remove(job)
            job.stop(reason)
            job.emit({"type": "stopped", "job_id": job.job_id, "reason": reason, "model_id": None})
            self._positions()
            self._check_idle()
        else:
            job.stop(reason)

    def _positions(self) -> None:
        for position, waiting in enumerate(self.waiting, start=1):
            waiting.emit({"type": "queued", "job_id": waiting.job_id, "position": position})

    def _check_idle(self) -> None:
        if not self.running and not self.waiting:
            self.idle.set()

    def _start(self, job: TrainingJob) -> None:
        self.running[job.job_id] = job
        self.idle.clear()
        if job.announce:
            job.emit({**job.announce, "worker": IN_PROCESS})
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: TrainingJob) -> None:
        loop = asyncio.get_running_loop()

        def send(message: dict[str, Any]) -> None:  # from the worker thread
            loop.call_soon_threadsafe(job.emit, message)

        try:
            final = await anyio.to_thread.run_sync(
                lambda: run_job(job, self.data(), self.settings, send, self.models, IN_PROCESS), limiter=self.limiter)
        finally:
            del self.running[job.job_id]
            while self.waiting and len(self.running) < self.settings.train_concurrent:
                self._start(self.waiting.popleft())
            self._positions()
            self._check_idle()
        job.emit(final)
