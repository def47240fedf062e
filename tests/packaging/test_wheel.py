"""The wheel works anywhere: built from the sdist (as `python -m build` does), installed in a fresh venv and
started from another folder, it serves the page, every static file, the samples, /docs and the shipped data.

Slow (about 20 s): it builds, installs and starts the package. The venv sees the machine's site-packages so
that no dependency is downloaded; the test checks that `app` and `cnn_core` are imported from the venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import cnn_core
from tests.servers import serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# what `python -m build` reads: the project files, and what MANIFEST.in puts in the sdist
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "app", "cnn_core", "static", "templates",
           "tests", "docs", "scripts", "benchmarks")
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "dist", "*.egg-info", "artifacts", "results")


@dataclass(frozen=True)
class Built:
    source: Path
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class Installed:
    python: Path
    command: Path


def run(args: list[str | Path], cwd: Path, timeout: float = 120) -> str:
    """Run a command, failing the test with its output if it fails."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def backend(hook: str, source: Path, out: Path) -> Path:
    """Call setuptools' PEP 517 hook in ``source``, as `python -m build --no-isolation` does."""
    script = f"import sys, setuptools.build_meta as backend; print(backend.{hook}(sys.argv[1]))"
    name = run([sys.executable, "-c", script, out], cwd=source).strip().splitlines()[-1]
    return out / name


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The sdist built from a copy of the checkout, then the wheel built from the unpacked sdist."""
    tmp = tmp_path_factory.mktemp("build")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=LEFT_OUT)
        else:
            shutil.copy2(ROOT / name, source / name)
    sdist = backend("build_sdist", source, tmp)
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp / "unpacked", filter="data")
    wheel = backend("build_wheel", tmp / "unpacked" / sdist.name.removesuffix(".tar.gz"), tmp)
    return Built(source, sdist, wheel)


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a fresh venv (dependencies from the machine's site-packages, nothing downloaded)."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    # --ignore-installed: the checkout's own editable install, seen through the system site-packages, is not it
    run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index",
         "--ignore-installed", built.wheel], cwd=venv.parent)
    return Installed(python, venv / "bin" / "kernel-lens")


@pytest.fixture(scope="module")
def server(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`kernel-lens serve` from the venv, started in an empty folder far from the checkout."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with serving([str(installed.command)], elsewhere / "server.log", cwd=elsewhere, env=env, timeout=60) as base:
        yield base


def files_under(folder: Path) -> list[Path]:
    return sorted(path.relative_to(folder) for path in folder.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts)


def test_sdist_holds_the_tests_the_page_and_the_license(built: Built) -> None:
    with tarfile.open(built.sdist) as archive:
        top = built.sdist.name.removesuffix(".tar.gz")
        names = {name.removeprefix(f"{top}/") for name in archive.getnames()}
    expected = {"LICENSE", "README.md", "pyproject.toml", "tests/conftest.py", "tests/packaging/test_wheel.py",
                "tests/fixtures/torch_golden.npz", "static/js/main.js", "templates/index.html",
                "cnn_core/data/digits.npz", "app/samples/shapes.png", "scripts/test.sh"}
    assert expected <= names
    assert not any("__pycache__" in name or name.startswith("tests/artifacts") for name in names)


def test_wheel_holds_every_module_page_file_and_data_file(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        names = set(archive.namelist())
    wanted = {f"{package}/{path.as_posix()}" for package in ("app", "cnn_core")
              for path in files_under(built.source / package)}
    wanted |= {f"app/{folder}/{path.as_posix()}" for folder in ("static", "templates")
               for path in files_under(built.source / folder)}
    missing = sorted(wanted - names)
    assert not missing, f"not in the wheel (a new package goes in [tool.setuptools] packages): {missing}"
    assert built.wheel.name == f"kernel_lens_cnn-{cnn_core.__version__}-py3-none-any.whl"
    assert f"kernel_lens_cnn-{cnn_core.__version__}.dist-info/licenses/LICENSE" in names


def test_installed_package_is_the_venvs_own_and_finds_its_files(installed: Installed) -> None:
    script = ("import app, cnn_core, app.paths; "
              "print(app.__file__, cnn_core.__file__, app.paths.STATIC, app.paths.TEMPLATES, sep='\\n')")
    lines = run([installed.python, "-c", script], cwd=installed.python.parent).split()
    site_packages = installed.python.parent.parent / "lib"
    assert all(Path(line).is_relative_to(site_packages) for line in lines), lines
    assert Path(lines[2]).parts[-2:] == ("app", "static") and Path(lines[3]).parts[-2:] == ("app", "templates")


def test_installed_command_prints_the_one_version(installed: Installed) -> None:
    output = run([installed.command, "--version"], cwd=installed.python.parent)
    assert output.strip() == f"kernel-lens {cnn_core.__version__}"


def test_installed_engine_loads_the_shipped_digits_and_weights(installed: Installed) -> None:
    script = ("from cnn_core.datasets import load_digits; from cnn_core.chain import pretrained; "
              "train, test = load_digits(); print(len(train[0]), pretrained('mnist').total_params((1, 28, 28)))")
    output = run([installed.python, "-c", script], cwd=installed.python.parent)
    count, params = map(int, output.split())
    assert count == 8000 and params == 93322


def test_installed_server_serves_page_static_files_samples_and_docs(server: str, built: Built) -> None:
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and "Kernel Lens" in page.text and 'src="static/js/main.js"' in page.text
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok", "version": cnn_core.__version__}
    for path in files_under(built.source / "static"):
        response = httpx.get(f"{server}/static/{path.as_posix()}")
        assert response.status_code == 200, path
        assert response.content == (built.source / "static" / path).read_bytes(), path
    samples = httpx.get(f"{server}/api/samples").json()
    assert [sample["name"] for sample in samples] == ["shapes", "astronaut"]
    for sample in samples:
        preview = httpx.get(f"{server}{sample['preview_url']}")
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
        assert preview.content.startswith(b"\x89PNG")
    docs = httpx.get(f"{server}/docs")
    assert docs.status_code == 200 and 'src="docs-assets/swagger-ui-bundle.js"' in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert httpx.get(f"{server}/docs-assets/{asset}").status_code == 200, asset
    assert httpx.get(f"{server}/openapi.json").json()["info"]["version"] == cnn_core.__version__
