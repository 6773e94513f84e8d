"""Greetings and "please" around a question must not make the engine less sure of it."""

from __future__ import annotations

import pytest

from retrieval.text import strip_courtesy


@pytest.mark.parametrize(("text", "expected"), [
    ("Bonjour, où est mon colis svp ?", "où est mon colis ?"),
    ("Hello, where is my parcel? Thanks!", "where is my parcel?"),
    ("Bonjour Madame, je voudrais retourner l’article. Merci d'avance, cordialement",
     "je voudrais retourner l’article"),
    ("S'il vous plaît aidez-moi", "aidez-moi"),
    ("merci !", "merci !"),                      # nothing else left: unchanged
    ("Thanksgiving order", "Thanksgiving order"),  # whole words only
    ("this is history", "this is history"),
])
def test_strip_courtesy(text: str, expected: str) -> None:
    assert strip_courtesy(text) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("Bonjour, où est mon colis svp ?", "track-fr"),
    ("Hello! How do I return an item? Thanks a lot", "return-en"),
])
def test_a_polite_question_is_as_sure_as_a_bare_one(small_engine, query: str, expected: str) -> None:
    polite = small_engine.search(query)
    bare = small_engine.search(strip_courtesy(query))
    assert polite.best.id == bare.best.id == expected
    assert polite.band == bare.band and polite.best.score == pytest.approx(bare.best.score)
    assert polite.query == " ".join(query.split())  # the shopper's text is reported as typed
