"""An edit is served within seconds, also in a process that has just restarted: the encoders'
caches are kept on disk, and the edited KB is served with the previous fusion while its own
self-calibration runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import encodings, store
from retrieval.config import load_config
from retrieval.embedder import Embedder
from retrieval.kb import load_kb
from retrieval.service import RetrievalService

from .helpers import copy_kb_small, replace_in

NEW_QUESTION = "Can I follow my zebra-striped parcel?"


class CountingModel:
    """The sentence-transformers model, counting the texts it is asked to encode."""

    def __init__(self, model):
        self.model, self.texts = model, []

    def encode(self, texts, **kwargs):
        self.texts += list(texts)
        return self.model.encode(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self.model, name)


def add_question(kb: Path) -> None:
    replace_in(kb / "en" / "track.md", '  - "Where is my parcel?"\n',
               f'  - "Where is my parcel?"\n  - "{NEW_QUESTION}"\n')


def test_a_restarted_process_encodes_only_what_an_edit_changed(embedder, tmp_path: Path) -> None:
    kb, cache = copy_kb_small(tmp_path / "kb"), tmp_path / "index"
    store.build_engine(kb, embedder, cache_root=cache)
    files = list((cache / encodings.DIR).glob("*.npz"))
    assert len(files) == 1, files

    fresh = Embedder()                     # a new process: an empty in-memory cache
    counting = fresh.model = CountingModel(fresh.model)
    add_question(kb)
    engine = store.build_engine(load_kb(kb), fresh, cache_root=cache)
    assert engine.info["built"]
    # the new question and its noisy copy, not the KB's ~40 questions and their copies again
    assert 1 <= len(counting.texts) <= 4, counting.texts
    assert NEW_QUESTION in counting.texts
    assert engine.search(NEW_QUESTION, lang="en").best.id == "track-en"
    # the vectors read back are the ones the model computes
    sample = next(iter(embedder._cache))
    assert np.allclose(fresh._cache[sample], embedder.model.encode([sample], normalize_embeddings=True)[0],
                       atol=1e-5)


def test_a_damaged_cache_file_only_costs_time(embedder, tmp_path: Path) -> None:
    kb, cache = copy_kb_small(tmp_path / "kb"), tmp_path / "index"
    store.build_engine(kb, embedder, cache_root=cache)
    for f in (cache / encodings.DIR).glob("*.npz"):
        f.write_bytes(b"not a numpy file")
    fresh = Embedder()
    assert encodings.restore(fresh, cache) == 0
    add_question(kb)
    assert store.build_engine(load_kb(kb), fresh, cache_root=cache).search(NEW_QUESTION).best.id == "track-en"


def test_an_edit_is_served_before_its_calibration_ends(embedder, tmp_path: Path, services,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    kb, cache = copy_kb_small(tmp_path / "kb"), tmp_path / "index"
    svc = RetrievalService(kb, cache_root=cache, embedder=embedder, watch=False)
    services.append(svc)
    svc.start()
    before = svc.engine
    seen: dict = {}
    full_build = store.build_engine

    def observed(*args, **kwargs):  # what shoppers get while the full engine is being built
        serving = svc.engine
        seen.update(provisional=serving.info.get("provisional"), scorer=serving.scorer is before.scorer,
                    best=serving.search(NEW_QUESTION, lang="en").best.id,
                    prebuilt=kwargs.get("prebuilt") is serving.index)
        return full_build(*args, **kwargs)

    monkeypatch.setattr("retrieval.service.build_engine", observed)
    add_question(kb)
    assert svc.reload()
    assert seen == {"provisional": True, "scorer": True, "best": "track-en", "prebuilt": True}
    after = svc.engine
    assert not after.info.get("provisional") and after.scorer is not before.scorer
    assert (cache / "CURRENT").read_text() == after.version      # only a full engine is remembered
    assert svc.status()["reloads"] == 2                           # start + one reload, not three


def test_no_provisional_engine_when_the_full_one_is_cached(embedder, tmp_path: Path) -> None:
    kb, cache = copy_kb_small(tmp_path / "kb"), tmp_path / "index"
    first = store.build_engine(kb, embedder, cache_root=cache)
    add_question(kb)
    store.build_engine(kb, embedder, cache_root=cache)
    assert store.provisional_engine(load_kb(kb), embedder, load_config(), first, cache) is None
