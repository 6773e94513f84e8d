"""GET /api/search on the real engine: results, validation, and no shopper text in logs."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from gateway.logs import JsonFormatter


def test_french_tracking_question(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "ou est mon colis", "lang": "fr"})
    assert response.status_code == 200
    body = response.json()
    assert body["hits"][0]["id"] == "track-fr"
    assert body["query_lang"] == "fr" and body["lang"] == "fr"
    assert body["band"] in ("answer", "suggest")
    assert body["band"] == body["hits"][0]["band"]
    assert body["score"] == body["hits"][0]["score"] and 0 < body["score"] <= 1
    assert body["index_version"]
    assert len(body["hits"]) == 3
    assert {"id", "score", "lang", "reason", "title", "answer", "band"} <= set(body["hits"][0])


def test_language_detected_without_hint_and_k(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "where is my parcel", "k": 1}).json()
    assert [h["id"] for h in body["hits"]] == ["track-en"]
    assert body["query_lang"] == "en"


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({}, "q", "Field required"),
        ({"q": ""}, "q", "at least 1 character"),
        ({"q": "   "}, "q", "must contain some text"),
        ({"q": "x" * 1001}, "q", "at most 1000 characters"),
        ({"q": "colis", "lang": "de"}, "lang", "'fr' or 'en'"),
        ({"q": "colis", "k": 0}, "k", "greater than or equal to 1"),
        ({"q": "colis", "k": 11}, "k", "less than or equal to 10"),
        ({"q": "colis", "k": "three"}, "k", "valid integer"),
    ],
)
def test_validation_errors_are_422_with_a_clear_message(
    client: TestClient, params: dict[str, object], field: str, fragment: str
) -> None:
    response = client.get("/api/search", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["message"].startswith(f"{field}: ")
    assert fragment in body["message"]
    assert body["errors"][0]["field"] == field
    if "q" in params and len(str(params["q"])) > 100:
        assert str(params["q"]) not in response.text  # the shopper's text is not echoed back


def test_longest_allowed_query_is_accepted(client: TestClient) -> None:
    assert client.get("/api/search", params={"q": "colis " * 166 + "abcd"}).status_code == 200


def test_logs_carry_length_and_language_not_the_question(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    question = "ou est mon colis numero 4242"
    with caplog.at_level(logging.DEBUG):
        assert client.get("/api/search", params={"q": question}).status_code == 200
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    assert not [line for line in formatted if "4242" in line or "colis" in line]
    [search] = [r for r in caplog.records if r.name == "gateway.search"]
    assert search.q_len == len(question)  # type: ignore[attr-defined]
    assert search.query_lang in ("fr", "en") and search.band  # type: ignore[attr-defined]
    [access] = [r for r in caplog.records if r.name == "gateway.access"]
    assert access.route == "/api/search" and access.status == 200  # type: ignore[attr-defined]
