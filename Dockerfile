# news-monitor: the service image. Settings come from MONITOR_* environment variables.
# Installs exactly uv.lock (runtime packages only), as `make run` does.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy PATH=/app/.venv/bin:$PATH
WORKDIR /app

COPY requirements-uv.txt ./
RUN pip install --no-deps --require-hashes -r requirements-uv.txt

# the locked packages first (a layer that changes only with the lock), then the project
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --no-cache
COPY monitor ./monitor
COPY alerts ./alerts
RUN uv sync --frozen --no-dev --no-editable --no-cache

COPY watchlists ./watchlists
RUN useradd --create-home monitor && mkdir -p /app/data && chown monitor /app/data
USER monitor

ENV MONITOR_DATABASE_URL=sqlite:////app/data/monitor.db \
    MONITOR_WATCHLISTS_DIR=/app/watchlists \
    MONITOR_OUTBOX_DIR=/app/data/outbox \
    MONITOR_HTTP_HOST=0.0.0.0

EXPOSE 8080
HEALTHCHECK --interval=60s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)" || exit 1
CMD ["sh", "-c", "news-monitor db upgrade && news-monitor run"]
