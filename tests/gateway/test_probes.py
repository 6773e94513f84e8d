"""/healthz and /readyz against the real index and a real Redis (up, then down). The details of
/readyz are for operators (METRICS_TOKEN): the tests that read them send it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from retrieval.service import RetrievalService

from .helpers import KB_SMALL, METRICS_AUTH, GatedService, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_ok_details_each_component(client: TestClient, retrieval_service: RetrievalService) -> None:
    response = client.get("/readyz", headers=METRICS_AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["redis"] == {"ok": True, "error": None}
    assert body["index"]["ready"] is True
    assert body["index"]["index_version"] == retrieval_service.status()["index_version"]
    assert body["index"]["entries"] == 8
    assert body["index"]["kb_errors"] == []
    # no Rasa server in these tests: ready to serve FAQ answers and tickets, but degraded
    assert body["status"] == "degraded" and body["rasa"]["ok"] is False
    [server] = body["rasa"]["servers"].values()
    assert server["up"] is False and server["circuit"] == "closed" and server["error"]


@pytest.mark.parametrize("auth", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic x"}])
def test_readyz_shows_only_the_status_without_the_token(client: TestClient, auth: dict[str, str]) -> None:
    """Probes and load balancers get the status code and word; the Rasa URLs, errors and model
    details stay with the operators."""
    response = client.get("/readyz", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"status": "degraded"}


def test_readyz_details_stay_private_while_no_token_is_configured(
    app_factory: Callable[..., FastAPI], retrieval_service: RetrievalService
) -> None:
    with TestClient(app_factory(retrieval=retrieval_service, metrics_token="")) as client:
        assert client.get("/readyz", headers={"Authorization": "Bearer "}).json() == {"status": "degraded"}
        assert client.get("/readyz", headers=METRICS_AUTH).json() == {"status": "degraded"}


def test_readyz_503_until_the_index_is_loaded(
    app_factory: Callable[..., FastAPI], retrieval_service: RetrievalService, gateway_index_dir: Path
) -> None:
    gate = threading.Event()
    service = GatedService(
        KB_SMALL, cache_root=gateway_index_dir, embedder=retrieval_service.embedder, watch=False, gate=gate
    )
    with TestClient(app_factory(retrieval=service), headers=METRICS_AUTH) as client:
        assert client.get("/healthz").status_code == 200  # alive while the index loads
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["redis"]["ok"] is True
        assert body["index"]["ready"] is False
        assert body["index"]["loading"] is True

        search = client.get("/api/search", params={"q": "ou est mon colis"})
        assert search.status_code == 503
        assert search.json()["error"] == "index_not_ready"
        assert search.headers["Retry-After"] == "5"

        gate.set()
        body = wait_until_ready(client)
        assert body["index"]["ready"] is True and body["index"]["loading"] is False
        assert client.get("/api/search", params={"q": "ou est mon colis"}).status_code == 200


def test_readyz_503_when_redis_is_down(
    app_factory: Callable[..., FastAPI], retrieval_service: RetrievalService, closed_redis_url: str
) -> None:
    with TestClient(app_factory(retrieval=retrieval_service, redis_url=closed_redis_url),
                    headers=METRICS_AUTH) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["redis"]["ok"] is False
        assert body["redis"]["error"]  # e.g. "Error 111 connecting to 127.0.0.1:PORT. Connection refused."
        assert body["index"]["ready"] is True
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        assert client.get("/api/search", params={"q": "where is my parcel"}).status_code == 200


def test_app_builds_its_own_service_from_settings(
    app_factory: Callable[..., FastAPI], retrieval_service: RetrievalService
) -> None:
    """The production path: no service injected, KB_DIR/INDEX_DIR from settings, KB watcher on."""
    app = app_factory()  # same index dir as the session service: loads from its cache
    with TestClient(app, headers=METRICS_AUTH) as client:
        body = wait_until_ready(client)
        assert body["index"]["index_version"] == retrieval_service.status()["index_version"]
        service = app.state.gateway.index.service
        assert service is not None and service.watch
    watchers = [t for t in threading.enumerate() if t.name == "kb-watcher"]
    assert not watchers  # the app started the service, so the app stopped its KB watcher


def test_import_is_cheap() -> None:
    """`import gateway.app` must not load the embedding stack (uvicorn imports it before serving)."""
    code = (
        "import sys, gateway.app as g; heavy = {'retrieval.service', 'torch', 'sentence_transformers'};"
        "print(sorted(heavy & set(sys.modules)), type(g.app).__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[] FastAPI"


def test_readyz_explains_a_broken_kb(app_factory: Callable[..., FastAPI], tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "fr").mkdir(parents=True)
    (kb / "fr" / "bad.md").write_text("---\nid: Not Valid!\n---\nno questions\n", encoding="utf-8")
    with TestClient(app_factory(kb_dir=kb, index_dir=tmp_path / "index"), headers=METRICS_AUTH) as client:
        deadline = time.monotonic() + 30
        while (body := client.get("/readyz").json())["index"]["loading"] and time.monotonic() < deadline:
            time.sleep(0.05)
        response = client.get("/readyz")
        assert response.status_code == 503
        index = response.json()["index"]
        assert index["ready"] is False and index["kb_errors"], body
        assert "bad.md" in " ".join(index["kb_errors"])
