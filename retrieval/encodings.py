"""The encoders' text -> vector caches kept on disk next to the indexes.

A hot reload encodes only the texts an edit changed, but the in-memory caches start empty in a
new process: the first edit after a restart re-encoded the whole KB and its calibration copies
(~40 s on the demo KB with two encoders). Each backend's cache is saved after a build and read
back before the next one, in one file per encoder id (a different model never reads another's
vectors). Files are written under a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

DIR = "encodings"           # store._prune keeps it
MAX_TEXTS = 200_000          # per encoder; the oldest entries go first beyond that
log = logging.getLogger("retrieval")


def _backends(embedder: object) -> list[object]:
    """The encoders that keep a `_cache` (MultiEmbedder's backends, or the embedder itself)."""
    found = getattr(embedder, "backends", [embedder])
    return [b for b in found if isinstance(getattr(b, "_cache", None), dict) and getattr(b, "id", None)]


def _file(root: Path, backend_id: str) -> Path:
    return root / DIR / f"{hashlib.sha256(backend_id.encode()).hexdigest()[:20]}.npz"


def restore(embedder: object, root: Path) -> int:
    """Fill the caches from disk (once per encoder and folder); returns the vectors read."""
    read = 0
    for b in _backends(embedder):
        path = _file(root, b.id)
        done = b.__dict__.setdefault("_disk_restored", set())
        if path in done:
            continue
        done.add(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["id"]) != b.id:
                    continue
                keys = json.loads(str(data["keys"]))
                vecs = data["vecs"]
        except FileNotFoundError:
            continue
        except Exception as exc:  # a damaged cache only costs encoding time
            log.warning("encoding cache %s unreadable (%s); ignored", path, exc)
            continue
        if len(keys) != len(vecs) or (len(vecs) and vecs.shape[1] != b.dim):
            continue
        with b._lock:
            for key, vec in zip(keys, vecs, strict=True):
                b._cache.setdefault(tuple(key) if isinstance(key, list) else key, vec)
        read += len(keys)
    return read


def persist(embedder: object, root: Path) -> None:
    """Save every cache that grew since it was last saved or read."""
    for b in _backends(embedder):
        with b._lock:
            items = list(b._cache.items())[-MAX_TEXTS:]
        path = _file(root, b.id)
        saved = b.__dict__.setdefault("_disk_saved", {})
        if not items or saved.get(path) == len(items):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        keys = json.dumps([list(k) if isinstance(k, tuple) else k for k, _ in items], ensure_ascii=False)
        try:
            np.savez(tmp, id=np.array(b.id), keys=np.array(keys),
                     vecs=np.stack([v for _, v in items]).astype(np.float32))
            os.replace(tmp, path)
            saved[path] = len(items)
        except OSError as exc:  # a read-only or full disk only costs encoding time later
            log.warning("encoding cache %s not saved (%s)", path, exc)
            tmp.unlink(missing_ok=True)
