"""GET /metrics: Prometheus text with search, HTTP, index and KB figures, for the bearer of
METRICS_TOKEN only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from retrieval.service import RetrievalService

from .helpers import METRICS_AUTH, METRICS_TOKEN


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=METRICS_AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_search_counted_after_a_search(client: TestClient) -> None:
    before = samples(client)
    assert ("faq_searches_total", (("band", "answer"), ("lang", "fr"))) not in before
    body = client.get("/api/search", params={"q": "ou est mon colis"}).json()
    after = samples(client)
    assert after[("faq_searches_total", (("band", body["band"]), ("lang", "fr")))] == 1
    assert after[("faq_search_duration_seconds_count", ())] == 1
    key = (("method", "GET"), ("route", "/api/search"), ("status", "200"))
    assert after[("gateway_http_requests_total", key)] == 1
    assert (
        after[("gateway_http_request_duration_seconds_count", (("method", "GET"), ("route", "/api/search")))]
        == 1
    )


def test_rejected_requests_counted_by_status(client: TestClient) -> None:
    client.get("/api/search", params={"k": "0"})
    client.get("/no/such/page?token=secret")
    after = samples(client)
    assert (
        after[
            ("gateway_http_requests_total", (("method", "GET"), ("route", "/api/search"), ("status", "422")))
        ]
        == 1
    )
    assert (
        after[
            ("gateway_http_requests_total", (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))
        ]
        == 1
    )


def test_index_and_kb_figures(client: TestClient, retrieval_service: RetrievalService) -> None:
    status = retrieval_service.status()
    after = samples(client)
    assert after[("faq_index_ready", ())] == 1
    assert after[("faq_index_info", (("model", status["model"]), ("version", status["index_version"])))] == 1
    assert after[("faq_index_entries", ())] == 8
    assert after[("faq_kb_reloads_total", ())] == status["reloads"] >= 1
    assert after[("faq_kb_errors", ())] == 0
    assert ("process_resident_memory_bytes", ()) in after


NOT_THE_TOKEN = [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": METRICS_TOKEN},
                 {"Authorization": "Basic " + METRICS_TOKEN}]


@pytest.mark.parametrize("auth", NOT_THE_TOKEN)
def test_refused_without_the_bearer_token(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/metrics", headers=auth)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "faq_index" not in response.text and "gateway_http" not in response.text


def test_refused_to_everyone_while_no_token_is_configured(
    app_factory: Callable[..., FastAPI], retrieval_service: RetrievalService
) -> None:
    with TestClient(app_factory(retrieval=retrieval_service, metrics_token="")) as client:
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
        assert client.get("/metrics", headers=METRICS_AUTH).status_code == 401
