"""Body size limit, security headers, CORS, request ids and the JSON 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from retrieval.service import RetrievalService

LIMIT = 64 * 1024
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


@pytest.fixture
def extra_client(
    app_factory: Callable[..., FastAPI], retrieval_service: RetrievalService
) -> Iterator[TestClient]:
    """The app plus test-only routes: a body reader, a widget asset, a crashing endpoint."""
    app = app_factory(retrieval=retrieval_service, widget_origins=("https://shop.example",))

    @app.post("/echo-size")
    async def echo_size(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.get("/widget.js")
    async def widget() -> PlainTextResponse:
        return PlainTextResponse("/* widget */", media_type="text/javascript")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app) as client:
        yield client


def test_declared_oversized_body_is_refused_before_routing(client: TestClient) -> None:
    response = client.post("/api/search", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {
        "error": "body_too_large",
        "message": f"Request body too large: the limit is {LIMIT} bytes.",
    }
    assert response.headers["connection"] == "close"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_streamed_oversized_body_is_cut_off(extra_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(10):
            yield b"x" * 16 * 1024

    response = extra_client.post("/echo-size", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_body_at_the_limit_is_accepted(extra_client: TestClient) -> None:
    response = extra_client.post("/echo-size", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"size": LIMIT}


def test_invalid_content_length_is_400(client: TestClient) -> None:
    response = client.post("/api/search", content=b"x", headers={"Content-Length": "lots"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/api/search?q=colis", 200),
        ("GET", "/api/search", 422),
        ("GET", "/nope", 404),
        ("POST", "/healthz", 405),
        ("GET", "/metrics", 401),   # without the operators' token
    ],
)
def test_security_headers_on_every_response(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-request-id"]


def test_widget_may_be_embedded(extra_client: TestClient) -> None:
    response = extra_client.get("/widget.js")
    assert response.status_code == 200
    assert "x-frame-options" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_unhandled_error_is_a_json_500_with_headers(extra_client: TestClient) -> None:
    response = extra_client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "kaboom" not in response.text
    assert response.headers["x-frame-options"] == "DENY"


def test_cors_only_for_configured_origins(extra_client: TestClient, client: TestClient) -> None:
    allowed = extra_client.get(
        "/api/search", params={"q": "colis"}, headers={"Origin": "https://shop.example"}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-credentials" not in allowed.headers

    other = extra_client.get("/api/search", params={"q": "colis"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers

    preflight = extra_client.options(
        "/api/search", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"

    unconfigured = client.get(
        "/api/search", params={"q": "colis"}, headers={"Origin": "https://shop.example"}
    )
    assert "access-control-allow-origin" not in unconfigured.headers


def test_request_id_is_kept_when_sane(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "lb-123"}).headers["x-request-id"] == "lb-123"
    bad = "bad id\twith spaces"
    generated = client.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
    assert generated != bad and len(generated) == 32
