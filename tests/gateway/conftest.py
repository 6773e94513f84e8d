"""Gateway fixtures: one real FAQ index on the small KB for the session, the real Redis
of tests/conftest.py. Only adds fixtures; shared ones live in tests/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the network for the embedding model

from gateway.app import create_app  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from ops.ports import free_port  # noqa: E402
from ops.redis_server import RedisServer  # noqa: E402
from retrieval.service import RetrievalService  # noqa: E402

from .helpers import KB_SMALL, METRICS_TOKEN  # noqa: E402


@pytest.fixture(scope="session")
def gateway_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Index cache shared by every service of the session: only the first one builds."""
    return tmp_path_factory.mktemp("gateway-index")


@pytest.fixture(scope="session")
def retrieval_service(gateway_index_dir: Path) -> Iterator[RetrievalService]:
    """The real engine on kb_small, started once (embedding model load + index build)."""
    service = RetrievalService(KB_SMALL, cache_root=gateway_index_dir, watch=False).start()
    assert service.ready, f"kb_small index failed to load: {service.status()['kb_errors']}"
    yield service
    service.stop()


@pytest.fixture
def gateway_settings(redis_server: RedisServer, gateway_index_dir: Path) -> Callable[..., Settings]:
    """`gateway_settings(**overrides)`: Settings on the session Redis and kb_small."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_server.url, "kb_dir": KB_SMALL, "index_dir": gateway_index_dir,
            "metrics_token": METRICS_TOKEN,
        }  # fmt: skip
        return Settings(**{**values, **overrides})

    return make


@pytest.fixture
def app_factory(gateway_settings: Callable[..., Settings]) -> Callable[..., FastAPI]:
    """`app_factory(retrieval=None, **settings_overrides)` -> create_app(...) (not started)."""

    def make(retrieval: RetrievalService | None = None, **overrides: Any) -> FastAPI:
        return create_app(gateway_settings(**overrides), retrieval=retrieval)

    return make


@pytest.fixture
def client(app_factory: Callable[..., FastAPI], retrieval_service: RetrievalService) -> Iterator[TestClient]:
    """A started app (lifespan run) on the shared, ready index and the session Redis."""
    with TestClient(app_factory(retrieval=retrieval_service)) as test_client:
        yield test_client


@pytest.fixture
def closed_redis_url() -> str:
    """A Redis URL where nothing listens: Redis is "down"."""
    return f"redis://127.0.0.1:{free_port()}/0"


# Shared fixtures of the gateway's tests (and of the suites that import this conftest).
from .actions_client import bot  # noqa: E402, F401
from .web_client import make_client  # noqa: E402, F401
