"""Schemathesis against the gateway's own OpenAPI schema, on a real gateway process (real Redis,
no Rasa: degraded mode): generated requests, valid and invalid, with an admin's token, must
never get a 5xx nor a response that contradicts the schema."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from handoff.accounts import Accounts
from ops.ports import free_port
from ops.redis_server import RedisServer
from tests.stack import REPO, Gateway, gateway

pytestmark = pytest.mark.timeout(900)
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def fuzz_gateway(shared_index: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, str]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    # the FAQ studio's routes write KB files: a copy, never the repository's kb_content (a git
    # work tree the studio would commit into)
    kb = tmp / "kb_content"
    shutil.copytree(REPO / "kb_content", kb)
    with RedisServer(port=free_port(), data_dir=tmp / "redis", use_env=False) as redis, \
            gateway(redis.url, tmp, shop_config=REPO / "config" / "shop.yml", index_dir=shared_index,
                    kb_dir=kb, extra_env={"RASA_URL": f"http://127.0.0.1:{free_port()}",
                               "KB_VERSIONS_DIR": str(tmp / "kb-versions")}) as gw:
        async def admin() -> None:
            r = aioredis.Redis.from_url(redis.url)
            await Accounts(r).add("fuzz-admin@shop.example", PASSWORD, "admin")
            await r.aclose()
        asyncio.run(admin())
        import httpx

        token = httpx.post(f"{gw.url}/api/agent/login", timeout=30,
                           json={"email": "fuzz-admin@shop.example", "password": PASSWORD}).json()["token"]
        yield gw, token


def test_no_server_error_and_no_schema_violation(fuzz_gateway: tuple[Gateway, str]) -> None:
    """Every operation of the schema, 30 generated cases each (deterministic)."""
    gw, token = fuzz_gateway
    schema = schemathesis.openapi.from_url(f"{gw.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        if operation.path == "/api/agent/logout":
            continue                                        # would end the session the other cases use

        @settings(max_examples=30, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            # Not checked: "schema-valid request rejected" (positive_data_acceptance). Some rules
            # cannot be written in OpenAPI (start <= end, a period under 3 years, an existing
            # conversation id): a 4xx for them is right. 5xx and response violations are checked.
            case.call_and_validate(base_url=gw.url, headers={"Authorization": f"Bearer {token}"},
                                   excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # one entry per failing operation, all reported
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    Path("var").mkdir(exist_ok=True)
    Path("var/fuzz-failures.txt").write_text("\n\n".join(failures), encoding="utf-8")
    assert not failures, "\n\n".join(failures)
