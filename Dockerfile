# Kernel Lens: the web app on uvicorn, as a non-root user, installed from its wheel.
# Stage 1 builds the wheel (static/ and templates/ go inside the app package); stage 2 installs only it.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN pip install build==1.6.1
COPY pyproject.toml README.md LICENSE MANIFEST.in ./
COPY cnn_core ./cnn_core
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist /dist
RUN pip install /dist/kernel_lens_cnn-*.whl && rm -rf /dist && useradd --create-home --uid 10001 lens
USER 10001
WORKDIR /home/lens
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"]
CMD ["kernel-lens", "serve", "--host", "0.0.0.0", "--port", "8000"]
