# Kernel Lens: the web app on uvicorn, as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/kernel-lens
COPY pyproject.toml README.md ./
COPY cnn_core ./cnn_core
COPY app ./app
COPY templates ./templates
COPY static ./static
# editable, so the package finds templates/ and static/ beside it
RUN pip install -e . && useradd --create-home --uid 10001 lens
USER lens
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["kernel-lens", "serve", "--host", "0.0.0.0", "--port", "8000"]
