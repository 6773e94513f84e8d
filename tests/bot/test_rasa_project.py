"""The Rasa project itself: data validates, and the conversation tests pass (FR and EN)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ops.local_stack import RASA, REPO
from ops.run import RASA_QUIET

BOT = REPO / "bot"


def run_rasa(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RASA), *args], cwd=BOT, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(REPO / "var"), **RASA_QUIET})


def test_training_data_validates() -> None:
    res = run_rasa("data", "validate", "--quiet")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]


def test_conversation_stories_pass(bot_model: Path, tmp_path: Path) -> None:
    # `rasa test` (not `test core`) also checks each story message's intent and entities;
    # its NLU part runs on the held-out examples of bench/data (never trained on)
    res = run_rasa("test", "--stories", "tests", "--nlu", str(REPO / "bench" / "data" / "intents_test.yml"),
                   "--model", str(bot_model), "--out", str(tmp_path))
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    failed = (tmp_path / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "- story:" not in failed, failed
