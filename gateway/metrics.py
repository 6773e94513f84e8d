"""Prometheus metrics, one registry per app (tests build many apps in one process).

Index and KB figures are read from the retrieval service at scrape time by a
custom collector, so they can never drift from what `/readyz` reports.

`/metrics` shows login counts, routes and the model: Prometheus scrapes it with
`Authorization: Bearer <METRICS_TOKEN>`; anyone else gets 401 (and everyone does while
METRICS_TOKEN is unset).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .errors import error_response

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SEARCH_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class IndexCollector(Collector):
    """faq_index_* and faq_kb_* from `status()` (the IndexLoader's view of the service)."""

    def __init__(self, status: Callable[[], dict[str, Any]]) -> None:
        self._status = status

    def collect(self) -> Iterable[Metric]:
        s = self._status()
        yield GaugeMetricFamily(
            "faq_index_ready", "1 when the FAQ index is loaded and serving.", value=1 if s["ready"] else 0
        )
        info = GaugeMetricFamily(
            "faq_index_info", "The FAQ index being served (always 1).", labels=["version", "model"]
        )
        if s["ready"]:
            info.add_metric([str(s["index_version"]), str(s["model"])], 1)
        yield info
        yield GaugeMetricFamily(
            "faq_index_entries", "FAQ entries in the served index.", value=s["entries"] or 0
        )
        yield CounterMetricFamily(
            "faq_kb_reloads", "Successful KB loads (start-up and hot reloads).", value=s["reloads"]
        )
        yield GaugeMetricFamily(
            "faq_kb_errors",
            "Problems in the KB on disk (non-zero: edits rejected, old index serving).",
            value=len(s["kb_errors"]),
        )
        if s["last_reload_at"] is not None:
            yield GaugeMetricFamily(
                "faq_index_last_reload_timestamp_seconds",
                "Unix time of the last successful KB load.",
                value=s["last_reload_at"],
            )


class Metrics:
    def __init__(self, index_status: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "gateway_http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "gateway_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.searches = Counter(
            "faq_searches",
            "FAQ searches answered, by confidence band and answer language.",
            ["band", "lang"],
            registry=self.registry,
        )
        self.search_duration = Histogram(
            "faq_search_duration_seconds",
            "Time spent in the retrieval engine per search.",
            buckets=SEARCH_BUCKETS,
            registry=self.registry,
        )
        self.messages = Counter(
            "support_messages",
            "Conversation messages by channel and direction (in: shopper, out: bot/agent).",
            ["channel", "direction"], registry=self.registry)
        self.stage_duration = Histogram(
            "support_stage_duration_seconds",
            "Latency per stage of a turn: bot (Rasa turn), delivery (to the channel), degraded (FAQ-only).",
            ["stage"], buckets=HTTP_BUCKETS, registry=self.registry)
        self.errors = Counter(
            "support_errors", "Failures by kind (bot_unavailable, delivery_failed, routing_failed).",
            ["kind"], registry=self.registry)
        self.events = Counter(
            "support_events",
            "Analytics events by kind (handoff_requested, ticket_created, survey_answered...).",
            ["kind"], registry=self.registry)
        self.registry.register(IndexCollector(index_status))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    # -- the router's and the recorder's hooks (conversation.router.RouterMetrics) ------------

    def message(self, channel: str, direction: str) -> None:
        self.messages.labels(channel or "unknown", direction).inc()

    def stage(self, name: str, seconds: float) -> None:
        self.stage_duration.labels(name).observe(seconds)

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def event(self, kind: str) -> None:
        self.events.labels(kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def operator(request: Request) -> bool:
    """The request carries the operators' METRICS_TOKEN as a Bearer token (compared in constant
    time). No token configured: nobody is an operator, the details stay private."""
    expected = request.app.state.gateway.settings.metrics_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    if not operator(request):
        return error_response(401, "send Authorization: Bearer <METRICS_TOKEN>",
                              headers={"WWW-Authenticate": "Bearer"})
    return Response(request.app.state.gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)
