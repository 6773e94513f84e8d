"""A draft index that keeps the previous index's classifier rows (HybridIndex.build's `reuse`,
the FAQ studio's impact check) must be the full build's, not an approximation of it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import retrieval.index as index_module
from bench.synthetic import write_kb
from retrieval.index import HybridIndex
from retrieval.kb import KnowledgeBase, load_kb


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return load_kb(write_kb(tmp_path_factory.mktemp("kb") / "kb", 40))


def _edited(kb: KnowledgeBase) -> KnowledgeBase:
    """One entry loses a question, gains another and is retitled; another entry is deleted."""
    entries = sorted(kb.entries, key=lambda e: e.id)
    target, gone = entries[5], entries[11]
    changed = replace(target, questions=(*target.questions[1:], "can you help me with it on a sunday"),
                      title="A clearer title for this entry")
    return replace(kb, entries=[changed if e.id == target.id else e for e in kb.entries if e.id != gone.id])


def _decisions(index: HybridIndex, embedder, texts: list[str]) -> np.ndarray:
    features = index.emb_features(embedder.encode(texts), texts, "en")
    return index.classifiers["emb", "en"].decision_function(features)


def test_a_reusing_build_is_the_full_build(kb: KnowledgeBase, embedder,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    live = HybridIndex.build(kb, embedder, folds=False)
    draft = _edited(kb)
    full = HybridIndex.build(draft, embedder, folds=False)
    reused = HybridIndex.build(draft, embedder, folds=False, reuse=live)
    texts = [q for e in kb.entries for q in e.questions] + ["can you help me with it on a sunday"]
    ours, theirs = _decisions(reused, embedder, texts), _decisions(full, embedder, texts)
    exact = np.abs(ours - theirs)
    assert exact.max() < 5e-3                      # the solver's tolerance, nothing more
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    kept = sum(any(np.array_equal(row, old) for old in live.classifiers["emb", "en"].coef_)
               for row in reused.classifiers["emb", "en"].coef_)
    assert 0 < kept < len(draft.entries)           # rows were kept, and the edited one was not
    # without the margin test, rows that the edit does move are kept too: no longer the full build
    monkeypatch.setattr(index_module, "MARGIN_SLACK", -np.inf)
    blind = HybridIndex.build(draft, embedder, folds=False, reuse=live)
    assert np.abs(_decisions(blind, embedder, texts) - theirs).max() > 10 * exact.max()


def test_an_answer_only_edit_keeps_every_row(kb: KnowledgeBase, embedder) -> None:
    live = HybridIndex.build(kb, embedder, folds=False)
    entries = sorted(kb.entries, key=lambda e: e.id)
    draft = replace(kb, entries=[replace(e, answer=e.answer + " Ask us for a quote.") if e.id == entries[3].id
                                 else e for e in kb.entries])
    reused = HybridIndex.build(draft, embedder, folds=False, reuse=live)
    before, after = live.classifiers["emb", "en"], reused.classifiers["emb", "en"]
    assert np.array_equal(before.coef_, after.coef_)   # an answer is not a training sample
