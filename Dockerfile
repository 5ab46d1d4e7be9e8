# news-monitor: the service image. Settings come from MONITOR_* environment variables.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY alerts ./alerts
RUN pip install .

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
