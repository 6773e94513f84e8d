"""Messenger: the webhook (handshake, signature, parsing, fuzz) and the sender against a real
local fake Graph API (shapes, typing indicator, appsecret_proof, retries, errors)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conversation.message import Button, Message
from conversation.ports import DeliveryRefused
from gateway.channels import messenger
from gateway.channels.graph import GraphClient, GraphError
from gateway.channels.meta import MetaSettings, appsecret_proof
from ops.ports import free_port
from tests.fakes.graph_server import FakeGraph, RecordingInbox, sign
from tests.fakes.webhooks import channel_client, post_signed

SECRET = "app-secret"
SETTINGS = MetaSettings(
    app_secret=SECRET, messenger_verify_token="verify-me", messenger_page_token="page-token",
)  # fmt: skip
PSID = "24035613799426"



@pytest.fixture(autouse=True)
def recorded_payloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """These payloads were recorded in 2023: widen the replay window for them (it has its own test)."""
    monkeypatch.setattr("gateway.channels.meta.REPLAY_WINDOW_S", 10 * 365 * 86400)


def make_client(inbox: Any, meta: Any = SETTINGS) -> TestClient:
    return channel_client(messenger.router, inbox, meta)


@pytest.fixture
def inbox() -> RecordingInbox:
    return RecordingInbox()


@pytest.fixture
def client(inbox: RecordingInbox) -> Iterator[TestClient]:
    with make_client(inbox) as test_client:
        yield test_client


def post(client: TestClient, payload: Any, *, secret: str = SECRET, raw: bytes | None = None,
         signature: str | None = "auto") -> Any:
    return post_signed(client, "/webhooks/messenger", payload, secret=secret, raw=raw, signature=signature)


def webhook(*events: dict[str, Any]) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": "PAGE", "time": 1_700_000_000_000, "messaging": list(events)}]}


def text_event(text: str = "Où est ma commande ?", mid: str = "m_1", **message: Any) -> dict[str, Any]:
    return {
        "sender": {"id": PSID}, "recipient": {"id": "PAGE"}, "timestamp": 1_700_000_000_123,
        "message": {"mid": mid, "text": text, **message},
    }  # fmt: skip


# -- handshake ----------------------------------------------------------------------------------


def test_handshake_ok(client: TestClient) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    response = client.get("/webhooks/messenger", params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [{"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
     {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "1"}, {}],
)  # fmt: skip
def test_handshake_refused(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/webhooks/messenger", params=params)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


NO_SECRET = MetaSettings(app_secret="", messenger_verify_token="v", messenger_page_token="p")


@pytest.mark.parametrize("meta", [None, MetaSettings(), NO_SECRET])
def test_disabled_channel_answers_503(inbox: RecordingInbox, meta: Any) -> None:
    with make_client(inbox, meta) as client:
        get = client.get("/webhooks/messenger", params={"hub.mode": "subscribe", "hub.verify_token": "",
                                                        "hub.challenge": "1"})  # fmt: skip
        posted = post(client, webhook(text_event()), secret="")
    assert get.status_code == 503 and posted.status_code == 503
    assert "Messenger is disabled" in posted.json()["message"]
    assert inbox.messages == []


# -- inbound messages ---------------------------------------------------------------------------


def test_text_message_submitted(client: TestClient, inbox: RecordingInbox) -> None:
    attachments = [{"type": "image", "payload": {"url": "https://cdn.example/photo.jpg"}},
                   {"type": "location", "payload": {}}]  # fmt: skip
    response = post(client, webhook(text_event(attachments=attachments)))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert inbox.messages == [
        Message(channel="messenger", sender=PSID, conversation_id="", text="Où est ma commande ?",
                message_id="m_1", timestamp=1_700_000_000.123, attachments=("https://cdn.example/photo.jpg",))
    ]  # fmt: skip


def test_attachment_only_message(client: TestClient, inbox: RecordingInbox) -> None:
    event = text_event(attachments=[{"type": "image", "payload": {"url": "https://cdn.example/a.png"}}])
    del event["message"]["text"]
    assert post(client, webhook(event)).status_code == 200
    assert [(m.text, m.attachments) for m in inbox.messages] == [("", ("https://cdn.example/a.png",))]


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, sign(b"{}", SECRET), "garbage"])
def test_bad_signature_refused_and_nothing_submitted(
    client: TestClient, inbox: RecordingInbox, signature: str | None
) -> None:
    response = post(client, webhook(text_event()), signature=signature)
    assert response.status_code == 403
    assert "X-Hub-Signature-256" in response.json()["message"]
    assert inbox.messages == []


def test_signed_with_another_secret_refused(client: TestClient, inbox: RecordingInbox) -> None:
    assert post(client, webhook(text_event()), secret="attacker").status_code == 403
    assert inbox.messages == []


def test_unsigned_invalid_json_is_403_not_422(client: TestClient) -> None:
    """The signature is checked before anything is parsed."""
    assert post(client, None, raw=b"{not json", signature=None).status_code == 403


def test_echo_delivery_read_ignored(client: TestClient, inbox: RecordingInbox) -> None:
    base = {"sender": {"id": PSID}, "recipient": {"id": "PAGE"}, "timestamp": 1_700_000_000_000}
    events = [
        text_event(mid="m_echo", is_echo=True, app_id=1517776481860111),
        {**base, "delivery": {"mids": ["m_9"], "watermark": 1_700_000_000_000}},
        {**base, "read": {"watermark": 1_700_000_000_000}},
        {**base, "reaction": {"mid": "m_9", "action": "react", "emoji": "👍"}},
    ]
    assert post(client, webhook(*events)).status_code == 200
    assert inbox.messages == []


def test_quick_reply_and_postback_payloads(client: TestClient, inbox: RecordingInbox) -> None:
    quick = text_event(text="Oui", mid="m_q", quick_reply={"payload": "/affirm"})
    postback = {
        "sender": {"id": PSID},
        "recipient": {"id": "PAGE"},
        "timestamp": 1_700_000_001_000,
        "postback": {"title": "Suivre ma commande", "payload": "/track_order", "mid": "m_pb"},
    }
    legacy = {"sender": {"id": PSID}, "recipient": {"id": "PAGE"}, "timestamp": 1_700_000_002_000,
              "postback": {"title": "Démarrer", "payload": "/greet"}}  # fmt: skip
    assert post(client, webhook(quick, postback, legacy)).status_code == 200
    assert [(m.text, m.message_id) for m in inbox.messages] == [
        ("/affirm", "m_q"),
        ("/track_order", "m_pb"),
        ("/greet", f"postback:{PSID}:1700000002000"),
    ]
    # Meta retries the same batch: the ids are stable, so the inbox deduplicates them.
    assert post(client, webhook(legacy)).status_code == 200
    assert len(inbox.messages) == 3


def test_long_text_submitted_cut(client: TestClient, inbox: RecordingInbox) -> None:
    assert post(client, webhook(text_event(text="é" * 2500))).status_code == 200
    assert inbox.messages[0].text == "é" * 2000


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"{not json", "not valid JSON"), (b'{"object": "instagram", "entry": []}', "Messenger webhook"),
     (b'{"object": "page", "entry": {}}', "entry"), (b"[]", "Messenger webhook"), (b"", "not valid JSON")],
)  # fmt: skip
def test_invalid_payload_422(client: TestClient, inbox: RecordingInbox, raw: bytes, fragment: str) -> None:
    response = post(client, None, raw=raw)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert fragment in response.json()["message"]
    assert inbox.messages == []


def test_body_too_large(client: TestClient, inbox: RecordingInbox) -> None:
    big = json.dumps(webhook(text_event(text="x" * 300_000))).encode()
    assert post(client, None, raw=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for start in range(0, len(big), 16_384):
            yield big[start : start + 16_384]

    response = client.post("/webhooks/messenger", content=chunks(),
                           headers={"X-Hub-Signature-256": sign(big, SECRET)})  # fmt: skip
    assert response.status_code == 413
    assert inbox.messages == []


def test_inbox_failure_is_503_so_meta_retries() -> None:
    with make_client(RecordingInbox(fail=True)) as client:
        response = post(client, webhook(text_event()))
    assert response.status_code == 503


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] * 2 if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return rng.choice(["", "page", "m_1", PSID, "é" * rng.randint(0, 3000), "/affirm", "123"])
    if kind == "int":
        return rng.choice([0, -1, 1_700_000_000_000, 10**30, 2**63])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e308])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["object", "entry", "messaging", "sender", "id", "message", "text", "mid", "postback", "payload",
            "quick_reply", "attachments", "url", "timestamp", "is_echo", "delivery", "read", "x"]  # fmt: skip
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _mutate(rng: random.Random, value: Any) -> Any:
    """A valid webhook with one random node replaced: deep malformations the parser must survive."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutate(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return [*value[:index], _mutate(rng, value[index]), *value[index + 1 :]]
    return _random_json(rng)


def test_fuzz_signed_random_payloads_never_500(inbox: RecordingInbox) -> None:
    rng = random.Random(20240611)
    valid = webhook(text_event(), text_event(mid="m_2", quick_reply={"payload": "/deny"}),
                    {"sender": {"id": PSID}, "timestamp": 1, "postback": {"payload": "/greet"}})  # fmt: skip
    with make_client(inbox) as client:  # raise_server_exceptions: a crash fails the test loudly
        for round_ in range(400):
            payload = _mutate(rng, valid) if round_ % 2 else _random_json(rng)
            response = post(client, payload)
            assert response.status_code in (200, 422), (payload, response.text)
    assert all(isinstance(m.text, str) and len(m.text) <= 2000 for m in inbox.messages)


# -- outbound: the sender against the fake Graph API --------------------------------------------


@pytest.fixture(scope="module")
def graph_server() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=SECRET, page_token="page-token") as server:
        yield server


@pytest.fixture
def graph(graph_server: FakeGraph) -> FakeGraph:
    graph_server.reset()
    return graph_server


def settings_for(graph: FakeGraph, **overrides: Any) -> MetaSettings:
    values = {"app_secret": SECRET, "messenger_verify_token": "verify-me",
              "messenger_page_token": "page-token", "graph_api_base": graph.base_url,
              "graph_api_version": graph.version, **overrides}  # fmt: skip
    return MetaSettings(**values)


def run_send(
    settings: MetaSettings, message: Message, *, typing: bool = True, **client_args: Any
) -> list[str]:
    async def go() -> list[str]:
        args = {"backoff": 0.01, "max_backoff": 0.05, **client_args}
        async with GraphClient(settings, **args) as client:
            return await messenger.MessengerSender(client, settings, typing=typing).send(
                message, last_inbound_at=time.time()
            )

    return asyncio.run(go())


def bot_message(text: str = "Votre colis arrive demain.", buttons: tuple[Button, ...] = ()) -> Message:
    return Message(channel="messenger", sender=PSID, conversation_id="c1", text=text, role="bot",
                   buttons=buttons, lang="fr")  # fmt: skip


def test_sender_typing_then_message_with_quick_replies(graph: FakeGraph) -> None:
    buttons = (Button("Oui", "/affirm"), Button("Non, parler à quelqu'un", "/handoff"))
    ids = run_send(settings_for(graph), bot_message("Autre chose ?", buttons))
    calls = graph.calls_to("messenger")
    assert [c.body for c in calls] == [
        {"recipient": {"id": PSID}, "sender_action": "typing_on"},
        {"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {
            "text": "Autre chose ?", "quick_replies": [
                {"content_type": "text", "title": "Oui", "payload": "/affirm"},
                {"content_type": "text", "title": "Non, parler à quelq\u2026", "payload": "/handoff"},
            ]}},
    ]  # fmt: skip
    assert ids == ["m_fake2"]
    for call in calls:
        assert call.path == f"/{graph.version}/me/messages"
        assert call.headers["authorization"] == "Bearer page-token"
        assert call.query == {"appsecret_proof": appsecret_proof("page-token", SECRET)}


def test_sender_splits_long_text_and_caps_quick_replies(graph: FakeGraph) -> None:
    buttons = tuple(Button(f"Option {i}", f"/choice{i}") for i in range(20))
    ids = run_send(settings_for(graph), bot_message("mot " * 1200, buttons), typing=False)
    bodies = [c.body["message"] for c in graph.calls_to("messenger")]
    assert len(bodies) == len(ids) == 3
    assert all(len(b["text"]) <= 2000 for b in bodies)
    assert [len(b.get("quick_replies", [])) for b in bodies] == [0, 0, 13]


def test_sender_button_only_message_gets_a_prompt(graph: FakeGraph) -> None:
    run_send(settings_for(graph), bot_message("", (Button("Oui", "/affirm"),)), typing=False)
    assert graph.calls_to("messenger")[0].body["message"]["text"] == "Choisissez une option :"


def test_sender_retries_after_two_503s(graph: FakeGraph) -> None:
    graph.fail_next(2, 503)
    assert run_send(settings_for(graph), bot_message(), typing=False) == ["m_fake1"]
    assert graph.attempts == 3
    assert len(graph.calls_to("messenger")) == 1


def test_sender_honours_retry_after_on_429(graph: FakeGraph) -> None:
    graph.fail_next(1, 429, retry_after=0.05)
    started = time.monotonic()
    run_send(settings_for(graph), bot_message(), typing=False, max_backoff=1.0)
    assert graph.attempts == 2
    assert time.monotonic() - started >= 0.05


def test_sender_gives_up_after_the_attempts(graph: FakeGraph) -> None:
    graph.fail_next(5, 503)
    with pytest.raises(GraphError) as info:
        run_send(settings_for(graph), bot_message(), typing=False, attempts=3)
    assert info.value.status == 503 and info.value.retryable
    assert graph.attempts == 3


def test_400_is_not_retried(graph: FakeGraph) -> None:
    """A shape Graph refuses (title over 20 characters) fails at once with Graph's message."""
    reply = {"content_type": "text", "title": "x" * 21, "payload": "/p"}
    body = {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
            "message": {"text": "x", "quick_replies": [reply]}}  # fmt: skip

    async def go() -> None:
        async with GraphClient(settings_for(graph), backoff=0.01) as client:
            await client.post("me/messages", body, token="page-token")

    with pytest.raises(GraphError) as info:
        asyncio.run(go())
    assert info.value.status == 400 and info.value.code == 100 and not info.value.retryable
    assert "quick reply title" in info.value.message
    assert graph.attempts == 1 and graph.calls == []


def test_wrong_app_secret_fails_the_proof(graph: FakeGraph) -> None:
    with pytest.raises(GraphError) as info:
        run_send(settings_for(graph, app_secret="not-the-secret"), bot_message(), typing=False)
    assert info.value.status == 403 and "appsecret_proof" in info.value.message
    assert graph.attempts == 1


def test_wrong_token_is_401(graph: FakeGraph) -> None:
    with pytest.raises(GraphError) as info:
        run_send(settings_for(graph, messenger_page_token="stolen"), bot_message(), typing=False)
    assert info.value.status == 401 and info.value.code == 190


def test_typing_failure_does_not_block_the_answer(graph: FakeGraph) -> None:
    async def go() -> list[str]:
        settings = settings_for(graph)
        async with GraphClient(settings, attempts=1) as client:
            graph.fail_next(1, 503)  # the typing indicator's only attempt
            return await messenger.MessengerSender(client, settings).send(bot_message(), last_inbound_at=None)

    assert asyncio.run(go()) == ["m_fake1"]
    assert [c.body.get("messaging_type") for c in graph.calls_to("messenger")] == ["RESPONSE"]


def test_closed_window_becomes_delivery_refused(graph: FakeGraph) -> None:
    graph.close_window(PSID)
    with pytest.raises(DeliveryRefused) as info:
        run_send(settings_for(graph), bot_message())
    assert "24-hour window" in info.value.reason
    assert graph.attempts == 2  # typing indicator (allowed) + the refused message, no retry


def test_slow_graph_times_out_and_retries_without_blocking_the_loop(graph: FakeGraph) -> None:
    graph.slow_next(1, 0.6)
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def go() -> list[str]:
        settings = settings_for(graph)
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        async with GraphClient(settings, backoff=0.01, timeout=0.2) as client:
            ids = await messenger.MessengerSender(client, settings, typing=False).send(
                bot_message(), last_inbound_at=None
            )
        stop.set()
        await task
        return ids

    ids = asyncio.run(go())
    assert len(ids) == 1 and ids[0].startswith("m_fake")
    assert graph.attempts == 2
    assert ticks >= 10  # the loop kept running while the first call waited


def test_unreachable_graph_is_retried_then_raises() -> None:
    settings = MetaSettings(app_secret=SECRET, messenger_page_token="page-token",
                            graph_api_base=f"http://127.0.0.1:{free_port()}")  # fmt: skip
    with pytest.raises(GraphError) as info:
        run_send(settings, bot_message(), typing=False, attempts=3)
    assert info.value.retryable and info.value.status is None
    assert "connection failed" in info.value.message


def test_events_outside_the_replay_window_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from conversation.message import Message
    from gateway.channels import meta

    monkeypatch.setattr(meta, "REPLAY_WINDOW_S", 6 * 86400)
    now = time.time()
    def at(ts: float) -> Message:
        return Message(channel="messenger", sender="p", conversation_id="", text="hi", timestamp=ts)
    kept = meta.fresh([at(now - 60), at(now - 7 * 86400), at(now + 3600), at(now - 5 * 86400)], now=now)
    assert [round(m.timestamp - now) for m in kept] == [-60, -5 * 86400]


def test_the_graph_circuit_opens_after_repeated_outages_and_fails_fast() -> None:
    """5 calls failing after all their retries open the circuit: the 6th fails at once."""
    import httpx

    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503, json={"error": {"message": "down", "code": 2}})

    async def scenario() -> tuple[int, str]:
        client = GraphClient(SETTINGS, attempts=2, backoff=0.001, transport=httpx.MockTransport(handler))
        try:
            for _ in range(5):
                with pytest.raises(GraphError):
                    await client.post("me/messages", {"x": 1}, token="page-token")
            before = len(calls)
            with pytest.raises(GraphError) as info:
                await client.post("me/messages", {"x": 1}, token="page-token")
            return len(calls) - before, info.value.error_type
        finally:
            await client.aclose()

    extra_calls, kind = asyncio.run(scenario())
    assert (extra_calls, kind) == (0, "CircuitOpen")
