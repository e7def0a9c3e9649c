# The server image: api, worker, scheduler, bridge, operator and migrate are subcommands of its
# `microdash` entry point; the built dashboard is inside. Build from the repository root:
#   docker build -t microdash .
# Every command run here is also run by tests/test_images.py (outside a container).

# 1. The dashboard: a locked npm install, then the Vite build into frontend/dist.
# vite 7 needs Node.js >= 22.12.
FROM node:22.22.0-bookworm-slim AS frontend
# A build behind a TLS-intercepting proxy passes its CA bundle (scripts/build-images.sh mounts it
# and sets these); unset otherwise. Only build stages see it; no layer holds it.
ARG NODE_EXTRA_CA_CERTS
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci
COPY frontend/ ./
RUN npm run build

# 2. The Python environment: the locked dependencies and the workspace's own packages, installed
#    as wheels (not editable), so nothing of /src is needed at run time.
FROM python:3.11.10-slim-bookworm AS python
ARG SSL_CERT_FILE
ARG PIP_CERT
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY core/ core/
COPY api/ api/
COPY workers/ workers/
COPY bridge/ bridge/
COPY operator/ operator/
COPY agent/ agent/
COPY cli/ cli/
RUN uv sync --frozen --no-dev --all-packages --no-editable

# 3. The runtime: the interpreter, the environment and the dashboard; no compilers, no uv, no npm.
#    /var/lib/microdash is the one writable place (compose.yaml keeps the demo credentials there).
FROM python:3.11.10-slim-bookworm
RUN groupadd --system --gid 10001 microdash \
    && useradd --system --uid 10001 --gid microdash --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin microdash \
    && mkdir -p /var/lib/microdash && chown microdash:microdash /var/lib/microdash
COPY --from=python /app/.venv /app/.venv
COPY --from=frontend /src/frontend/dist /app/frontend/dist
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MICRODASH_FRONTEND_DIR=/app/frontend/dist \
    MICRODASH_API_HOST=0.0.0.0
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["microdash"]
CMD ["api"]
