"""GDPR on the real app and Redis: a customer's conversation, ticket, survey comment and analytics
traces are exported, then erased; afterwards a scan of every Redis key and value finds neither
the e-mail nor the conversation, and the logs never contained the e-mail."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from ops.ports import free_port
from ops.redis_server import RedisServer
from retrieval.service import RetrievalService
from tests.gateway.web_client import new_conversation, wait_history

from .helpers import PASSWORD, add_accounts

REPO = Path(__file__).resolve().parents[2]
EMAIL = "Jeanne.Martin@example.org"


@pytest.fixture
def client(app_factory: Callable[..., Any], retrieval_service: RetrievalService, redis_client: redis.Redis,
           redis_server: RedisServer) -> Iterator[TestClient]:
    redis_client.flushdb()
    add_accounts(redis_server.url, boss="admin", ana="agent")
    app = app_factory(retrieval=retrieval_service, rasa_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(app) as test_client:
        yield test_client


def auth(client: TestClient, email: str) -> dict[str, str]:
    res = client.post("/api/agent/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": "Bearer " + res.json()["token"]}


def everything(client: redis.Redis) -> str:
    """Every key and value in Redis, as one string (the GDPR scan)."""
    parts = []
    for key in client.scan_iter(count=1000):
        parts.append(key)
        kind = client.type(key)
        if kind == "string":
            parts.append(str(client.get(key)))
        elif kind == "hash":
            parts += [f"{k}={v}" for k, v in client.hgetall(key).items()]
        elif kind == "list":
            parts += client.lrange(key, 0, -1)
        elif kind == "set":
            parts += list(client.smembers(key))
        elif kind == "zset":
            parts += client.zrange(key, 0, -1)
        elif kind == "stream":
            parts += [json.dumps(fields) for _, fields in client.xrange(key)]
    return "\n".join(map(str, parts))


def customer_history(client: TestClient) -> tuple[str, str]:
    """A shopper asks, leaves a ticket with their e-mail, rates and comments; another one chats."""
    cid = new_conversation(client, lang="fr")
    for text in ("Où est mon colis ?", "/leave_message", EMAIL,
                 "Mon colis n'arrive pas, appelez-moi au 06 12 34 56 78"):
        client.post(f"/api/chat/conversations/{cid}/messages", json={"text": text})
    messages = wait_history(client, cid, 9)
    tid = messages[-1]["text"].split("demande ", 1)[1].split(" ", 1)[0]
    router, portal = client.app.state.gateway.router, client.portal
    assert portal is not None  # a score counts only for an offered survey: offer it
    portal.call(router.surveys.ask, portal.call(router.transcripts.require, cid), "csat")
    for text in ('/csat{"score": 2}', "Trop lent"):
        client.post(f"/api/chat/conversations/{cid}/messages", json={"text": text})
    wait_history(client, cid, 14)
    other = new_conversation(client, lang="fr")
    client.post(f"/api/chat/conversations/{other}/messages", json={"text": "Où est mon colis ?"})
    wait_history(client, other, 3)
    return cid, tid


def test_export_then_erase_leaves_no_trace(client: TestClient, redis_client: redis.Redis,
                                           caplog: pytest.LogCaptureFixture,
                                           capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    cid, tid = customer_history(client)
    admin, agent = auth(client, "boss@shop.example"), auth(client, "ana@shop.example")

    assert client.get("/api/admin/privacy/export", params={"email": EMAIL}, headers=agent).status_code == 403
    export = client.get("/api/admin/privacy/export", params={"email": EMAIL.upper()}, headers=admin).json()
    assert [t["id"] for t in export["tickets"]] == [tid]
    assert [c["id"] for c in export["conversations"]] == [cid]
    texts = [m["text"] for m in export["conversations"][0]["messages"]]
    assert "Où est mon colis ?" in texts and EMAIL in texts
    assert any(c["text"] == "Trop lent" for c in export["survey_comments"])
    assert export["analytics_events"], "analytics traces of the conversation are part of the export"

    assert EMAIL in everything(redis_client) and cid in everything(redis_client)
    erased = client.post("/api/admin/privacy/erase", json={"email": EMAIL}, headers=admin)
    assert erased.status_code == 200, erased.text
    counts = erased.json()["erased"]
    assert counts["tickets"] == 1 and counts["conversations"] == 1 and counts["keys"] > 0

    left = everything(redis_client)
    for trace in (EMAIL, EMAIL.lower(), "Jeanne", cid, tid, "06 12 34 56 78", "Trop lent"):
        assert trace not in left, f"{trace!r} still in Redis after erase"
    again = client.get("/api/admin/privacy/export", params={"email": EMAIL}, headers=admin).json()
    assert again["tickets"] == [] and again["conversations"] == []
    # the other customer's conversation is untouched; the e-mail never reached the logs
    assert "Où est mon colis ?" in left
    logs = caplog.text + capfd.readouterr().err          # records and the JSON lines with their extras
    assert '"logger": "gateway.access"' in logs           # the JSON logs were captured...
    assert EMAIL.lower() not in logs.lower()              # ...and never held the e-mail


def test_the_cli_exports_and_erases(client: TestClient, redis_server: RedisServer,
                                    redis_client: redis.Redis) -> None:
    cid, _ = customer_history(client)
    env = {"REDIS_URL": redis_server.url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "handoff", "gdpr", "export", "--email", EMAIL], cwd=REPO,
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["conversations"][0]["id"] == cid
    refused = subprocess.run([sys.executable, "-m", "handoff", "gdpr", "erase", "--email", EMAIL], cwd=REPO,
                             capture_output=True, text=True, env=env, input="no\n", timeout=60)
    assert refused.returncode == 2 and "nothing erased" in refused.stderr
    done = subprocess.run([sys.executable, "-m", "handoff", "gdpr", "erase", "--email", EMAIL, "--yes"],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["conversations"] == 1
    assert EMAIL not in everything(redis_client)


def test_retention_purge_deletes_only_what_is_too_old(client: TestClient, redis_server: RedisServer,
                                                      redis_client: redis.Redis) -> None:
    import time

    from handoff.privacy import Privacy
    from shop.config import RetentionConfig

    cid, tid = customer_history(client)
    redis_client.hset(f"support:ticket:{tid}", mapping={"status": "solved", "solved_at": time.time()})
    retention = RetentionConfig(conversations_days=30, tickets_days=60, analytics_events_days=90,
                                survey_comments_days=30)

    async def purge(now: float) -> dict[str, int]:
        r = aioredis.Redis.from_url(redis_server.url)
        try:
            return await Privacy(r).purge(retention, now=now)
        finally:
            await r.aclose()

    fresh = asyncio.run(purge(time.time()))
    assert fresh == {"conversations": 0, "tickets": 0, "keys": 0, "stream_entries": 0, "survey_comments": 0}
    assert cid in everything(redis_client)

    month_later = asyncio.run(purge(time.time() + 45 * 86400))   # conversations and comments expire
    assert month_later["conversations"] == 2 and month_later["tickets"] == 0
    assert month_later["survey_comments"] >= 1 and month_later["stream_entries"] >= 1   # comments only
    left = everything(redis_client)
    assert not redis_client.keys(f"*{cid}*")                   # transcript, tracker, facts: gone
    assert "Trop lent" not in left and redis_client.exists(f"support:ticket:{tid}")

    later = asyncio.run(purge(time.time() + 100 * 86400))        # the solved ticket, raw events
    assert later["tickets"] == 1 and later["stream_entries"] > 0
    assert not redis_client.exists(f"support:ticket:{tid}")
    assert redis_client.xlen("support:analytics:events") == 0
    assert redis_client.keys("support:analytics:day:*"), "the anonymous day counters stay"


def test_log_lines_mask_personal_data() -> None:
    import logging as std_logging

    from gateway.logs import JsonFormatter

    record = std_logging.LogRecord("t", std_logging.ERROR, __file__, 1,
                                   "could not mail %s", ("jo@example.com",), None)
    record.phone = "+33 6 12 34 56 78"
    line = JsonFormatter().format(record)
    assert "jo@example.com" not in line and "[email]" in line
    assert "12 34 56" not in line and "[phone]" in line
    assert json.loads(line)["msg"] == "could not mail [email]"


def test_a_customers_files_are_exported_and_erased_with_their_conversation(
        app_factory: Callable[..., Any], retrieval_service: RetrievalService, redis_client: redis.Redis,
        redis_server: RedisServer, tmp_path: Path) -> None:
    import base64
    import io
    import time

    from PIL import Image

    from handoff.privacy import Privacy
    from shop.config import RetentionConfig

    redis_client.flushdb()
    add_accounts(redis_server.url, boss="admin")
    image = io.BytesIO()
    Image.new("RGB", (30, 20), "blue").save(image, "PNG")
    app = app_factory(retrieval=retrieval_service, rasa_url=f"http://127.0.0.1:{free_port()}",
                      attachments_dir=tmp_path / "files")
    with TestClient(app) as client:
        def send_file(cid: str) -> str:
            res = client.post(f"/api/chat/conversations/{cid}/attachments",
                              files={"file": ("colis.png", image.getvalue(), "image/png")})
            assert res.status_code == 202, res.text
            return str(res.json()["file"]["id"])

        cid, other = new_conversation(client, lang="fr"), new_conversation(client, lang="fr")
        aid, other_aid = send_file(cid), send_file(other)
        ticket = client.post(f"/api/chat/conversations/{cid}/tickets",
                             json={"email": EMAIL, "message": "Colis cassé, voir la photo"})
        assert ticket.status_code == 201, ticket.text
        admin = auth(client, "boss@shop.example")

        export = client.get("/api/admin/privacy/export", params={"email": EMAIL}, headers=admin).json()
        [conversation] = export["conversations"]
        [file] = conversation["attachments"]
        assert file["id"] == aid and file["type"] == "image/png" and file["name"] == "colis.png"
        assert base64.b64decode(file["content_base64"]) == image.getvalue()
        assert any(f["id"] == aid for m in conversation["messages"] for f in m.get("files", []))

        on_disk = {p.name for p in (tmp_path / "files").rglob("a-*")}
        assert on_disk == {aid, other_aid}
        erased = client.post("/api/admin/privacy/erase", json={"email": EMAIL}, headers=admin).json()
        assert erased["erased"]["attachments"] == 1
        assert {p.name for p in (tmp_path / "files").rglob("a-*")} == {other_aid}
        assert aid not in everything(redis_client)
        assert client.get(f"/api/chat/conversations/{other}/attachments/{other_aid}").status_code == 200

        retention = RetentionConfig(conversations_days=30, tickets_days=60, analytics_events_days=90,
                                    survey_comments_days=30)

        async def purge() -> dict[str, int]:
            r = aioredis.Redis.from_url(redis_server.url)
            try:
                return await Privacy(r, attachments=type(app.state.gateway.attachments)(
                    r, tmp_path / "files")).purge(retention, now=time.time() + 45 * 86400)
            finally:
                await r.aclose()

        assert asyncio.run(purge())["conversations"] >= 1          # retention removes files too
        assert list((tmp_path / "files").rglob("a-*")) == []
        assert not redis_client.keys("support:attachment*") and not redis_client.keys("*:attachment*")
