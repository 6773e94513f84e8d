"""Bot fixtures: a trained model (trained once if bot/ changed), and real stacks of
Redis + gateway + Rasa with an open or a closed customer service."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.redis_server import RedisServer
from ops.train import train
from tests.stack import OPEN_ALWAYS, RASA, REPO, Gateway, Rasa, closed_today, gateway, rasa, shop_yaml


@pytest.fixture(scope="session")
def bot_model() -> Path:
    if not RASA.exists():
        pytest.fail(f"{RASA} missing: `make setup` creates .venv-rasa")
    return train()


@pytest.fixture(scope="session")
def open_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop-open") / "shop.yml"
    path.write_text(shop_yaml(OPEN_ALWAYS), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def closed_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Open one day a week, three days from now: closed today, with a real next opening."""
    path = tmp_path_factory.mktemp("shop-closed") / "shop.yml"
    path.write_text(shop_yaml(closed_today()), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bot-index")


@pytest.fixture(scope="module")
def kb_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of kb_content the tests may edit (the gateway watches it)."""
    dest = tmp_path_factory.mktemp("kb") / "kb_content"
    shutil.copytree(REPO / "kb_content", dest)
    return dest


@pytest.fixture(scope="module")
def closed_stack(bot_model: Path, redis_server: RedisServer, closed_shop: Path, shared_index: Path,
                 kb_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Rasa]]:
    tmp = tmp_path_factory.mktemp("closed-stack")
    with gateway(redis_server.url, tmp, shop_config=closed_shop, index_dir=shared_index,
                 kb_dir=kb_copy) as gw, rasa(redis_server.url, gw.url, gw.token, tmp) as bot:
        yield gw, bot


def agent_online(redis_server: RedisServer) -> None:
    client = redis_server.client(decode_responses=True)
    client.zadd("support:agents:presence", {"agent-test": time.time() + 3600})
    client.close()


__all__ = ["REPO", "agent_online", "shop_yaml"]
