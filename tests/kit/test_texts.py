"""The two catalogues stay in step: every text in both languages, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from kit.texts import LANGS, catalogue, norm_lang, section, text


def _fields(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


def test_french_and_english_have_the_same_keys_and_placeholders() -> None:
    fr, en = catalogue("fr"), catalogue("en")
    assert set(fr) == set(en), {"only in fr": set(fr) - set(en), "only in en": set(en) - set(fr)}
    for key in fr:
        assert _fields(fr[key]) == _fields(en[key]), key
        assert fr[key].strip() and en[key].strip(), key


def test_languages_are_normalised_with_french_first() -> None:
    given = ("en", "EN-gb", "fr-FR", "de", None, "")
    assert [norm_lang(x) for x in given] == ["en", "en", "fr", "fr", "fr", "fr"]
    assert LANGS == ("fr", "en")


def test_lookup_fills_placeholders_and_a_missing_key_is_an_error() -> None:
    with_fields = [k for k, v in catalogue("fr").items() if _fields(v)]
    assert with_fields, "the catalogue has texts with placeholders"
    fields = {name: "«X»" for name in _fields(catalogue("fr")[with_fields[0]])}
    assert "«X»" in text("fr", with_fields[0], **fields)
    assert "«X»" in text("en-US", with_fields[0], **fields)
    with pytest.raises(KeyError):
        text("fr", "no.such.key")
    for prefix in {k.split(".")[0] for k in catalogue("en")}:
        part = section("en", prefix)
        assert part and all(catalogue("en")[f"{prefix}.{k}"] == v for k, v in part.items())
