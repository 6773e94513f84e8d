"""GET /api/search?...&context=: a weak follow-up is read with the previous FAQ question, a strong
question never; `context` is validated like `q` and never logged."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from gateway.logs import JsonFormatter

# (previous question or entry id, follow-up, the entry that answers it) on kb_small
FOLLOW_UPS = [
    ("How do I return an item?", "and from Belgium?", "return-en"),
    ("return-en", "and from Belgium?", "return-en"),
    ("Comment retourner un article ?", "et depuis la Belgique ?", "return-fr"),
    ("Quels moyens de paiement acceptez-vous ?", "et le chèque ?", "payment-methods-fr"),
    ("Mon code promo ne marche pas", "et pour les soldes ?", "promo-fr"),
]


def search(client: TestClient, **params: object) -> dict:
    response = client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_weak_follow_up_is_read_with_its_context(client: TestClient) -> None:
    read = 0
    for context, q, expected in FOLLOW_UPS:
        alone = search(client, q=q)
        body = search(client, q=q, context=context)
        assert alone["context_used"] is False
        if alone["band"] == "answer":  # strong alone on this engine: the context changes nothing
            assert body["context_used"] is False and body["hits"] == alone["hits"]
            continue
        read += 1
        assert body["context_used"] is True and body["hits"][0]["id"] == expected
        assert body["query"] == q and body["score"] == body["hits"][0]["score"]
    assert read >= 2  # the set stays meaningful: most of these are weak on their own


@pytest.mark.parametrize(("q", "context"), [
    ("Où est mon colis ?", "Comment retourner un article ?"),
    ("Where is my parcel?", "return-en"),
])
def test_a_strong_question_is_not_changed_by_a_context(client: TestClient, q: str, context: str) -> None:
    alone = search(client, q=q)
    body = search(client, q=q, context=context)
    assert alone["band"] == "answer"
    assert body["context_used"] is False and body["hits"] == alone["hits"]


@pytest.mark.parametrize("context", ["", "   "])
def test_an_empty_context_is_no_context(client: TestClient, context: str) -> None:
    body = search(client, q="and from Belgium?", context=context)
    assert body["context_used"] is False
    assert body["hits"] == search(client, q="and from Belgium?")["hits"]


def test_a_too_long_context_is_a_422(client: TestClient) -> None:
    context = "x" * 1001
    response = client.get("/api/search", params={"q": "and from Belgium?", "context": context})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["message"].startswith("context: ") and "at most 1000 characters" in body["message"]
    assert body["errors"][0]["field"] == "context"
    assert context not in response.text  # the shopper's text is not echoed back


def test_the_longest_context_is_accepted(client: TestClient) -> None:
    assert client.get("/api/search", params={"q": "and from Belgium?", "context": "retour " * 142 + "ab"}
                      ).status_code == 200


def test_the_context_is_documented_in_the_openapi_schema(client: TestClient) -> None:
    params = client.get("/openapi.json").json()["paths"]["/api/search"]["get"]["parameters"]
    [context] = [p for p in params if p["name"] == "context"]
    assert context["in"] == "query" and not context.get("required")
    assert "previous FAQ question" in context["description"]
    assert any(s.get("maxLength") == 1000 for s in context["schema"].get("anyOf", [context["schema"]]))


def test_logs_carry_the_context_length_not_its_text(client: TestClient,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        search(client, q="et depuis la Belgique ?", context="Comment retourner un article 4242 ?")
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    assert not [line for line in formatted if "4242" in line or "retourner" in line]
    [record] = [r for r in caplog.records if r.name == "gateway.search"]
    assert record.context_len == len("Comment retourner un article 4242 ?")  # type: ignore[attr-defined]
    assert isinstance(record.context_used, bool)  # type: ignore[attr-defined]
