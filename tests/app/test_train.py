"""/ws/train and /api/train: stream, pause, resume, stop a tiny job; limits and queueing; a dropped connection
ends its job; predictions of the pretrained and trained models; weights download; empty pads refused."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.testing import assert_allclose
from PIL import Image
from starlette.testclient import WebSocketTestSession

from app.config import Settings
from app.main import create_app
from app.training import PRETRAINED, TrainedModel, TrainedModels, Trainer
from cnn_core.chain import Chain, pretrained
from cnn_core.datasets import load_digits

TINY = {"model": "cnn_1", "train_size": 100, "epochs": 1, "batch_size": 50}
LONG = {"model": "cnn_1", "train_size": 100, "epochs": 5, "batch_size": 10}  # 40 batches: seconds, not ms
FINAL = ("done", "stopped", "error")


@contextmanager
def train_client(**overrides: Any) -> Iterator[TestClient]:
    """Every job ends within the time limit, so every wait below on a job's messages is bounded."""
    settings = Settings(**{"train_time_limit": 60.0, **overrides})
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def client() -> Iterator[TestClient]:
    with train_client() as test_client:
        yield test_client


def trainer_of(client: TestClient) -> Trainer:
    trainer: Trainer = client.app.state.trainer  # type: ignore[attr-defined]
    return trainer


def until(ws: WebSocketTestSession, *kinds: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Messages up to the first of these kinds: (that message, the ones before it)."""
    seen: list[dict[str, Any]] = []
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] in kinds:
            return message, seen
        assert message["type"] not in FINAL, message
        seen.append(message)


def test_train_streams_a_tiny_job_to_done(client: TestClient) -> None:
    with client.websocket_connect("/ws/train") as ws:
        ws.send_json({"type": "start", "config": TINY})
        started, _ = until(ws, "started")
        assert (started["total_params"], started["train_size"], started["validation_size"], started["batches"]) == (
            63_522, 80, 20, 2)
        assert [row["output_shape"] for row in started["summary"]] == [[8, 28, 28], [8, 28, 28], [6272], [10]]
        assert started["config"]["optimizer"] == "rmsprop" and started["from"] == "scratch"
        done, before = until(ws, "done")
    progress = [m for m in before if m["type"] == "progress"]
    assert [(m["epoch"], m["batch"]) for m in progress][-1] == (0, 1)
    assert all(m["batches"] == 2 and 0 <= m["accuracy"] <= 1 and m["seconds_left"] >= 0 for m in progress)
    (epoch,) = [m for m in before if m["type"] == "epoch"]
    assert set(epoch["logs"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert epoch["filters"]["shape"] == [8, 5, 5] and epoch["filters"]["layer"] == "conv2d"
    assert np.array(epoch["confusion"]).shape == (10, 10) and np.array(epoch["confusion"]).sum() == 20
    (_, y_train), _ = load_digits()
    for wrong in epoch["misclassified"]:
        assert wrong["label"] == y_train[80 + wrong["index"]] != wrong["predicted"]
        assert abs(sum(wrong["probabilities"]) - 1) < 1e-3 and np.array(wrong["digit"]).shape == (28, 28)
    assert done["reason"] == "finished" and done["epochs_run"] == 1
    assert done["history"]["val_accuracy"] == [epoch["logs"]["val_accuracy"]]
    model_id = done["model_id"]
    info = client.get(f"/api/train/{model_id}").json()
    assert info["total_params"] == 63_522 and info["history"] == done["history"]
    saved = Chain.load(io.BytesIO(client.get(done["weights_url"]).content))
    answer = client.post(done["predict_url"], json={"validation_index": 3}).json()
    (x_train, _), _ = load_digits()
    assert_allclose(answer["probabilities"], saved.predict(x_train[83:84])[0], rtol=1e-5)
    assert answer["label"] == y_train[83]
    assert trainer_of(client).idle.is_set()


def test_train_pauses_resumes_and_stops_keeping_the_weights(client: TestClient) -> None:
    with client.websocket_connect("/ws/train") as ws:
        ws.send_json({"type": "start", "config": LONG})
        started, _ = until(ws, "started")
        ws.send_json({"type": "pause"})
        paused, _ = until(ws, "paused")
        job = trainer_of(client).running[started["job_id"]]
        assert job.parked.wait(timeout=30)  # the worker waits: no batch runs while paused
        ws.send_json({"type": "resume"})
        resumed, _ = until(ws, "resumed")
        assert (resumed["epoch"], resumed["batch"]) == (paused["epoch"], paused["batch"])
        ws.send_json({"type": "stop"})
        stopped, _ = until(ws, "stopped")
    assert stopped["reason"] == "stopped" and stopped["epochs_run"] < 5
    saved = Chain.load(io.BytesIO(client.get(stopped["weights_url"]).content))
    assert saved.total_params((1, 28, 28)) == 63_522
    assert trainer_of(client).idle.wait(timeout=30)


def test_train_continues_from_the_current_weights(client: TestClient) -> None:
    with client.websocket_connect("/ws/train") as ws:
        ws.send_json({"type": "start", "from": "current", "config": TINY})
        error, _ = until(ws, "error")
        assert error == {"type": "error", "status": 422, "detail": "there is no current model on this connection to "
                                                                   "continue; start from scratch"}
        ws.send_json({"type": "start", "config": TINY})
        first, _ = until(ws, "done")
        ws.send_json({"type": "start", "from": "current", "config": {**TINY, "model": "cnn_1_with_pooling"}})
        error, _ = until(ws, "error")
        assert error["detail"].startswith("from 'current' continues the last model, so model, layers, dropout")
        still = {**TINY, "optimizer": "sgd", "learning_rate": 1e-12}  # continuing barely moves the weights
        ws.send_json({"type": "start", "from": "current", "config": still})
        assert until(ws, "started")[0]["from"] == "current"
        second, _ = until(ws, "done")
    before = Chain.load(io.BytesIO(client.get(first["weights_url"]).content)).get_weights()
    after = Chain.load(io.BytesIO(client.get(second["weights_url"]).content)).get_weights()
    assert second["model_id"] != first["model_id"]
    for old, new in zip(before, after, strict=True):
        assert_allclose(new, old, atol=1e-6)


def test_train_queues_beyond_the_running_slots_then_refuses_with_retry_after() -> None:
    with train_client(train_concurrent=1, train_max_queue=2, train_max_per_client=4) as client, \
            client.websocket_connect("/ws/train") as a, client.websocket_connect("/ws/train") as b, \
            client.websocket_connect("/ws/train") as c, client.websocket_connect("/ws/train") as d:
        a.send_json({"type": "start", "config": LONG})
        until(a, "started")
        b.send_json({"type": "start", "config": TINY})
        queued, _ = until(b, "queued")
        assert queued["position"] == 1
        c.send_json({"type": "start", "config": TINY})
        assert until(c, "queued")[0]["position"] == 2
        assert client.get("/api/train/limits").json() == {
            "concurrent": 1, "max_queue": 2, "max_per_client": 4, "max_params": 500_000, "max_epochs": 50,
            "time_limit": 60.0,
            "running": 1, "queued": 2, "models": ["mnist", "cnn_1", "cnn_1_with_pooling", "convnetjs", "custom"]}
        d.send_json({"type": "start", "config": TINY})
        refused, _ = until(d, "error")
        assert refused["status"] == 429 and refused["retry_after"] >= 1
        assert refused["detail"] == (f"the server is training 1 models and 2 wait, the most allowed; try again in "
                                     f"about {refused['retry_after']} s")
        b.send_json({"type": "stop"})
        assert until(b, "stopped")[0] == {"type": "stopped", "job_id": queued["job_id"], "reason": "stopped",
                                          "model_id": None}
        assert until(c, "queued")[0]["position"] == 1  # moved up
        a.send_json({"type": "stop"})
        assert until(a, "stopped")[0]["reason"] == "stopped"
        assert until(c, "started")[0]["train_size"] == 80
        assert until(c, "done")[0]["reason"] == "finished"
        assert trainer_of(client).idle.wait(timeout=30)
        b.send_json({"type": "start", "from": "current", "config": TINY})  # b's job never ran: nothing to continue
        assert until(b, "error")[0]["detail"] == ("there is no current model on this connection to continue; start "
                                                  "from scratch")


def test_train_one_client_address_gets_one_job_across_its_sockets() -> None:
    """KERNEL_LENS_TRAIN_MAX_PER_CLIENT (default 1): a second socket from the same address is refused with a 429
    and a retry time while the first job runs, though a slot is free; another address is not; once the first job
    ends, the same address may train again."""
    with train_client(train_concurrent=2, train_max_queue=4) as client:
        assert client.get("/api/train/limits").json()["max_per_client"] == 1
        with client.websocket_connect("/ws/train") as a, client.websocket_connect("/ws/train") as b:
            a.send_json({"type": "start", "config": LONG})
            until(a, "progress")
            b.send_json({"type": "start", "config": TINY})
            refused, _ = until(b, "error")
            assert refused["status"] == 429 and refused["retry_after"] >= 1  # the running job's estimated rest
            assert refused["detail"] == ("this address already has 1 training job running or waiting, the most "
                                         "allowed per client (1); stop it (another tab?) or try again in about "
                                         f"{refused['retry_after']} s")
            assert len(trainer_of(client).running) == 1 and not trainer_of(client).waiting
            with TestClient(client.app, client=("10.0.0.2", 5000)) as other, \
                    other.websocket_connect("/ws/train") as c:  # another address: its own cap
                c.send_json({"type": "start", "config": TINY})
                assert until(c, "started")[0]["train_size"] == 80
                assert until(c, "done")[0]["reason"] == "finished"
            a.send_json({"type": "stop"})
            assert until(a, "stopped")[0]["reason"] == "stopped"
            b.send_json({"type": "start", "config": TINY})
            assert until(b, "done")[0]["reason"] == "finished"
        assert trainer_of(client).idle.wait(timeout=30)


def test_train_a_dropped_connection_ends_its_job_and_a_queued_one_leaves_the_queue() -> None:
    with train_client(train_concurrent=1, train_max_queue=1, train_max_per_client=2) as client:
        trainer = trainer_of(client)
        with client.websocket_connect("/ws/train") as a:
            a.send_json({"type": "start", "config": LONG})
            until(a, "progress")
            with client.websocket_connect("/ws/train") as b:
                b.send_json({"type": "start", "config": TINY})
                until(b, "queued")
            assert not trainer.waiting  # leaving dropped it at once
        assert trainer.idle.wait(timeout=30)
        assert not trainer.running and not trainer.waiting
        assert len(trainer.models) == 1  # the weights the closed job reached are kept


@pytest.mark.parametrize(("config", "detail"), [
    ({"epochs": 51}, "epochs must be at most 50 on this server, got 51"),
    ({"model": "mnist", "dropout": 0.5, "batch_norm": True}, None),  # fits: checked below by its summary
    ({"augment": {"shift": 1.5}}, "augment['shift'] must be a whole number of pixels below 28 (the input is 28x28), "
                                  "got 1.5"),
    ({"validation_split": 0, "early_stopping": {}},
     "early_stopping monitors 'val_loss', which needs validation_split > 0 or validation_data"),
    ({"early_stopping": {"patience": -1}}, "early_stopping['patience'] must be an integer >= 0, got -1"),
    ({"train_size": 99}, "train_size: Input should be greater than or equal to 100 (got 99)"),
    ({"model": "custom"}, "request: give layers exactly when model is 'custom'"),
    ({"model": "custom", "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3}]},
     "the last layer must be a dense layer of 10 units (one per digit), got conv2d with output shape (4, 26, 26)"),
    ({"model": "custom", "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 99}, {"type": "flatten"},
                                    {"type": "dense", "units": 10}]}, None),
    ({"validation_split": 0.999}, "validation_split 0.999 leaves no training or no validation samples out of 100"),
])
def test_train_checks_the_whole_config_first_with_the_engines_messages(client: TestClient, config: dict[str, Any],
                                                                       detail: str | None) -> None:
    full = {"train_size": 100, **config}
    answer = client.post("/api/train/summary", json=full)
    if detail is None and config.get("model") == "mnist":
        assert answer.status_code == 200
        kinds = [row["layer"].split("_")[0] for row in answer.json()["summary"]]
        assert kinds.count("batch") == 3 and kinds.count("dropout") == 2
        assert answer.json()["total_params"] == 93_322 + 4 * 160  # gamma, beta, moving mean and variance
        return
    assert answer.status_code == 422
    detail = detail or answer.json()["detail"]
    assert answer.json() == {"detail": detail}
    with client.websocket_connect("/ws/train") as ws:
        ws.send_json({"type": "start", "config": full})
        assert until(ws, "error")[0] == {"type": "error", "status": 422, "detail": detail}
    assert trainer_of(client).idle.is_set() and not trainer_of(client).models


def test_train_refuses_a_model_over_the_parameter_limit() -> None:
    with train_client(train_max_params=50_000) as client:
        assert client.post("/api/train/summary", json=TINY).json() == {
            "detail": "the model has 63,522 parameters; this server trains at most 50,000"}


@pytest.mark.parametrize(("message", "status", "detail"), [
    ("nope", 422, "messages must be JSON: Expecting value at character 0"),
    ("[1]", 422, "messages must be JSON objects with a 'type'"),
    ('{"type": "fly"}', 422, "unknown message type 'fly'; use start, pause, resume or stop"),
    ('{"type": "pause"}', 409, "there is no training job to pause; send start first"),
    ('{"type": "start", "from": "there"}', 422, "from must be 'scratch' or 'current', got 'there'"),
    ('{"type": "start", "conf": {}}', 422, "start takes config and from, got unknown key(s) 'conf'"),
])
def test_train_bad_messages_get_an_error_and_the_socket_stays_open(client: TestClient, message: str, status: int,
                                                                   detail: str) -> None:
    with client.websocket_connect("/ws/train") as ws:
        ws.send_text(message)
        assert ws.receive_json() == {"type": "error", "status": status, "detail": detail}
        ws.send_json({"type": "stop"})
        assert ws.receive_json()["status"] == 409


def test_train_a_second_start_on_a_busy_socket_is_refused(client: TestClient) -> None:
    with client.websocket_connect("/ws/train") as ws:
        ws.send_json({"type": "start", "config": LONG})
        until(ws, "started")
        ws.send_json({"type": "start", "config": TINY})
        assert until(ws, "error")[0] == {"type": "error", "status": 409, "detail": "a training job is already "
                                         "running on this connection; stop it first"}
        ws.send_json({"type": "stop"})
        until(ws, "stopped")


def test_predict_with_the_pretrained_model_gives_the_test_digits_labels(client: TestClient) -> None:
    _, (_, y_test) = load_digits()
    for index in range(5):
        answer = client.post("/api/train/mnist-pretrained/predict", json={"test_index": index}).json()
        assert answer["predicted"] == answer["label"] == y_test[index]
        assert abs(sum(answer["probabilities"]) - 1) < 1e-5 and len(answer["probabilities"]) == 10
    layers = answer["chain"]["layers"]
    assert [layer["output_shape"] for layer in layers][-1] == [10] and answer["chain"]["total_params"] == 93_322
    assert_allclose(layers[-1]["values"], answer["probabilities"], rtol=1e-6)
    thumbnail = client.get(layers[0]["maps"][0])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/png"
    assert client.post(layers[0]["run_url"]).json()["op"] == "conv2d"  # the learned kernels on the stage


def test_predict_prepares_a_drawn_pad_as_mnist_did(client: TestClient) -> None:
    _, (x_test, y_test) = load_digits()
    big = np.asarray(Image.fromarray(x_test[1, 0], mode="F").resize((280, 280), Image.Resampling.BILINEAR))
    pad = np.round(255 - np.clip(big, 0, 1) * 255).astype(int)  # dark ink on a white pad
    answer = client.post("/api/train/mnist-pretrained/predict", json={"pad": pad.tolist()}).json()
    assert answer["predicted"] == y_test[1] and answer["label"] is None
    steps = answer["steps"]
    assert steps["inverted"] is True and steps["centred"].startswith("data:image/png;base64,")
    assert np.array(answer["digit"]).shape == (28, 28)
    chosen = client.post("/api/train/mnist-pretrained/predict", json={"digit": answer["digit"]}).json()
    assert_allclose(chosen["probabilities"], answer["probabilities"], atol=1e-6)  # the digit is sent rounded


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"pad": np.zeros((280, 280), int).tolist()}, 422,
     "the pad is empty: draw a digit (no ink was found, every pixel has about the same brightness)"),
    ({"pad": [[0] * 561]}, 422, "pad must be at most 560x560, got 1x561"),
    ({"pad": [[0, 1], [0]]}, 422, "pad must be a non-empty rectangle of numbers (rows of equal length)"),
    ({"digit": [[0.5] * 27] * 28}, 422, "digit must be 28x28 values in [0, 1], got shape [28, 27] with values "
                                        "[0.5, 0.5]"),
    ({"validation_index": 0}, 422, "model mnist-pretrained has no validation digits (none were held out); use "
                                   "test_index"),
    ({"test_index": 2000}, 422, "test_index: Input should be less than 2000 (got 2000)"),
    ({}, 422, "request: give exactly one of digit, pad, validation_index or test_index"),
])
def test_predict_refuses_bad_digits_with_a_clear_detail(client: TestClient, body: dict[str, Any], status: int,
                                                        detail: str) -> None:
    answer = client.post("/api/train/mnist-pretrained/predict", json=body)
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})


def test_unknown_models_are_404(client: TestClient) -> None:
    detail = {"detail": "model nope is unknown or has expired; train it again (or use mnist-pretrained)"}
    assert client.get("/api/train/nope").json() == detail
    assert client.get("/api/train/nope/weights.npz").status_code == 404
    assert client.post("/api/train/nope/predict", json={"test_index": 0}).json() == detail


def test_pretrained_weights_download_loads_identically(client: TestClient) -> None:
    saved = Chain.load(io.BytesIO(client.get("/api/train/mnist-pretrained/weights.npz").content))
    _, (x_test, _) = load_digits()
    assert_allclose(saved.predict(x_test[:4]), pretrained("mnist").predict(x_test[:4]), rtol=1e-6)


def test_openapi_lists_the_training_endpoints_with_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/api/train/limits", "/api/train/summary", "/api/train/{model_id}",
                 "/api/train/{model_id}/predict", "/api/train/{model_id}/weights.npz"):
        assert path in schema["paths"]
    for example in schema["components"]["schemas"]["TrainConfig"]["examples"]:
        assert client.post("/api/train/summary", json=example).status_code == 200, example
    for example in schema["components"]["schemas"]["PredictRequest"]["examples"]:
        if "validation_index" not in example:  # the pretrained model has none
            assert client.post("/api/train/mnist-pretrained/predict", json=example).status_code == 200, example


def test_train_a_job_over_its_time_limit_is_stopped_keeping_its_weights() -> None:
    with train_client(train_time_limit=0.5) as client, client.websocket_connect("/ws/train") as ws:
        ws.send_json({"type": "start", "config": {**LONG, "epochs": 50}})
        stopped, _ = until(ws, "stopped")
        assert stopped["reason"] == "time limit" and stopped["epochs_run"] < 50
        assert client.get(stopped["weights_url"]).status_code == 200


def test_train_a_paused_job_still_ends_at_its_time_limit() -> None:
    with train_client(train_time_limit=5.0) as client, client.websocket_connect("/ws/train") as ws:
        trainer_of(client).data()  # loaded before the clock starts
        ws.send_json({"type": "start", "config": LONG})
        ws.send_json({"type": "pause"})
        paused, _ = until(ws, "paused")
        stopped, _ = until(ws, "stopped")  # no resume: the worker wakes at the deadline
        assert stopped["reason"] == "time limit" and stopped["seconds"] >= 5.0
        assert (paused["epoch"], paused["batch"]) == (0, 0)


def test_trained_models_are_kept_within_their_count_and_byte_budgets() -> None:
    def model(model_id: str, units: int) -> TrainedModel:
        chain = Chain([{"type": "flatten"}, {"type": "dense", "units": units}])
        chain.build((1, 28, 28))
        return TrainedModel(model_id, chain, chain.specs, chain.total_params((1, 28, 28)), {}, None)

    models = TrainedModels(Settings(train_models=2, train_model_bytes=1 << 20))
    for name in ("a", "b"):
        models.put(model(name, 10))
    assert models.get("a") is not None  # now the newest used
    models.put(model("c", 10))
    assert (models.get("b"), len(models)) == (None, 2) and models.get("a") is not None
    models.put(model("big", 200))  # 784 x 200 float64: over the byte budget with anything else
    assert len(models) == 1 and models.get("big") is not None and models.used == (784 * 200 + 200) * 8
    assert models.get(PRETRAINED) is not None and len(models) == 1  # always there, not counted


def test_train_progress_carries_filters_and_send_time_and_the_model_exports_as_code(client: TestClient) -> None:
    """Progress messages carry the server's send time (for the page's latency benchmark) and, at most twice a
    second, the first layer's filters as they learn; GET /api/train/{id}/export writes the trained weights into
    PyTorch and Keras code exactly (repr round-trips)."""
    config = {**TINY, "model": "cnn_1_with_pooling", "dropout": 0.25}
    before = time.time()
    with client.websocket_connect("/ws/train") as ws:
        ws.send_json({"type": "start", "config": config})
        done, seen = until(ws, "done")
    progress = [m for m in seen if m["type"] == "progress"]
    assert all(before <= m["sent_at"] <= time.time() for m in progress)
    first = progress[0]["filters"]
    assert first["shape"] == [8, 5, 5] and first["scale"] == pytest.approx(np.abs(first["values"]).max(), abs=1e-5)
    saved = Chain.load(io.BytesIO(client.get(done["weights_url"]).content))
    conv = next(layer for layer in saved.layers if layer.kind == "conv2d")
    dense = next(layer for layer in saved.layers if layer.kind == "dense")
    assert conv.weight is not None and dense.weight is not None
    torch_code = client.get(f"/api/train/{done['model_id']}/export", params={"framework": "pytorch"})
    assert torch_code.status_code == 200 and torch_code.headers["content-type"].startswith("text/x-python")
    assert torch_code.headers["content-disposition"] == (f'attachment; filename="kernel_lens_{done["model_id"]}_'
                                                         'pytorch.py"')
    compile(torch_code.text, "pytorch.py", "exec")
    assert repr(conv.weight.astype(np.float64).tolist()) in torch_code.text
    assert "nn.Dropout" in torch_code.text and "MaxPool2d" in torch_code.text
    keras = client.get(f"/api/train/{done['model_id']}/export?framework=keras")
    compile(keras.text, "keras.py", "exec")
    assert repr(dense.weight.astype(np.float64).tolist()) in keras.text and "layers.Dropout(0.25)" in keras.text
    assert repr(conv.weight.astype(np.float64).transpose(2, 3, 1, 0).tolist()) in keras.text
    pretrained_code = client.get("/api/train/mnist-pretrained/export")
    assert pretrained_code.status_code == 200 and pretrained_code.text.count("nn.Conv2d") == 3
    assert client.get("/api/train/nope/export").status_code == 404
    assert client.get(f"/api/train/{done['model_id']}/export?framework=onnx").status_code == 422
