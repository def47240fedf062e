# Kernel Lens from its wheel: `docker build -t kernel-lens .`, then `docker run -p 8000:8000 kernel-lens`
# (one process, everything in memory), or docker-compose.yml for a class (Redis, two servers, a worker, nginx).
# The server listens on $KERNEL_LENS_PORT (8000), and the HEALTHCHECK asks that port; settings are the
# KERNEL_LENS_* variables of docs/deploy.md (KERNEL_LENS_REDIS_URL shares state and queues GIF jobs).
# tests/packaging/test_docker.py lints this file with hadolint and runs its RUN commands outside a container.

# The base image, pinned by version and by digest (the multi-architecture index of python:3.11.14-slim-bookworm).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# Stage 1: the wheel (static/ and templates/ go inside the app package) and the dependencies' list.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN pip install setuptools==80.9.0
COPY pyproject.toml README.md LICENSE MANIFEST.in ./
COPY deploy/requirements.py deploy/requirements.py
RUN mkdir /dist && python deploy/requirements.py pyproject.toml > /dist/requirements.txt
COPY cnn_core ./cnn_core
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /dist .

# Stage 2: the runtime: dependencies in their own layer (it changes only when pyproject's dependencies do), then
# the wheel alone, as a numeric non-root user (Kubernetes' runAsNonRoot can check it).
FROM ${PYTHON_IMAGE}
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /dist/requirements.txt /tmp/requirements.txt
RUN pip install --requirement /tmp/requirements.txt && rm /tmp/requirements.txt
COPY --from=build /dist/*.whl /tmp/wheel/
RUN pip install --no-deps /tmp/wheel/*.whl && rm -rf /tmp/wheel
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin lens
USER 10001
WORKDIR /home/lens
ENV KERNEL_LENS_HOST=0.0.0.0 KERNEL_LENS_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["python", "-m", "app.healthcheck"]
CMD ["kernel-lens", "serve"]
