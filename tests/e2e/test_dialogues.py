"""The fast subset of bench/dialogues (conversations marked `fast`), through a real Redis,
gateway and Rasa: whole conversations, each turn checked (`python -m bench.dialogues` runs all)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.dialogues.report import played
from bench.dialogues.runner import Stage, run_dialogue, stages
from bench.dialogues.script import Dialogue, load
from ops.redis_server import RedisServer
from retrieval.kb import load_kb
from tests.stack import REPO

FAST = [d for d in load(entries={e.id for e in load_kb(REPO / "kb_content").entries}) if d.fast]


def test_the_fast_subset_covers_each_kind_of_conversation() -> None:
    tags = {tag for d in FAST for tag in d.tags}
    assert {"follow-up", "interruption", "handoff", "order", "out-of-scope", "cancel"} <= tags, tags
    assert {d.lang for d in FAST} == {"fr", "en"}


@pytest.fixture(scope="module")
def by_situation(bot_model: Path, shared_index: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Stage]]:
    """Its own Redis: an advisor's presence left by another module would change the situation."""
    tmp = tmp_path_factory.mktemp("dialogues")
    with RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as redis_server, \
            stages(redis_server.url, tmp, {d.situation for d in FAST}, index_dir=shared_index) as staged:
        yield staged


@pytest.mark.parametrize("dialogue", FAST, ids=[d.id for d in FAST])
def test_conversation(by_situation: dict[str, Stage], dialogue: Dialogue) -> None:
    result = run_dialogue(by_situation[dialogue.situation], dialogue)
    transcript = "\n".join(played(result))
    assert result.right, transcript
    assert not result.trapped, transcript
    assert not any(t.false_handoff for t in result.turns), transcript
