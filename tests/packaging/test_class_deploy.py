"""The class deployment: docker-compose.yml's structure (no container engine here), deploy/nginx.conf accepted by
a real nginx, and the same arrangement run as processes on free ports: nginx in front of two `kernel-lens serve`
processes, a `kernel-lens worker` and a redis-server. Through nginx: upload, run, frames, a WebSocket playing,
and a GIF job, with requests spread over both servers; an upload just over the app's limit gets the app's own
413, not nginx's."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
import yaml
from PIL import Image

from app.config import Settings
from app.routes.images import FORM_OVERHEAD
from tests.app.conftest import png_bytes
from tests.packaging.processes import redis_server, wait_for_port
from tests.servers import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
DIGEST = re.compile(r"[a-z0-9./-]+:[0-9][\w.-]*@sha256:[0-9a-f]{64}")
CONV = {"op": "conv2d", "filters": [{"kernel": {"name": "sobel_x"}}], "padding": 1}


def services() -> dict[str, Any]:
    parsed = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(parsed, dict)
    found: dict[str, Any] = parsed["services"]
    return found


def test_compose_has_redis_two_apps_a_worker_and_a_proxy_pinned() -> None:
    found = services()
    assert set(found) == {"redis", "app1", "app2", "worker", "proxy"}
    for name in ("redis", "proxy"):
        assert DIGEST.fullmatch(found[name]["image"]), found[name]["image"]  # pinned by version and digest
    for name in ("app1", "app2", "worker"):
        service = found[name]
        assert service["build"] == "." and service["environment"]["KERNEL_LENS_REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert found["app1"] == found["app2"] and "command" not in found["app1"]  # the image's CMD: kernel-lens serve
    assert found["worker"]["command"] == ["kernel-lens", "worker"]
    assert found["worker"]["healthcheck"] == {"disable": True}  # it serves no HTTP for the image's HEALTHCHECK
    assert found["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    proxy = found["proxy"]
    assert proxy["ports"] == ["8080:80"]
    source, target, mode = proxy["volumes"][0].split(":")
    assert (ROOT / source).resolve() == NGINX_CONF and target == "/etc/nginx/conf.d/default.conf" and mode == "ro"
    assert {name: dep["condition"] for name, dep in proxy["depends_on"].items()} == {
        "app1": "service_healthy", "app2": "service_healthy"}


def test_nginx_conf_matches_the_apps_port_and_upload_limit() -> None:
    text = NGINX_CONF.read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    port = re.search(r"KERNEL_LENS_PORT=(\d+)", dockerfile)
    assert port is not None
    assert re.findall(r"server (app\d):(\d+)", text) == [("app1", port.group(1)), ("app2", port.group(1))]
    size = re.search(r"client_max_body_size (\d+)m;", text)
    assert size is not None
    app_limit = Settings().max_upload_bytes + FORM_OVERHEAD
    # the app answers any upload it refuses with its own 413; nginx stops only what is far beyond
    assert app_limit <= int(size.group(1)) << 20 <= app_limit + (1 << 20)
    assert "proxy_set_header Host $http_host;" in text  # the port kept: the same-origin check compares it
    assert re.search(r"location /ws/ \{[^}]*proxy_set_header Upgrade \$http_upgrade;[^}]*"
                     r"proxy_set_header Connection \$connection_upgrade;", text)


@dataclass(frozen=True)
class Nginx:
    base: str
    process: subprocess.Popen[bytes]


def harness(folder: Path, listen: int, upstreams: list[int]) -> Path:
    """deploy/nginx.conf with loopback ports for app1, app2 and the listener, in a main config of its own."""
    text = NGINX_CONF.read_text()
    for number, port in enumerate(upstreams, start=1):
        assert text.count(f"server app{number}:8000 ") == 1
        text = text.replace(f"server app{number}:8000 ", f"server 127.0.0.1:{port} ")
    assert text.count("listen 80;") == 1
    text = text.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    (folder / "kernel-lens.conf").write_text(text)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / name).mkdir(exist_ok=True)
    main = folder / "nginx.conf"
    # as root, nginx's workers would switch to "nobody", who can't enter pytest's private temporary folders
    user = "user root;" if os.geteuid() == 0 else ""
    main.write_text(f"""
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/kernel-lens.conf;
}}
""")
    return main


def nginx_program() -> str:
    program = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if program is None:
        pytest.skip("nginx is not installed (apt-get install nginx; scripts/test.sh installs it)")
    return program


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    main = harness(tmp_path, free_port(), [free_port(), free_port()])
    done = subprocess.run([nginx_program(), "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr


@contextmanager
def nginx(folder: Path, upstreams: list[int]) -> Iterator[Nginx]:
    listen = free_port()
    main = harness(folder, listen, upstreams)
    log = folder / "nginx.out"
    with log.open("wb") as out:
        process = subprocess.Popen([nginx_program(), "-p", str(folder), "-c", str(main), "-g", "daemon off;"],
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(listen, process, log)
            yield Nginx(f"http://127.0.0.1:{listen}", process)
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextmanager
def class_of(folder: Path) -> Iterator[tuple[Nginx, list[Path]]]:
    """Redis, two servers, a worker and nginx, as in docker-compose.yml; yields nginx and the servers' logs."""
    with ExitStack() as stack:
        url = stack.enter_context(redis_server(folder))
        env = {key: value for key, value in os.environ.items() if not key.startswith("KERNEL_LENS_")}
        env.update(KERNEL_LENS_REDIS_URL=url, PYTHONPATH=str(ROOT))
        logs = [folder / "app1.log", folder / "app2.log"]
        bases = [stack.enter_context(serving([sys.executable, "-m", "app.cli"], log, cwd=ROOT, env=env, timeout=60))
                 for log in logs]
        worker_log = (folder / "worker.log").open("wb")
        stack.callback(worker_log.close)
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, stdout=worker_log,
                                  stderr=subprocess.STDOUT)

        def stop_worker() -> None:
            worker.terminate()
            worker.wait(timeout=30)

        stack.callback(stop_worker)
        proxy = stack.enter_context(nginx(folder, [int(base.rsplit(":", 1)[1]) for base in bases]))
        yield proxy, logs


async def play(base: str, origin: str, run_id: str, total: int) -> list[int]:
    """Open the run over the WebSocket through nginx, play at 1,000 steps/s with acks, seek; the frame indexes."""
    seen: list[int] = []
    async with websockets.connect(base.replace("http", "ws") + "/ws/animate", origin=origin,  # type: ignore[arg-type]
                                  max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "open", "run_id": run_id, "format": "json"}))
        opened = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert opened["type"] == "opened" and opened["run"]["run_id"] == run_id
        await ws.send(json.dumps({"type": "play", "fps": 1000}))
        while len(seen) < total:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message["type"] == "frames":
                assert len(message["frames"]) == message["count"]
                seen.extend(range(message["start"], message["start"] + message["count"]))
                await ws.send(json.dumps({"type": "ack", "index": seen[-1]}))
            else:
                assert message["type"] == "state", message
        await ws.send(json.dumps({"type": "seek", "index": 7}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message["type"] == "frames" and message["start"] == 7:
                seen.append(message["start"])
                return seen


@pytest.mark.slow
def test_a_class_through_nginx_two_servers_a_worker_and_redis(tmp_path: Path) -> None:
    nginx_program()
    with class_of(tmp_path) as (proxy, logs), httpx.Client(base_url=proxy.base, timeout=60) as client:
        origin = proxy.base  # what a browser sends: the page's own address, port included
        page = client.get("/")
        assert page.status_code == 200 and "Kernel Lens" in page.text
        assert client.get("/static/js/main.js").status_code == 200
        uploaded = client.post("/api/images", headers={"origin": origin},
                               files={"file": ("photo.png", png_bytes(64, 48, 7), "image/png")})
        assert uploaded.status_code == 201, uploaded.text
        image = uploaded.json()
        request = {"source": {"image_id": image["id"], "color": "gray"}, "operation": CONV}
        run = client.post("/api/run", json=request, headers={"origin": origin})
        assert run.status_code == 200, run.text
        run_id, total = run.json()["run_id"], run.json()["frame_count"]
        for _ in range(4):  # round robin: each server answers some of these
            assert client.get(f"/api/images/{image['id']}.png").status_code == 200
        for _ in range(4):
            frames = client.get("/api/frames", params={"run_id": run_id, "start": 0, "count": 5})
            assert frames.status_code == 200 and len(frames.json()["frames"]) == 5, frames.text
        for log in logs:
            text = log.read_text()
            assert f"/api/images/{image['id']}.png" in text and f"/api/frames?run_id={run_id}" in text, log.name

        # in a thread of its own: the browser tests' sync Playwright may have left an event loop on this one
        with ThreadPoolExecutor(1) as thread:
            seen = thread.submit(asyncio.run, play(proxy.base, origin, run_id, total)).result()
        assert seen[:total] == list(range(total)) and seen[-1] == 7

        job = client.post(f"/api/runs/{run_id}/gif?frames=6", headers={"origin": origin})
        assert job.status_code == 202, job.text
        state = client.get(job.json()["status_url"]).json()
        while not state["done"]:
            state = client.get(job.json()["status_url"]).json()
        assert state["detail"] is None and state["progress"] == 1.0
        gif = client.get(state["gif_url"])
        assert gif.status_code == 200 and Image.open(io.BytesIO(gif.content)).n_frames == 6

        # a body just over the app's limit reaches the app, which says what is allowed (JSON, not nginx's page)
        limit = Settings().max_upload_bytes
        refused = client.post("/api/images", headers={"origin": origin},
                              files={"file": ("big.png", bytes(limit + 1000), "image/png")})
        assert refused.status_code == 413 and "application/json" in refused.headers["content-type"]
        assert refused.json() == {"detail": f"the file is {limit + 1000:,} bytes; at most {limit:,} are allowed"}
        # a cross-site POST is still refused behind the proxy
        foreign = client.post("/api/run", json=request, headers={"origin": "https://elsewhere.example"})
        assert foreign.status_code == 403
