"""WhatsApp Cloud API: the webhook (handshake, signature, messages, statuses, fuzz) and the
sender against a real local fake Graph API (shapes, buttons vs list, 24-hour window, retries)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conversation.message import Button, Message
from conversation.ports import DeliveryRefused
from gateway.channels import whatsapp
from gateway.channels.graph import GraphClient, GraphError
from gateway.channels.meta import MetaSettings, appsecret_proof
from tests.fakes.graph_server import FakeGraph, RecordingInbox
from tests.fakes.webhooks import channel_client, post_signed

SECRET = "app-secret"
PHONE_ID = "1055"
SETTINGS = MetaSettings(
    app_secret=SECRET, whatsapp_verify_token="verify-wa", whatsapp_token="wa-token",
    whatsapp_phone_number_id=PHONE_ID,
)  # fmt: skip
WA_ID = "33612345678"
NOW = 1_800_000_000.0



@pytest.fixture(autouse=True)
def recorded_payloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """These payloads were recorded in 2023: widen the replay window for them (it has its own test)."""
    monkeypatch.setattr("gateway.channels.meta.REPLAY_WINDOW_S", 10 * 365 * 86400)


def make_client(inbox: Any, meta: Any = SETTINGS) -> TestClient:
    return channel_client(whatsapp.router, inbox, meta)


@pytest.fixture
def inbox() -> RecordingInbox:
    return RecordingInbox()


@pytest.fixture
def client(inbox: RecordingInbox) -> Iterator[TestClient]:
    with make_client(inbox) as test_client:
        yield test_client


def post(client: TestClient, payload: Any, *, secret: str = SECRET, raw: bytes | None = None,
         signature: str | None = "auto") -> Any:
    return post_signed(client, "/webhooks/whatsapp", payload, secret=secret, raw=raw, signature=signature)


def webhook(messages: list[dict[str, Any]] = (), statuses: list[dict[str, Any]] = (),  # type: ignore[assignment]
            phone_number_id: str = PHONE_ID) -> dict[str, Any]:  # fmt: skip
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "33100000000", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Camille"}, "wa_id": WA_ID}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}  # fmt: skip


def wa_message(kind: str, content: dict[str, Any], wamid: str = "wamid.IN1") -> dict[str, Any]:
    return {"from": WA_ID, "id": wamid, "timestamp": "1700000000", "type": kind, kind: content}


# -- handshake ----------------------------------------------------------------------------------


def test_handshake_ok(client: TestClient) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-wa", "hub.challenge": "987654"}
    response = client.get("/webhooks/whatsapp", params=params)
    assert (response.status_code, response.text) == (200, "987654")


def test_handshake_bad_token(client: TestClient) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "987654"}
    assert client.get("/webhooks/whatsapp", params=params).status_code == 403


def test_disabled_channel_answers_503(inbox: RecordingInbox) -> None:
    meta = MetaSettings(app_secret=SECRET, whatsapp_verify_token="verify-wa")  # no token, no phone id
    with make_client(inbox, meta) as client:
        response = post(client, webhook([wa_message("text", {"body": "Bonjour"})]))
        params = {"hub.mode": "subscribe", "hub.verify_token": "verify-wa", "hub.challenge": "1"}
        get = client.get("/webhooks/whatsapp", params=params)
    assert response.status_code == 503 and get.status_code == 503
    assert response.json()["message"] == (
        "WhatsApp is disabled: set WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID to enable it."
    )
    assert inbox.messages == []


# -- inbound ------------------------------------------------------------------------------------


def test_text_message_submitted(client: TestClient, inbox: RecordingInbox) -> None:
    response = post(client, webhook([wa_message("text", {"body": "Où en est ma commande 1042 ?"})]))
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert inbox.messages == [
        Message(channel="whatsapp", sender=WA_ID, conversation_id="", text="Où en est ma commande 1042 ?",
                message_id="wamid.IN1", timestamp=1_700_000_000.0)
    ]  # fmt: skip


def test_button_and_list_replies_and_template_buttons(client: TestClient, inbox: RecordingInbox) -> None:
    messages = [
        wa_message("interactive", {"type": "button_reply", "button_reply": {"id": "/affirm", "title": "Oui"}},
                   "wamid.B"),
        wa_message("interactive", {"type": "list_reply", "list_reply": {
            "id": '/faq_choice{"id":"returns"}', "title": "Retours", "description": "30 jours"}}, "wamid.L"),
        wa_message("button", {"payload": "/track_order", "text": "Suivre"}, "wamid.T"),
        wa_message("button", {"text": "Arrêter"}, "wamid.T2"),
    ]  # fmt: skip
    assert post(client, webhook(messages)).status_code == 200
    assert [(m.message_id, m.text) for m in inbox.messages] == [
        ("wamid.B", "/affirm"),
        ("wamid.L", '/faq_choice{"id":"returns"}'),
        ("wamid.T", "/track_order"),
        ("wamid.T2", "Arrêter"),
    ]


def test_statuses_recorded(client: TestClient, inbox: RecordingInbox) -> None:
    statuses = [
        {"id": "wamid.OUT1", "status": "delivered", "timestamp": "1700000100", "recipient_id": WA_ID},
        {"id": "wamid.OUT1", "status": "read", "timestamp": "1700000200", "recipient_id": WA_ID},
        {"id": "wamid.OUT2", "status": "failed", "timestamp": "1700000300", "recipient_id": WA_ID,
         "errors": [{"code": 131047, "title": "Re-engagement message"}]},
        {"status": "sent"},  # no id: skipped
    ]  # fmt: skip
    assert post(client, webhook(statuses=statuses)).status_code == 200
    assert inbox.statuses == [
        ("whatsapp", "wamid.OUT1", "delivered", 1_700_000_100.0),
        ("whatsapp", "wamid.OUT1", "read", 1_700_000_200.0),
        ("whatsapp", "wamid.OUT2", "failed", 1_700_000_300.0),
    ]
    assert inbox.messages == []


def test_unhandled_types_and_other_numbers_skipped(client: TestClient, inbox: RecordingInbox) -> None:
    reaction = wa_message("reaction", {"message_id": "wamid.OUT1", "emoji": "👍"}, "wamid.R")
    location = wa_message("location", {"latitude": 48.85, "longitude": 2.35}, "wamid.L")
    no_id = wa_message("image", {"mime_type": "image/jpeg"}, "wamid.N")
    forged_id = wa_message("image", {"id": "../../me/messages", "mime_type": "image/jpeg"}, "wamid.F")
    assert post(client, webhook([reaction, location, no_id, forged_id])).status_code == 200
    other = webhook([wa_message("text", {"body": "pour un autre numéro"})], phone_number_id="9999")
    assert post(client, other).status_code == 200
    assert inbox.messages == []


def test_media_become_references_with_their_caption(client: TestClient, inbox: RecordingInbox) -> None:
    """Fetching and keeping them is channels/media.py's (tests/gateway/test_meta_media.py)."""
    image = wa_message("image", {"id": "MEDIA1", "mime_type": "image/jpeg", "caption": "le vase cassé"},
                       "wamid.I")
    document = wa_message("document", {"id": "MEDIA2", "filename": "facture.pdf",
                                       "mime_type": "application/pdf"}, "wamid.D")
    assert post(client, webhook([image, document])).status_code == 200
    assert [(m.text, m.attachments) for m in inbox.messages] == [
        ("le vase cassé", ("whatsapp-media:image:MEDIA1:",)),
        ("", ("whatsapp-media:document:MEDIA2:facture.pdf",))]


@pytest.mark.parametrize("signature", [None, "sha256=" + "f" * 64, "sha256"])
def test_bad_signature_refused(client: TestClient, inbox: RecordingInbox, signature: str | None) -> None:
    payload = webhook([wa_message("text", {"body": "x"})], [{"id": "w", "status": "read", "timestamp": "1"}])
    assert post(client, payload, signature=signature).status_code == 403
    assert post(client, payload, secret="forged").status_code == 403
    assert inbox.messages == [] and inbox.statuses == []


@pytest.mark.parametrize(
    "raw", [b"{", b'{"object": "page", "entry": []}', b'{"object": "whatsapp_business_account"}', b"null"]
)
def test_invalid_payload_422(client: TestClient, raw: bytes) -> None:
    response = post(client, None, raw=raw)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_long_text_submitted_cut(client: TestClient, inbox: RecordingInbox) -> None:
    assert post(client, webhook([wa_message("text", {"body": "a" * 4096})])).status_code == 200
    assert len(inbox.messages[0].text) == 2000


def test_inbox_failure_is_503() -> None:
    with make_client(RecordingInbox(fail=True)) as client:
        status = {"id": "w", "status": "read", "timestamp": "1"}
        assert post(client, webhook(statuses=[status])).status_code == 503


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "num", "bool", "null"] + (["list", "dict"] * 2 if depth < 5 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return rng.choice(["", "whatsapp_business_account", "text", "interactive", "button", "button_reply",
                           "list_reply", PHONE_ID, WA_ID, "wamid.X", "1700000000",
                           "x" * rng.randint(0, 5000)])  # fmt: skip
    if kind == "num":
        return rng.choice([0, -3, 1.5, 10**25, 1700000000])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["object", "entry", "changes", "value", "metadata", "phone_number_id", "messages", "statuses",
            "from", "id", "type", "text", "body", "interactive", "button_reply", "list_reply", "button",
            "payload", "status", "timestamp", "errors", "title"]  # fmt: skip
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _mutate(rng: random.Random, value: Any) -> Any:
    if isinstance(value, dict) and value and rng.random() < 0.85:
        key = rng.choice(list(value))
        return {**value, key: _mutate(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.85:
        index = rng.randrange(len(value))
        return [*value[:index], _mutate(rng, value[index]), *value[index + 1 :]]
    return _random_json(rng)


def test_fuzz_signed_random_payloads_never_500(inbox: RecordingInbox) -> None:
    rng = random.Random(7)
    valid = webhook(
        [wa_message("text", {"body": "hi"}),
         wa_message("interactive", {"type": "list_reply", "list_reply": {"id": "/a", "title": "A"}},
                    "wamid.2")],
        [{"id": "wamid.O", "status": "read", "timestamp": "1700000000"}],
    )  # fmt: skip
    with make_client(inbox) as client:
        for round_ in range(400):
            payload = _mutate(rng, valid) if round_ % 2 else _random_json(rng)
            response = post(client, payload)
            assert response.status_code in (200, 422), (payload, response.text)
    assert all(isinstance(s[3], float) for s in inbox.statuses)


# -- outbound: the sender against the fake Graph API --------------------------------------------


@pytest.fixture(scope="module")
def graph_server() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=SECRET, whatsapp_token="wa-token", phone_number_id=PHONE_ID) as server:
        yield server


@pytest.fixture
def graph(graph_server: FakeGraph) -> FakeGraph:
    graph_server.reset()
    return graph_server


def settings_for(graph: FakeGraph, **overrides: Any) -> MetaSettings:
    values = {"app_secret": SECRET, "whatsapp_verify_token": "verify-wa", "whatsapp_token": "wa-token",
              "whatsapp_phone_number_id": PHONE_ID, "graph_api_base": graph.base_url,
              "graph_api_version": graph.version, **overrides}  # fmt: skip
    return MetaSettings(**values)


def run_send(settings: MetaSettings, message: Message, *, last_inbound_at: float | None = NOW - 3600,
             **client_args: Any) -> list[str]:  # fmt: skip
    async def go() -> list[str]:
        args = {"backoff": 0.01, "max_backoff": 0.05, **client_args}
        async with GraphClient(settings, **args) as client:
            sender = whatsapp.WhatsAppSender(client, settings, clock=lambda: NOW)
            return await sender.send(message, last_inbound_at=last_inbound_at)

    return asyncio.run(go())


def bot_message(text: str = "Votre colis arrive demain.", buttons: tuple[Button, ...] = ()) -> Message:
    return Message(channel="whatsapp", sender=WA_ID, conversation_id="c1", text=text, role="bot",
                   buttons=buttons, lang="fr")  # fmt: skip


def test_text_message_shape(graph: FakeGraph) -> None:
    assert run_send(settings_for(graph), bot_message()) == ["wamid.fake1"]
    [call] = graph.calls_to("whatsapp")
    assert call.path == f"/{graph.version}/{PHONE_ID}/messages"
    assert call.body == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID, "type": "text",
        "text": {"body": "Votre colis arrive demain.", "preview_url": False},
    }  # fmt: skip
    assert call.headers["authorization"] == "Bearer wa-token"
    assert call.query == {"appsecret_proof": appsecret_proof("wa-token", SECRET)}


def test_reply_buttons_shape(graph: FakeGraph) -> None:
    buttons = (Button("Oui", "/affirm"), Button("Non", "/deny"), Button("Parler à un conseiller", "/handoff"))
    run_send(settings_for(graph), bot_message("Autre chose ?", buttons))
    [call] = graph.calls_to("whatsapp")
    assert call.body == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID, "type": "interactive",
        "interactive": {"type": "button", "body": {"text": "Autre chose ?"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "/affirm", "title": "Oui"}},
            {"type": "reply", "reply": {"id": "/deny", "title": "Non"}},
            {"type": "reply", "reply": {"id": "/handoff", "title": "Parler à un conseil\u2026"}},
        ]}},
    }  # fmt: skip


def test_list_for_four_to_ten_options(graph: FakeGraph) -> None:
    buttons = tuple(Button(f"Question fréquente numéro {i}", f"/faq{i}") for i in range(12))
    run_send(settings_for(graph), bot_message("Quelle question ?", buttons))
    [call] = graph.calls_to("whatsapp")
    interactive = call.body["interactive"]
    assert interactive["type"] == "list"
    assert interactive["body"] == {"text": "Quelle question ?"}
    assert interactive["action"]["button"] == "Options"
    rows = interactive["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"/faq{i}" for i in range(10)]
    assert all(len(r["title"]) <= 24 for r in rows)
    assert rows[0] == {"id": "/faq0", "title": "Question fréquente numé\u2026"}


def test_long_text_with_buttons(graph: FakeGraph) -> None:
    run_send(settings_for(graph), bot_message("phrase " * 900, (Button("Oui", "/affirm"),)))
    calls = graph.calls_to("whatsapp")
    assert [c.body["type"] for c in calls] == ["text"] * (len(calls) - 1) + ["interactive"]
    texts = [c.body["text"]["body"] for c in calls[:-1]] + [calls[-1].body["interactive"]["body"]["text"]]
    assert len(texts[0]) > 4000  # full-size text messages first, not 1024-character slices
    assert len(texts[-1]) <= 1024
    assert " ".join(texts).split() == ["phrase"] * 900


def test_button_only_message_gets_a_prompt(graph: FakeGraph) -> None:
    run_send(settings_for(graph), bot_message("", (Button("Yes", "/affirm"),)))
    assert graph.calls_to("whatsapp")[0].body["interactive"]["body"] == {"text": "Choisissez une option :"}


@pytest.mark.parametrize("last_inbound_at", [None, NOW - 24 * 3600 - 1, NOW - 7 * 24 * 3600])
def test_window_closed_refused_without_api_call(graph: FakeGraph, last_inbound_at: float | None) -> None:
    with pytest.raises(DeliveryRefused) as info:
        run_send(settings_for(graph), bot_message(), last_inbound_at=last_inbound_at)
    assert "24-hour window closed" in info.value.reason
    assert graph.attempts == 0


def test_graph_window_error_becomes_delivery_refused(graph: FakeGraph) -> None:
    graph.close_window(WA_ID)  # e.g. our clock and Meta's disagree by a minute
    with pytest.raises(DeliveryRefused):
        run_send(settings_for(graph), bot_message(), last_inbound_at=NOW - 24 * 3600 + 30)
    assert graph.attempts == 1


def test_retry_after_two_503s(graph: FakeGraph) -> None:
    graph.fail_next(2, 503)
    assert run_send(settings_for(graph), bot_message()) == ["wamid.fake1"]
    assert graph.attempts == 3 and len(graph.calls) == 1


def test_400_not_retried(graph: FakeGraph) -> None:
    """Four reply buttons is a shape Graph refuses: one attempt, Graph's message in the error."""
    body = {"messaging_product": "whatsapp", "to": WA_ID, "type": "interactive", "interactive": {
        "type": "button", "body": {"text": "?"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": f"/b{i}", "title": f"B{i}"}} for i in range(4)]}}}  # fmt: skip

    async def go() -> None:
        async with GraphClient(settings_for(graph), backoff=0.01) as client:
            await client.post(f"{PHONE_ID}/messages", body, token="wa-token")

    with pytest.raises(GraphError) as info:
        asyncio.run(go())
    assert info.value.status == 400 and "1-3 items" in info.value.message
    assert graph.attempts == 1


def test_wrong_proof_refused(graph: FakeGraph) -> None:
    with pytest.raises(GraphError) as info:
        run_send(settings_for(graph, app_secret="wrong"), bot_message())
    assert info.value.status == 403
    assert graph.attempts == 1


def test_deliver_is_the_sender_protocol(graph: FakeGraph) -> None:
    async def go() -> None:
        settings = settings_for(graph)
        async with GraphClient(settings) as client:
            sender = whatsapp.WhatsAppSender(client, settings)
            await sender.deliver(bot_message(), last_inbound_at=time.time() - 60)

    asyncio.run(go())
    assert len(graph.calls_to("whatsapp")) == 1
