# syntax=docker/dockerfile:1
# Application image shared by the api, worker, beat and migrate services.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system clinic \
    && useradd --system --gid clinic --home-dir /app --shell /usr/sbin/nologin clinic

WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY alembic/ ./alembic/
COPY services/ ./services/
COPY workers/ ./workers/

RUN pip install --no-cache-dir . \
    && rm -rf build *.egg-info \
    && chown -R clinic:clinic /app

USER clinic

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

CMD ["clinic", "api", "--host", "0.0.0.0", "--port", "8000"]
