"""Greetings, "please", fillers and SMS shorthand around a question must not make the engine
less sure of it."""

from __future__ import annotations

import pytest

from retrieval.text import expand_shorthand, strip_courtesy


@pytest.mark.parametrize(("text", "expected"), [
    ("Bonjour, où est mon colis svp ?", "où est mon colis ?"),
    ("Hello, where is my parcel? Thanks!", "where is my parcel?"),
    ("Bonjour Madame, je voudrais retourner l’article. Merci d'avance, cordialement",
     "je voudrais retourner l’article"),
    ("S'il vous plaît aidez-moi", "aidez-moi"),
    ("merci !", "merci !"),                      # nothing else left: unchanged
    ("Thanksgiving order", "Thanksgiving order"),  # whole words only
    ("this is history", "this is history"),
    ("bon, comment je fais un retour ?", "comment je fais un retour ?"),   # a filler
    ("un bon d'achat", "un bon d'achat"),        # "bon" only with its comma: here it is the topic
    ("ok and made to measure curtains?", "and made to measure curtains?"),
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


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("c koi le delai de livraison", "fr", "c'est quoi le delai de livraison"),
    ("C CB la livraison", "fr", "c'est combien la livraison"),
    ("on peut payer en cb ?", "fr", "on peut payer en carte bancaire ?"),   # a phrase wins over its word
    ("on peu payer en 3x ?", "fr", "on peu payer en 3 fois ?"),
    ("c'est gratuit ?", "fr", "c'est gratuit ?"),            # an elided "c'" is no shorthand
    ("vitamine c", "en", "vitamine c"),                       # the French table only for French
    ("how do u return it", "en", "how do you return it"),
    ("u-turn", "en", "u-turn"),                              # whole words only
    ("c koi", None, "c koi"),
])
def test_expand_shorthand(text: str, lang: str | None, expected: str) -> None:
    assert expand_shorthand(text, lang) == expected


def test_shorthand_is_as_sure_as_the_words_it_stands_for(small_engine) -> None:
    sms, written = small_engine.search("c koi le delai pr mon colis"), small_engine.search(
        "c'est quoi le delai pour mon colis")
    assert sms.best.id == written.best.id == "track-fr"
    assert sms.best.score == pytest.approx(written.best.score)
    assert sms.query == "c koi le delai pr mon colis"   # the shopper's text is reported as typed
