"""The FAQ studio's API (issue 22) on a copy of the small KB, with the real FAQ engine and
Redis: an editor reads an entry, previews, checks, tries a question against the draft, sees the
impact, publishes (the search serves the new text at once), restores a version; two editors on
one entry; a change that makes answers worse; git history. And the attacker's calls: other
roles, ids and versions that are paths or options, oversized drafts, markup in every field."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from analytics import events as ev
from analytics.log import EventLog
from retrieval.service import RetrievalService
from shop.hours import from_config
from tests.helpers import on_redis

from .helpers import KB_SMALL, add_accounts, login

EVAL = """query,expected_id,lang,context
How can I pay?,payment-methods-en,en,
which cards do you take,payment-methods-en,en,
Where is my parcel?,track-en,en,
track my delivery please,track-en,en,
my coupon is refused,promo-en,en,
"""
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    dest = tmp_path / "kb"
    shutil.copytree(KB_SMALL, dest)
    (dest / "eval.csv").write_text(EVAL, encoding="utf-8")
    return dest


@pytest.fixture
def studio_api(
    app_factory: Callable[..., Any],
    retrieval_service: RetrievalService,
    gateway_index_dir: Path,
    kb: Path,
    tmp_path: Path,
    redis_client: redis.Redis,
    redis_server: Any,
) -> Iterator[TestClient]:
    redis_client.flushdb()
    add_accounts(redis_server.url, ed="editor", ana="agent", boss="admin")
    # the session's model, a service of its own on the copy (only what an edit changes is encoded)
    service = RetrievalService(
        kb, cache_root=gateway_index_dir, embedder=retrieval_service.embedder, watch=False
    ).start()
    assert service.ready, service.status()
    with TestClient(
        app_factory(retrieval=service, kb_dir=kb, kb_versions_dir=tmp_path / "versions")
    ) as client:
        yield client
    service.stop()


def opened(api: TestClient, auth: dict[str, str], entry_id: str) -> dict[str, Any]:
    res = api.get(f"/api/editor/entries/{entry_id}", headers=auth)
    assert res.status_code == 200, res.text
    return res.json()


def test_an_editor_fixes_an_answer_and_the_bot_serves_it(studio_api: TestClient, kb: Path) -> None:
    api = studio_api
    ed = login(api, "ed@shop.example")
    listed = api.get("/api/editor/entries", headers=ed).json()
    assert {e["id"] for e in listed["entries"]} >= {"payment-methods-en", "track-en"}
    assert "payment/methods" in listed["reasons"] and "delivery/tracking" in listed["reasons"]
    assert listed["history"] == "folder"  # the copy is not a git work tree
    entry = opened(api, ed, "payment-methods-en")
    assert (
        entry["path"] == "en/pay.md"
        and entry["draft"]["questions"][0] == "Which payment methods do you accept?"
    )
    draft = {**entry["draft"], "answer": "We accept Visa, Mastercard, PayPal, Apple Pay and **Klarna**."}

    hostile = draft["answer"] + " " + XSS
    html = api.post("/api/editor/preview", json={"answer": hostile}, headers=ed).json()["html"]
    assert "<strong>Klarna</strong>" in html and "<script" not in html and "<img" not in html  # text

    bad = {**draft, "reason": "payment/nope"}
    issues = api.post(
        "/api/editor/check", json={"draft": bad, "entry_id": "payment-methods-en"}, headers=ed
    ).json()
    assert not issues["ok"] and [i["field"] for i in issues["issues"] if i["severity"] == "error"] == [
        "reason"
    ]

    tried = api.post(
        "/api/editor/try",
        headers=ed,
        json={"draft": draft, "entry_id": "payment-methods-en", "question": "Can I pay with Klarna?"},
    )
    assert tried.status_code == 200, tried.text
    assert {"draft", "live"} <= tried.json().keys() and tried.json()["draft"]["top"]

    impact = api.post(
        "/api/editor/impact", json={"draft": draft, "entry_id": "payment-methods-en"}, headers=ed
    )
    assert impact.status_code == 200 and impact.json()["asked"] == 5
    assert not impact.json()["worse"], impact.json()

    saved = api.put(
        "/api/editor/entries/payment-methods-en",
        headers=ed,
        json={"draft": draft, "version": entry["version"]},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] != entry["version"]
    text = (kb / "en" / "pay.md").read_text(encoding="utf-8")
    assert text.startswith(
        "---\nid: payment-methods-en\nlang: en\nreason: payment/methods\nquestions:\n"
        '  - "Which payment methods do you accept?"\n'
    )  # quotes and order kept
    hit = api.get("/api/search", params={"q": "Which payment methods do you accept?", "lang": "en"}).json()
    assert "Klarna" in hit["hits"][0]["answer"]  # served at once: the gateway reloaded

    # publishing the same text again writes nothing and records no version
    before = (kb / "en" / "pay.md").read_bytes()
    again = api.put(
        "/api/editor/entries/payment-methods-en",
        headers=ed,
        json={"draft": saved.json()["draft"], "version": saved.json()["version"]},
    )
    assert again.status_code == 200 and again.json()["history_version"] == ""
    assert (kb / "en" / "pay.md").read_bytes() == before

    # the history: the text before the studio, then this edit; the old one comes back
    versions = api.get("/api/editor/entries/payment-methods-en/versions", headers=ed).json()["versions"]
    assert [v["author"] for v in versions] == ["ed@shop.example", ""]
    old = api.get(f"/api/editor/entries/payment-methods-en/versions/{versions[1]['id']}", headers=ed).json()
    assert "Klarna" not in old["text"]
    restored = api.post(
        f"/api/editor/entries/payment-methods-en/versions/{versions[1]['id']}/restore",
        headers=ed,
        json={"version": saved.json()["version"]},
    )
    assert restored.status_code == 200, restored.text
    assert (kb / "en" / "pay.md").read_bytes() == (KB_SMALL / "en" / "pay.md").read_bytes()


def test_two_editors_on_one_entry_nothing_is_overwritten(studio_api: TestClient) -> None:
    api = studio_api
    ed, boss = login(api, "ed@shop.example"), login(api, "boss@shop.example")  # admins edit too
    first, second = opened(api, ed, "track-en"), opened(api, boss, "track-en")
    mine = {**first["draft"], "answer": "Open **My account > Orders** for the tracking link."}
    theirs = {**second["draft"], "answer": "Tracking: see your shipping e-mail."}
    assert (
        api.put(
            "/api/editor/entries/track-en", headers=ed, json={"draft": mine, "version": first["version"]}
        ).status_code
        == 200
    )
    late = api.put(
        "/api/editor/entries/track-en", headers=boss, json={"draft": theirs, "version": second["version"]}
    )
    assert late.status_code == 409 and late.json()["error"] == "conflict"
    assert late.json()["current"]["answer"] == mine["answer"]  # the other's change, shown
    assert opened(api, ed, "track-en")["draft"]["answer"] == mine["answer"]


def test_a_change_that_makes_answers_worse_needs_a_confirmation(studio_api: TestClient) -> None:
    api = studio_api
    ed = login(api, "ed@shop.example")
    entry = opened(api, ed, "track-en")
    wrecked = {
        **entry["draft"],
        "questions": ["Do you sell garden furniture?", "Opening hours of the shop"],
        "title": "Garden furniture",
    }
    refused = api.put(
        "/api/editor/entries/track-en", headers=ed, json={"draft": wrecked, "version": entry["version"]}
    )
    assert refused.status_code == 409 and refused.json()["error"] == "worse", refused.text
    impact = refused.json()["impact"]
    assert impact["after"]["top1"] < impact["before"]["top1"]
    assert any(row["expected"] == "track-en" for row in impact["changed"])
    assert opened(api, ed, "track-en")["version"] == entry["version"]  # nothing written
    forced = api.put(
        "/api/editor/entries/track-en",
        headers=ed,
        json={"draft": wrecked, "version": entry["version"], "confirm": True},
    )
    assert forced.status_code == 200, forced.text


GIFT = ["vous faites les paquets cadeaux ?", "option emballage cadeau", "emballage cadeau possible ?"]


def missed(redis_url: str, questions: list[str]) -> None:
    """Shoppers asked these and the bot had no answer (what the dashboard's topics are made of)."""

    async def record(conn: Any) -> None:
        log = EventLog(conn, hours=from_config())
        for i, q in enumerate(questions):
            await log.append(
                ev.faq_answered(
                    conversation=f"c-gift{i}",
                    band="none",
                    score=0.1,
                    query=q,
                    lang="fr",
                    channel="web",
                    id=f"gift-{i}",
                )
            )

    on_redis(redis_url, record)


def test_a_new_entry_from_a_missing_faq_topic(studio_api: TestClient, kb: Path, redis_server: Any) -> None:
    api = studio_api
    ed, boss = login(api, "ed@shop.example"), login(api, "boss@shop.example")
    missed(redis_server.url, GIFT)
    topics = api.get("/api/admin/analytics/unanswered", headers=boss).json()
    assert topics["questions"] == 3 and topics["topics"], topics
    pre = api.get(
        "/api/editor/topics/draft",
        headers=ed,
        params={
            "lang": "fr",
            "reason": "payment/methods",
            "q": GIFT[:2],
        },
    )
    draft = {**pre.json()["draft"], "id": "emballage-cadeau-fr", "answer": "Oui, pour 3 € à la commande."}
    assert draft["questions"] == GIFT[:2]
    made = api.post("/api/editor/entries", headers=ed, json={"draft": draft})
    assert made.status_code == 201, made.text
    assert (kb / "fr" / "payment" / "emballage-cadeau-fr.md").is_file()
    hit = api.get("/api/search", params={"q": "vous faites les paquets cadeaux ?", "lang": "fr"}).json()
    assert hit["hits"][0]["id"] == "emballage-cadeau-fr"
    twice = api.post("/api/editor/entries", headers=ed, json={"draft": draft})
    assert twice.status_code == 422 and any("already used" in i["message"] for i in twice.json()["issues"])
    # the new entry lists two of the three questions: only the third is still missing
    left = api.get("/api/admin/analytics/unanswered", headers=boss).json()
    assert [e for t in left["topics"] for e in t["examples"]] == [GIFT[2]], left


def test_the_attackers_calls(studio_api: TestClient, kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = studio_api
    ed, agent = login(api, "ed@shop.example"), login(api, "ana@shop.example")
    assert api.get("/api/editor/entries").status_code == 401
    assert api.get("/api/editor/entries", headers=agent).status_code == 403  # agents do not edit
    assert api.get("/api/agent/queue", headers=ed).status_code == 403  # editors see no shopper
    assert api.get("/api/agent/me", headers=ed).status_code == 200
    for entry_id in ("..%2F..%2Fetc%2Fpasswd", "PAY", "payment-methods-en.md", "-rf", "x" * 200):
        assert api.get(f"/api/editor/entries/{entry_id}", headers=ed).status_code in (404, 422), entry_id
    for version in (
        "HEAD",
        "--output=x",
        "..%2F..%2Fen%2Fpay",
        "1" * 40 + ":en/pay.md",
        "0" * 13 + "-" + "a" * 12,
    ):
        res = api.get(f"/api/editor/entries/track-en/versions/{version}", headers=ed)
        assert res.status_code == 404, (version, res.text)
    entry = opened(api, ed, "track-en")
    for evil_id in ("../../evil", "Evil", "a/b"):
        res = api.post("/api/editor/entries", headers=ed, json={"draft": {**entry["draft"], "id": evil_id}})
        assert res.status_code == 422, evil_id
    assert not list(kb.parent.glob("evil*")) and not (kb.parent / "evil.md").exists()
    huge = api.put(
        "/api/editor/entries/track-en",
        headers=ed,
        json={"draft": {**entry["draft"], "answer": "x" * 20_001}, "version": entry["version"]},
    )
    assert huge.status_code == 422
    # markup in every field is text in the file's YAML and sanitised in the preview
    hostile = {
        **entry["draft"],
        "title": XSS,
        "questions": [*entry["draft"]["questions"], XSS],
        "tags": ["<b>x</b>"],
    }
    saved = api.put(
        "/api/editor/entries/track-en",
        headers=ed,
        json={"draft": hostile, "version": entry["version"], "confirm": True},
    )
    assert saved.status_code == 200, saved.text
    assert opened(api, ed, "track-en")["draft"]["title"] == XSS  # kept as the editor wrote it
    # a budget on draft indexes per editor
    monkeypatch.setattr("gateway.editor_api.DRAFTS_PER_HOUR", 1)
    body = {"draft": entry["draft"], "entry_id": "track-en", "question": "where is it"}
    statuses = [api.post("/api/editor/try", headers=ed, json=body).status_code for _ in range(3)]
    assert statuses[-1] == 429


def test_git_history_names_the_editor(studio_api: TestClient, kb: Path) -> None:
    git = ["git", "-C", str(kb)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "-c", "user.name=dev", "-c", "user.email=dev@shop.example", "add", "."], check=True)
    subprocess.run(
        [*git, "-c", "user.name=dev", "-c", "user.email=dev@shop.example", "commit", "-qm", "KB"], check=True
    )
    api = studio_api
    ed = login(api, "ed@shop.example")
    assert api.get("/api/editor/entries", headers=ed).json()["history"] == "git"
    entry = opened(api, ed, "promo-en")
    draft = {**entry["draft"], "answer": "One code per order, typed in the cart before paying."}
    assert (
        api.put(
            "/api/editor/entries/promo-en",
            headers=ed,
            json={"draft": draft, "version": entry["version"]},
        ).status_code
        == 200
    )
    log = subprocess.run([*git, "log", "--format=%an <%ae>|%s", "-1"], capture_output=True, text=True).stdout
    assert log.strip() == "ed@shop.example <ed@shop.example>|FAQ studio: update promo-en"
    versions = api.get("/api/editor/entries/promo-en/versions", headers=ed).json()["versions"]
    assert len(versions) == 2 and versions[0]["author"] == "ed@shop.example"
    old = api.get(f"/api/editor/entries/promo-en/versions/{versions[1]['id']}", headers=ed).json()["text"]
    assert "entered in the cart" in old
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout
    assert status.strip() == ""  # committed, nothing left over


def test_entries_carry_their_health(studio_api: TestClient, redis_server: Any, kb: Path) -> None:
    """What the list's health filters read: answers shown and voted on, the down rate, the
    questions an answer left unanswered, shared questions (conflicts) and missing translations."""

    async def record(conn: Any) -> None:
        log = EventLog(conn, hours=from_config())
        for i, up in enumerate((True, False, False)):
            cid = f"c-health{i}"
            await log.append(
                ev.faq_answered(
                    conversation=cid,
                    band="answer",
                    score=0.9,
                    entry="promo-en",
                    lang="en",
                    channel="web",
                    id=f"h-ans-{i}",
                )
            )
            await log.append(
                ev.thumbs(
                    conversation=cid,
                    up=up,
                    entry="promo-en",
                    query="my code fails",
                    lang="en",
                    channel="web",
                    id=f"h-thumb-{i}",
                )
            )

    on_redis(redis_server.url, record)
    (kb / "en" / "twin.md").write_text(
        "---\nid: twin-en\nlang: en\nreason: payment/promo-code\n"
        "questions:\n  - My promo code does not work\n---\nSee the other entry.\n",
        encoding="utf-8",
    )
    api = studio_api
    assert api.app.state.gateway.index.faq().reload()
    ed = login(api, "ed@shop.example")
    rows = {e["id"]: e for e in api.get("/api/editor/entries", headers=ed).json()["entries"]}
    promo = rows["promo-en"]["health"]
    assert (promo["shown"], promo["up"], promo["down"], promo["down_rate"]) == (3, 1, 2, 0.667)
    assert promo["thumbs_down"] == 2  # the voted-down questions
    assert rows["track-en"]["health"]["down_rate"] is None  # no votes: no rate
    assert rows["promo-en"]["conflict"] and rows["twin-en"]["conflict"]
    assert not rows["track-en"]["conflict"]
    assert all(r["translated"] for r in rows.values())  # kb_small: both languages


def test_try_it_finds_a_question_just_added_to_the_draft(studio_api: TestClient) -> None:
    """ "Try it" runs on a preview index patched from the live one (only the edited entry's
    classifier rows trained): a question added to the draft is found there, not in the live KB."""
    api = studio_api
    ed = login(api, "ed@shop.example")
    entry = opened(api, ed, "track-en")
    question = "Can I collect it at the warehouse in Lyon on Saturday?"
    draft = {**entry["draft"], "questions": [*entry["draft"]["questions"], question]}
    tried = api.post(
        "/api/editor/try", headers=ed, json={"draft": draft, "entry_id": "track-en", "question": question}
    )
    assert tried.status_code == 200, tried.text
    got = tried.json()
    assert got["draft"]["top"][0]["id"] == "track-en", got
    live_score = next((t["score"] for t in got["live"]["top"] if t["id"] == "track-en"), 0.0)
    assert got["draft"]["top"][0]["score"] > live_score, got
    # a new entry (its class is new, the others' shift): found in the draft too
    new = {
        "id": "aaa-gift-card-en",
        "lang": "en",
        "reason": "payment/methods",
        "title": "Gift cards",
        "questions": ["Do you sell gift cards?", "Can I offer a gift card?"],
        "answer": "Yes, from 20 EUR.",
    }
    tried = api.post("/api/editor/try", headers=ed, json={"draft": new, "question": "do you sell gift cards"})
    assert tried.status_code == 200 and tried.json()["draft"]["top"][0]["id"] == "aaa-gift-card-en", (
        tried.text
    )


def test_problems_carry_a_code_and_params_for_the_editors_language(studio_api: TestClient) -> None:
    """Each issue names its check (`code`, `params`) besides the English `message`: the page shows
    locales' `studio.check.<code>` in the editor's language (tests/browser/test_studio.py)."""
    api = studio_api
    ed = login(api, "ed@shop.example")
    entry = opened(api, ed, "track-en")
    empty = {**entry["draft"], "answer": "  "}
    res = api.post("/api/editor/check", json={"draft": empty, "entry_id": "track-en"}, headers=ed).json()
    assert not res["ok"]
    assert [(i["field"], i["code"], i["params"], i["severity"]) for i in res["issues"]] == [
        ("answer", "empty_answer", {}, "error")]
    assert res["issues"][0]["message"] == "empty answer: write the answer below the front matter"
    bad = {**entry["draft"], "reason": "delivery/nope", "variants": {"default": "x"}}
    res = api.post("/api/editor/check", json={"draft": bad, "entry_id": "track-en"}, headers=ed).json()
    coded = {i["code"]: i for i in res["issues"]}
    assert coded["unknown_reason"]["params"] == {"reason": "delivery/nope", "file": "taxonomy.yml"}
    assert coded["unknown_reason"]["field"] == "reason"
    assert coded["bad_variant_names"]["params"] == {"names": "default"}
    assert coded["bad_variant_names"]["field"] == "variants"
    moved = api.post("/api/editor/check", json={"draft": {**entry["draft"], "id": "other-en"},
                                                "entry_id": "track-en"}, headers=ed).json()
    assert [(i["code"], i["field"]) for i in moved["issues"]] == [("id_changed", "id")]


def test_opening_the_studio_computes_the_live_answers_beforehand(
    studio_api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = studio_api
    ed = login(api, "ed@shop.example")
    assert api.get("/api/editor/entries", headers=ed).status_code == 200
    studio = api.app.state.gateway.studio
    assert studio.warming is not None
    studio.warming.join(timeout=60)
    assert studio.warm() is None  # once per index version, however often the list is opened
    live = studio.service.engine
    asked: list[str] = []
    search = live.search
    monkeypatch.setattr(live, "search", lambda q, **kw: asked.append(q) or search(q, **kw))
    entry = opened(api, ed, "track-en")
    draft = {**entry["draft"], "answer": entry["draft"]["answer"] + " Tracking can take a day."}
    impact = api.post("/api/editor/impact", json={"draft": draft, "entry_id": "track-en"}, headers=ed)
    assert impact.status_code == 200 and impact.json()["asked"] == 5
    assert asked == []  # every eval question's live answer was known: only the draft was asked
