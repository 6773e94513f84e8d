"""Photos and PDFs sent on WhatsApp and Messenger, on the real app and Redis with the fake Graph
API on a real local server: WhatsApp's media id is resolved (GET /<version>/<media-id>) and its
URL downloaded with the token, Messenger's attachment URL downloaded; the file is checked and
kept like a widget upload and reaches the transcript; a file we do not keep gets the shopper a
polite reply instead, once, and nothing is stored."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image

from tests.fakes.graph_server import FakeGraph, sign

SECRET = "app-secret"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


PDF = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(scope="module")
def graph_server() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=SECRET) as server:
        yield server


@pytest.fixture
def graph(graph_server: FakeGraph) -> FakeGraph:
    graph_server.reset()
    return graph_server


@pytest.fixture
def api(make_client: Callable[..., TestClient], graph: FakeGraph, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> TestClient:
    for name, value in {"META_APP_SECRET": SECRET, "MESSENGER_VERIFY_TOKEN": "v-m",
                        "MESSENGER_PAGE_TOKEN": graph.page_token, "WHATSAPP_VERIFY_TOKEN": "v-w",
                        "WHATSAPP_TOKEN": graph.whatsapp_token,
                        "WHATSAPP_PHONE_NUMBER_ID": graph.phone_number_id,
                        "GRAPH_API_BASE": graph.base_url, "GRAPH_API_VERSION": graph.version}.items():
        monkeypatch.setenv(name, value)
    return make_client(attachments_dir=tmp_path / "files", attachment_max_bytes=32 * 1024)


def post(api: TestClient, path: str, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    return api.post(path, content=body, headers={"Content-Type": "application/json",
                                                 "X-Hub-Signature-256": sign(body, SECRET)})


def whatsapp(wa_id: str, kind: str, content: dict[str, Any], wamid: str | None = None) -> dict[str, Any]:
    item = {"from": wa_id, "id": wamid or f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(time.time())),
            "type": kind, kind: content}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1055"},
                      "contacts": [{"wa_id": wa_id}], "messages": [item]}}]}]}


def messenger(psid: str, attachments: list[dict[str, Any]], text: str = "") -> dict[str, Any]:
    ts = int(time.time() * 1000)
    message: dict[str, Any] = {"mid": f"m_{uuid.uuid4().hex}", "attachments": attachments}
    if text:
        message["text"] = text
    return {"object": "page", "entry": [{"id": "PAGE", "time": ts, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": "PAGE"}, "timestamp": ts, "message": message}]}]}


def transcript(redis_client: redis.Redis, channel: str, sender: str) -> list[dict[str, Any]]:
    cid = redis_client.get(f"support:conv:by-sender:{channel}:{sender}")
    return [json.loads(m) for m in redis_client.lrange(f"support:conv:{cid}:log", 0, -1)] if cid else []


def replies(graph: FakeGraph, endpoint: str, recipient: str) -> list[str]:
    out = []
    for call in graph.calls_to(endpoint):
        if endpoint == "whatsapp" and call.body.get("to") == recipient and call.body.get("type") == "text":
            out.append(call.body["text"]["body"])
        if endpoint == "messenger" and call.body.get("recipient", {}).get("id") == recipient \
                and "message" in call.body:
            out.append(call.body["message"]["text"])
    return out


def wait_for(check: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return got


def stored_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "files").rglob("a-*")] if (tmp_path / "files").exists() else []


def test_a_whatsapp_photo_is_fetched_with_the_token_and_reaches_the_transcript(
        api: TestClient, graph: FakeGraph, redis_client: redis.Redis, tmp_path: Path) -> None:
    photo = jpeg()
    graph.add_media("9001", photo, "image/jpeg")
    payload = whatsapp("33611111111", "image", {"id": "9001", "mime_type": "image/jpeg",
                                                "caption": "Le vase est arrivé cassé"})
    assert post(api, "/webhooks/whatsapp", payload).status_code == 200
    [shopper] = [m for m in transcript(redis_client, "whatsapp", "33611111111") if m["role"] == "shopper"]
    assert shopper["text"] == "Le vase est arrivé cassé" and shopper["attachments"] == []
    [file] = shopper["files"]
    assert file["type"] == "image/png" or file["type"] == "image/jpeg"
    assert (file["width"], file["height"]) == (64, 48) and file["name"] == "image.jpg"
    assert graph.downloads == ["/wa-media/9001"]              # the fake refuses it without the token
    [kept] = stored_files(tmp_path)
    assert kept.read_bytes() == photo
    assert post(api, "/webhooks/whatsapp", payload).status_code == 200   # Meta redelivers: kept once
    assert len(stored_files(tmp_path)) == 1 and graph.downloads == ["/wa-media/9001"]


def test_a_whatsapp_pdf_alone_is_acknowledged(api: TestClient, graph: FakeGraph, redis_client: redis.Redis,
                                              tmp_path: Path) -> None:
    graph.add_media("9002", PDF, "application/pdf")
    payload = whatsapp("33622222222", "document", {"id": "9002", "filename": "facture.pdf",
                                                   "mime_type": "application/pdf"})
    assert post(api, "/webhooks/whatsapp", payload).status_code == 200
    said = wait_for(lambda: replies(graph, "whatsapp", "33622222222"), "the bot's acknowledgement")
    assert "fichier" in said[0]
    [shopper] = [m for m in transcript(redis_client, "whatsapp", "33622222222") if m["role"] == "shopper"]
    assert shopper["files"][0]["name"] == "facture.pdf" and shopper["files"][0]["type"] == "application/pdf"


TYPES = "photos (JPEG, PNG, WebP, GIF) ou des PDF"


@pytest.mark.parametrize(("kind", "content", "mime", "expected"), [
    ("video", b"\x00\x00\x00\x18ftypmp42", "video/mp4", TYPES),
    ("image", b"<html><script>alert(1)</script></html>", "image/jpeg", TYPES),
    ("image", b"\xff\xd8\xff" + b"0" * (40 * 1024), "image/jpeg", "trop lourd pour moi (1\u00a0Mo au plus)"),
])
def test_a_whatsapp_file_we_do_not_keep_gets_a_polite_reply_once(
        api: TestClient, graph: FakeGraph, redis_client: redis.Redis, tmp_path: Path, kind: str,
        content: bytes, mime: str, expected: str) -> None:
    wa_id = f"336{uuid.uuid4().int % 10**8:08d}"
    graph.add_media("9003", content, mime)
    payload = whatsapp(wa_id, kind, {"id": "9003", "mime_type": mime})
    for _ in range(2):                                        # and a redelivery stays silent
        assert post(api, "/webhooks/whatsapp", payload).status_code == 200
    said = replies(graph, "whatsapp", wa_id)
    assert len(said) == 1 and expected in said[0], said
    assert stored_files(tmp_path) == []
    assert [m for m in transcript(redis_client, "whatsapp", wa_id) if m["role"] == "shopper"] == []
    if kind == "video" or len(content) > 32 * 1024:
        assert graph.downloads == []                          # refused before any download


def test_a_messenger_photo_is_downloaded_from_its_url(api: TestClient, graph: FakeGraph,
                                                       redis_client: redis.Redis, tmp_path: Path) -> None:
    url = graph.add_cdn_file("colis.jpg", jpeg(), "image/jpeg")
    payload = messenger("psid-photo", [{"type": "image", "payload": {"url": url}}], text="voici la photo")
    assert post(api, "/webhooks/messenger", payload).status_code == 200
    [shopper] = [m for m in transcript(redis_client, "messenger", "psid-photo") if m["role"] == "shopper"]
    assert shopper["text"] == "voici la photo" and shopper["files"][0]["name"] == "colis.jpg"
    assert shopper["attachments"] == [] and len(stored_files(tmp_path)) == 1


@pytest.mark.parametrize(("url", "answered"), [
    ("http://169.254.169.254/latest/meta-data", True),       # not https, not Graph's own origin
    ("https://user:pw@internal.example/x.jpg", True),        # credentials in a URL: never followed
    ("file:///etc/passwd", False),                           # not even read as an attachment
])
def test_a_messenger_url_we_must_not_fetch_is_never_fetched(api: TestClient, graph: FakeGraph,
                                                            redis_client: redis.Redis, tmp_path: Path,
                                                            url: str, answered: bool) -> None:
    psid = f"psid-{uuid.uuid4().hex[:8]}"
    assert post(api, "/webhooks/messenger",
                messenger(psid, [{"type": "image", "payload": {"url": url}}])).status_code == 200
    said = replies(graph, "messenger", psid)
    assert said == (["Désolé, je n’ai pas pu récupérer votre fichier. Pouvez-vous le renvoyer dans un "
                     "instant\u202f?"] if answered else []), said
    assert stored_files(tmp_path) == [] and graph.downloads == []
