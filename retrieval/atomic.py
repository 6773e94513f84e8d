"""Folders written whole or not at all: indexes and tuned models are read by other processes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_folder(folder: Path, fill: Callable[[Path], None]) -> None:
    """`fill` writes into a temporary sibling, renamed to `folder` once complete, so a crash
    mid-write never leaves a half-written folder behind."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        fill(tmp)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
