"""How shoppers really type: without accents, word for word as the KB, or gibberish."""

from __future__ import annotations

from retrieval.text import Respeller


def test_respeller_restores_the_kbs_accents_only_where_a_word_is_unknown() -> None:
    respell = Respeller(["Article arrivé cassé ou abîmé", "Il arrive demain", "Élément remboursé"])
    assert respell("mon colis est ABIME") == "mon colis est abîmé"
    assert respell("il arrive cassé") == "il arrive cassé"          # "arrive" is a KB word too
    assert respell("element rembourse") == "élément remboursé"
    assert respell("colis 3 fois") == "colis 3 fois"                # unknown and unaccented: as typed
    assert Respeller(["no accents here"])("resume") == "resume"


def test_an_unaccented_question_scores_as_its_accented_form(small_engine) -> None:
    accented = small_engine.search("Pourquoi mon code de réduction est refusé ?", lang="fr")
    plain = small_engine.search("pourquoi mon code de reduction est refuse", lang="fr")
    assert plain.best.id == accented.best.id == "promo-fr"
    assert abs(plain.best.score - accented.best.score) < 0.05, (plain.best.score, accented.best.score)


def test_a_kb_question_typed_word_for_word_is_answered(small_engine) -> None:
    """The fusion's weights keep their signs: an exact match can never score below a rephrasing."""
    for question, lang, entry in [("where is my parcel", "en", "track-en"),
                                  ("Où est mon colis ?", "fr", "track-fr"),
                                  ("How do I return an item?", "en", "return-en")]:
        res = small_engine.search(question, lang=lang)
        assert (res.band, res.best.id) == ("answer", entry), (question, res.best)


def test_a_word_the_kb_never_uses_gets_no_suggestions(small_engine) -> None:
    for text in ("zzzz", "qsdfghjk", "xkcdq", "xylophone"):
        res = small_engine.search(text)
        assert res.band == "none" and res.hits == [], (text, res.hits)
    # a real sentence in a language the KB lacks still goes through the encoders
    assert small_engine.search("¿Dónde está mi paquete?").hits
