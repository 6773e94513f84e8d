"""Shared pytest fixtures. Keep each fixture small and documented; group by subsystem."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from ops.redis_server import RedisServer

# -- Redis --------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real embedded Redis for the whole session: free port, temp data dir.

    REDIS_URL is deliberately ignored so tests never flush a developer's Redis.
    Tests that kill or restart Redis must start their own RedisServer instead.
    """
    with RedisServer(port=0, data_dir=tmp_path_factory.mktemp("redis"), use_env=False) as server:
        yield server


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on an empty db 0 of the session Redis (str responses)."""
    client = redis_server.client(decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()
