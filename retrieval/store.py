"""Build an engine for a KB folder, or load it from `var/index/` when nothing changed.

The cache key is the KB content hash + the embedding model id + the engine
version + the calibration targets, so an unchanged KB starts instantly and any
change that matters rebuilds. Folders are written under a temporary name and
renamed, so a crash mid-build never leaves a half-written index behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from . import encodings, tuning
from .atomic import write_folder
from .calibration import Thresholds, fit_self
from .config import RetrievalConfig, load_config
from .embedder import Embedder
from .engine import SearchEngine
from .index import HybridIndex
from .kb import SUPPORTED_LANGS, KnowledgeBase, load_kb
from .text import LanguageDetector, shared_detector
from .wordvec import vectors_id


def _engine_version() -> str:
    """Hash of this package's code and data: any change to how indexes are built or
    calibrated invalidates cached indexes, without anyone remembering to bump a number."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), *here.glob("data/*")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


ENGINE_VERSION = _engine_version()
KEEP_INDEXES = 3
log = logging.getLogger("retrieval")


def default_cache_root() -> Path:
    return Path(os.environ.get("INDEX_DIR", "var/index"))


def cache_key(kb: KnowledgeBase, embedder: Embedder, config: RetrievalConfig, mode: str) -> str:
    h = hashlib.sha256()
    for part in (kb.content_hash, embedder.id, ENGINE_VERSION, str(HybridIndex.FORMAT), mode,
                 json.dumps(asdict(config.targets), sort_keys=True),
                 json.dumps({lang: vectors_id(p) for lang, p in config.word_vectors.items()},
                            sort_keys=True)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def detector() -> LanguageDetector:
    """The process's language detector for the KB's languages."""
    return shared_detector(SUPPORTED_LANGS)


def build_engine(kb: KnowledgeBase | str | Path, embedder: Embedder,
                 config: RetrievalConfig | None = None, cache_root: Path | None = None,
                 mode: str = "hybrid", progress: bool = False,
                 use_config_thresholds: bool = True, tune: str = "auto",
                 prebuilt: HybridIndex | None = None) -> SearchEngine:
    """Engine for a KB, reusing the persisted index when its key matches (or `prebuilt`, this
    KB's index already built by `provisional_engine`).

    With `tuning.enabled` in the config, the sentence-transformers encoder is first replaced by
    its copy tuned on this KB (cached; `tune` is the policy of `tuning.prepare`: `off` when the
    caller already chose the embedder, as the service does)."""
    if not isinstance(kb, KnowledgeBase):
        kb = load_kb(kb)
    config = config or load_config()
    root = cache_root if cache_root is not None else default_cache_root()
    embedder, tuning_state = tuning.prepare(kb, embedder, config, root, tune, progress)
    key = cache_key(kb, embedder, config, mode)
    folder = root / key
    t0 = time.perf_counter()
    index = saved = None
    if (folder / "scorer.pkl").exists():
        try:
            index, saved = _read(folder)
        except Exception as exc:  # unreadable or older format: rebuild it
            log.warning("cached index %s unusable (%s); rebuilding", folder, exc)
    built = index is None
    if index is None:
        encodings.restore(embedder, root)  # a restarted process encodes only what changed
        if prebuilt is not None and prebuilt.model_id == embedder.id:
            index = prebuilt
        else:
            index = HybridIndex.build(kb, embedder, progress=progress, word_vectors=config.word_vectors)
        calib = fit_self(index, embedder, config.targets, mode=mode, progress=progress)
        saved = {"scorer": calib.scorer, "thresholds": calib.thresholds, "stats": calib.stats,
                 "build_s": round(time.perf_counter() - t0, 2), "kb_hash": kb.content_hash,
                 "mode": mode}
        _write_atomically(folder, index, saved)
        _prune(root, keep=folder)
        encodings.persist(embedder, root)
    engine = _assemble(index, saved, key, embedder, config, use_config_thresholds)
    engine.info.update(built=built, load_s=round(time.perf_counter() - t0, 2),
                       tuned=tuning.is_tuned(embedder), tuning=tuning_state)
    return engine


def provisional_engine(kb: KnowledgeBase, embedder: Embedder, config: RetrievalConfig,
                       previous: SearchEngine, cache_root: Path, folds: bool = True,
                       changed: frozenset[str] | None = None, reuse: bool = False) -> SearchEngine | None:
    """The edited KB's new index served with the fusion and thresholds of the engine it
    replaces, while its own self-calibration runs (most of a rebuild's time): a one-file edit
    is answered within seconds. None when a full engine is as quick (cached) or the previous
    engine cannot lend its fusion (another encoder or mode). `changed` (the ids that differ from
    the previous KB): a preview index patched from the previous one (HybridIndex.build's `like`),
    for the FAQ studio, never installed. `reuse`: the full build, keeping the previous index's
    embedding classifier rows that provably stay as they are (HybridIndex.build's `reuse`)."""
    key = cache_key(kb, embedder, config, "hybrid")
    if (previous.info.get("mode") != "hybrid" or previous.index.model_id != embedder.id
            or (cache_root / key / "scorer.pkl").exists()):
        return None
    encodings.restore(embedder, cache_root)
    index = HybridIndex.build(kb, embedder, word_vectors=config.word_vectors, folds=folds,
                              like=previous.index if changed is not None else None,
                              changed=changed or frozenset(),
                              reuse=previous.index if reuse and changed is None else None)
    engine = SearchEngine(index, previous.scorer, previous.thresholds, embedder, detector(),
                          version=key, min_lang_confidence=config.min_lang_confidence,
                          default_lang=config.default_lang, info=dict(previous.info))
    engine.info.update(key=key, kb_hash=kb.content_hash, entries=len(index.entries),
                       units=len(index.unit_text), built=True, provisional=True)
    return engine


def load_engine_folder(folder: Path, embedder: Embedder,
                       config: RetrievalConfig | None = None) -> SearchEngine:
    """Engine from a persisted index folder (the last good one after a broken edit)."""
    index, saved = _read(folder)
    if index.model_id != embedder.id:
        raise ValueError(f"index {folder} was built with model {index.model_id}, not {embedder.id}")
    engine = _assemble(index, saved, folder.name, embedder, config or load_config(), True)
    engine.info.update(built=False, tuned=tuning.is_tuned(embedder))
    return engine


def _read(folder: Path) -> tuple[HybridIndex, dict]:
    index = HybridIndex.load(folder)
    with open(folder / "scorer.pkl", "rb") as f:
        saved = pickle.load(f)  # our own file under var/, written by _write_atomically
    return index, saved


def _assemble(index: HybridIndex, saved: dict, key: str, embedder: Embedder,
              config: RetrievalConfig, use_config_thresholds: bool) -> SearchEngine:
    thresholds: Thresholds = saved["thresholds"]
    if use_config_thresholds:
        thresholds = config.calibrated_thresholds(embedder.id) or thresholds
    info = {"key": key, "kb_hash": saved.get("kb_hash"), "entries": len(index.entries),
            "units": len(index.unit_text), "model": embedder.name, "model_id": embedder.id,
            "mode": saved.get("mode", "hybrid"), "build_s": saved["build_s"],
            "self_calibration": saved["stats"], "self_thresholds": asdict(saved["thresholds"]),
            "thresholds": asdict(thresholds)}
    return SearchEngine(index, saved["scorer"], thresholds, embedder, detector(), version=key,
                        min_lang_confidence=config.min_lang_confidence,
                        default_lang=config.default_lang, info=info)


def _write_atomically(folder: Path, index: HybridIndex, saved: dict) -> None:
    def fill(tmp: Path) -> None:
        index.save(tmp)
        with open(tmp / "scorer.pkl", "wb") as f:
            pickle.dump(saved, f)

    write_folder(folder, fill)


def _prune(root: Path, keep: Path) -> None:
    """Keep the few most recent indexes (another process may still be loading one)."""
    folders = sorted((p for p in root.iterdir()
                      if p.is_dir() and not p.name.startswith(".")
                      and p.name not in (tuning.TUNED_DIR, encodings.DIR)),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[KEEP_INDEXES:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
