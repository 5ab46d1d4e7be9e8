"""``/healthz`` (JSON, 503 unless ok) and ``/metrics`` (Prometheus text): open to all.

Both reuse ``monitor.health``'s pure parts; the facts come from the running service in
``news-monitor run`` (scheduler included) or from the store alone in ``news-monitor web``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.health import StoreCollector, health
from monitor.web.common import WebContext, context, now

router = APIRouter(include_in_schema=False)


def register_store_metrics(ctx: WebContext) -> None:
    """Add the store's gauges (read at scrape time) to this process's metrics registry."""
    ctx.metrics.registry.register(StoreCollector(ctx.app, ctx.facts))


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    ctx = context(request)
    status, body = health(ctx.app, ctx.facts(now()))
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry = context(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
