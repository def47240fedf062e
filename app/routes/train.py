"""Training: a WebSocket that runs and streams a training job, and the trained models' endpoints.

Client -> server (JSON text messages on /ws/train):
    {"type": "start", "config": <TrainConfig>}                  train a new model from scratch
    {"type": "start", "config": {...}, "from": "current"}       continue training this socket's last model
    {"type": "pause"}, {"type": "resume"}
    {"type": "stop"}                                            ends the job after its batch, keeping the weights
Server -> client (JSON):
    {"type": "queued", "job_id", "position"}                    again each time it moves up
    {"type": "started", "job_id", "model_id", "from", "config", <TrainSummary>, "worker"}
    {"type": "progress", "job_id", "epoch", "epochs", "batch", "batches", "loss", "accuracy", "seconds",
     "seconds_left"}                                            at most every 0.1 s, and each epoch's last batch
    {"type": "epoch", "job_id", "epoch", "epochs", "logs", "seconds", "filters", "confusion", "misclassified"}
    {"type": "paused", "job_id", "epoch", "batch"}              once the worker has finished its batch and waits
    {"type": "resumed", "job_id", "epoch", "batch"}
    {"type": "done" | "stopped", "job_id", "reason", "history", "epochs_run", "best_epoch", "seconds",
     "model_id", "weights_url", "predict_url", "worker"}        a queued job stopped has "model_id": null only
    {"type": "error", "detail", "status"}                       "retry_after" (seconds) with status 429 (and 503)
"worker" says where the job ran: "in_process" (a thread of this server: no Redis) or the name of the
`kernel-lens worker` process (RQ's worker name) that took it from the Redis queue (app.train_queue); the
messages are the same either way. A bad message gets an error and the connection stays open; closing the
socket stops its job.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any, Literal

import anyio
from fastapi import APIRouter, HTTPException, Request, Response, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from app.deps import RegistryDep
from app.errors import validation_message
from app.export import keras_code, pytorch_code
from app.routes.chains import describe_chain
from app.schemas import ErrorBody
from app.train_predict import choose_digit, compute_digit
from app.train_schemas import (
    PredictRequest,
    PredictResponse,
    TrainConfig,
    TrainedModelInfo,
    TrainLimits,
    TrainSummary,
)
from app.training import (
    INPUT_SHAPE,
    MODELS,
    Plan,
    TrainBusy,
    TrainedModel,
    Trainer,
    TrainingJob,
    TrainRunner,
    check_config,
    config_layers,
)
from cnn_core.chain import Chain
from cnn_core.errors import ArgumentError, ArgumentTypeError

router = APIRouter(tags=["train"])


class ClientError(Exception):
    """A bad message: reported with the HTTP status it would have had; the connection stays open."""

    def __init__(self, detail: str, status: int = 422, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.extra = extra


def summary_of(plan: Plan) -> TrainSummary:
    """The summary of a checked config."""
    return TrainSummary(layers=plan.layers, summary=plan.summary, total_params=plan.total_params,
                        train_size=plan.train_size, validation_size=plan.validation_size,
                        batches=-(-plan.train_size // plan.config.batch_size))


class TrainingSession:
    """One socket's training: at most one job at a time, and the last model it trained. Its jobs run where
    ``runner`` runs them (this process, or the Redis queue)."""

    def __init__(self, websocket: WebSocket, runner: TrainRunner) -> None:
        self.websocket = websocket
        self.runner = runner
        self.job: TrainingJob | None = None
        self.current: Chain | None = None
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def serve(self) -> None:
        """Run until the client disconnects; its job is then stopped."""
        sender = asyncio.create_task(self.send_loop())
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                try:
                    await self.handle(message.get("text"))
                except ClientError as error:
                    self.outbox.put_nowait({"type": "error", "detail": str(error), "status": error.status,
                                            **error.extra})
        except WebSocketDisconnect:
            return
        finally:
            if self.job is not None:
                self.runner.cancel(self.job, "closed")
            sender.cancel()

    async def send_loop(self) -> None:
        """Send queued messages in order (training threads queue them through the event loop)."""
        while True:
            message = await self.outbox.get()
            if self.websocket.client_state != WebSocketState.CONNECTED:
                continue
            try:
                await self.websocket.send_text(json.dumps(message, allow_nan=False))
            except (WebSocketDisconnect, RuntimeError):
                return

    def emit(self, message: dict[str, Any]) -> None:
        """Queue a message for the client (on the event loop); a job's final message frees the session."""
        if self.job is not None and message.get("job_id") == self.job.job_id \
                and message["type"] in ("done", "stopped", "error"):
            if self.job.chain.layers:  # it ran (a job stopped while queued has no weights to continue from)
                self.current = self.job.chain
            self.job = None
        self.outbox.put_nowait(message)

    async def handle(self, text: str | None) -> None:
        """Apply one control message."""
        if text is None:
            raise ClientError("send control messages as JSON text, e.g. {\"type\": \"start\", \"config\": {}}")
        try:
            message = json.loads(text)
        except json.JSONDecodeError as error:
            raise ClientError(f"messages must be JSON: {error.msg} at character {error.pos}") from None
        if not isinstance(message, dict):
            raise ClientError("messages must be JSON objects with a 'type'")
        kind = message.get("type")
        if kind == "start":
            await self.start(message)
            return
        if kind not in ("pause", "resume", "stop"):
            raise ClientError(f"unknown message type {kind!r}; use start, pause, resume or stop")
        if self.job is None:
            raise ClientError(f"there is no training job to {kind}; send start first", 409)
        if kind == "pause":  # the worker says "paused" when it has finished its batch and waits
            self.runner.pause(self.job)
        elif kind == "resume":
            self.runner.resume(self.job)
        else:
            self.runner.cancel(self.job, "stopped")

    async def start(self, message: dict[str, Any]) -> None:
        """Check the whole config, then start or queue a job (429 when the queue is full)."""
        if self.job is not None:
            raise ClientError("a training job is already running on this connection; stop it first", 409)
        origin = message.get("from", "scratch")
        if origin not in ("scratch", "current"):
            raise ClientError(f"from must be 'scratch' or 'current', got {origin!r}")
        unknown = sorted(set(message) - {"type", "config", "from"})
        if unknown:
            raise ClientError(f"start takes config and from, got unknown key(s) {', '.join(map(repr, unknown))}")
        try:
            config = TrainConfig.model_validate(message.get("config", {}))
            if origin == "current":
                if self.current is None:
                    raise ClientError("there is no current model on this connection to continue; start from scratch")
                if config_layers(config) != self.current.specs:
                    raise ClientError("from 'current' continues the last model, so model, layers, dropout and "
                                      "batch_norm must be as they were; start from scratch to change them")
                plan = check_config(config, self.runner.settings, self.current.specs)
                chain = Chain(self.current.specs, seed=config.seed)
                chain.build(INPUT_SHAPE)
                chain.set_weights(self.current.get_weights())
            else:
                plan = check_config(config, self.runner.settings)
                chain = Chain(plan.layers, seed=config.seed, max_weights=self.runner.settings.max_layer_weights)
        except ValidationError as error:
            raise ClientError(validation_message(error)) from None  # type: ignore[arg-type]
        except (ArgumentError, ArgumentTypeError) as error:
            raise ClientError(str(error)) from None
        client = self.websocket.client.host if self.websocket.client else "unknown"
        job = TrainingJob(plan, chain, self.emit, client=client)
        job.announce = {"type": "started", "job_id": job.job_id, "model_id": job.job_id, "from": origin,
                        "config": config.model_dump(), **summary_of(plan).model_dump()}
        self.job = job
        try:
            position = await self.runner.submit(job)
        except TrainBusy as error:
            self.job = None
            raise ClientError(str(error), error.status, retry_after=error.retry_after) from None
        if position:
            self.outbox.put_nowait({"type": "queued", "job_id": job.job_id, "position": position})


@router.websocket("/ws/train")
async def train_socket(websocket: WebSocket) -> None:
    """Training with live progress; see the module docstring for the protocol."""
    await websocket.accept()
    await TrainingSession(websocket, websocket.app.state.train_runner).serve()


def _trainer(request: Request) -> Trainer:
    trainer: Trainer = request.app.state.trainer
    return trainer


def _model(request: Request, model_id: str) -> TrainedModel:
    model = _trainer(request).models.get(model_id)
    if model is None:
        raise HTTPException(404, f"model {model_id} is unknown or has expired; train it again (or use "
                                 "mnist-pretrained)")
    return model


@router.get("/api/train/limits", response_model=TrainLimits)
async def limits(request: Request) -> TrainLimits:
    """The training limits of this server and its current load."""
    settings = _trainer(request).settings
    running, queued = await request.app.state.train_runner.load()
    return TrainLimits(concurrent=settings.train_concurrent, max_queue=settings.train_max_queue,
                       max_per_client=settings.train_max_per_client,
                       max_params=settings.train_max_params, max_epochs=settings.train_max_epochs,
                       time_limit=settings.train_time_limit, running=running, queued=queued,
                       models=[*MODELS, "custom"])


@router.post("/api/train/summary", response_model=TrainSummary, responses={422: {"model": ErrorBody}})
async def summary(body: TrainConfig, request: Request) -> TrainSummary:
    """Check a training config as /ws/train would (same messages) and give the model's summary."""
    return summary_of(check_config(body, _trainer(request).settings))


@router.get("/api/train/{model_id}", response_model=TrainedModelInfo, responses={404: {"model": ErrorBody}})
async def model_info(model_id: str, request: Request) -> TrainedModelInfo:
    """A trained model: its layers, parameters and training history."""
    model = _model(request, model_id)
    return TrainedModelInfo(model_id=model.model_id, layers=model.layers, total_params=model.total_params,
                            history=model.history, weights_url=f"/api/train/{model_id}/weights.npz",
                            predict_url=f"/api/train/{model_id}/predict")


@router.post("/api/train/{model_id}/predict", response_model=PredictResponse,
             responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def predict(model_id: str, body: PredictRequest, request: Request, registry: RegistryDep) -> PredictResponse:
    """A trained model on one digit: the ten probabilities, the digit it saw (a pad prepared as MNIST's digits
    were, with the steps) and every layer's outputs, whose maps and layer runs the /api/chains endpoints serve."""
    model = _model(request, model_id)
    trainer = _trainer(request)

    def work() -> tuple[Any, ...]:
        digit, label, steps = choose_digit(body, model, trainer.data())
        computed = compute_digit(model, digit)
        return digit, label, steps, computed, model.chain.predict(computed.x[None])[0]

    digit, label, steps, computed, probabilities = await registry.in_thread(work)
    request.app.state.chains.put(computed.chain_id, computed)
    return PredictResponse(model_id=model_id, probabilities=[float(p) for p in probabilities],
                           predicted=int(probabilities.argmax()), label=label,
                           digit=[[round(float(v), 5) for v in row] for row in digit], steps=steps,
                           chain=describe_chain(computed))


@router.get("/api/train/{model_id}/weights.npz", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": ErrorBody}})
async def weights(model_id: str, request: Request) -> Response:
    """The trained chain as Chain.save writes it (load it with cnn_core.chain.Chain.load)."""
    buffer = io.BytesIO()
    _model(request, model_id).chain.save(buffer)  # type: ignore[arg-type]  # np.savez takes a file object too
    return Response(buffer.getvalue(), media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="kernel-lens-{model_id}.npz"'})


@router.get("/api/train/{model_id}/export", response_class=Response,
            responses={200: {"content": {"text/x-python": {}}}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def export(model_id: str, request: Request, framework: Literal["pytorch", "keras"] = "pytorch") -> Response:
    """A trained model as PyTorch or Keras code that rebuilds it with its exact weights (in inference mode) and runs
    it on the first held-out test digit, written into the code."""
    model = _model(request, model_id)
    digit = _trainer(request).data()[2][0]  # (1, 28, 28)
    maker = pytorch_code if framework == "pytorch" else keras_code
    code = await anyio.to_thread.run_sync(lambda: maker(model.chain, digit, f"/api/train/{model_id}/export"))
    return Response(code, media_type="text/x-python", headers={
        "Content-Disposition": f'attachment; filename="kernel_lens_{model_id}_{framework}.py"'})
