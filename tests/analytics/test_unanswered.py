"""Unanswered questions grouped into topics, and draft KB files the KB checker accepts.

60 questions written around 4 hidden topics the demo FAQ does not cover; the real embedding
model (offline) and k-means must put each topic's questions mostly (>= 80 %) in one cluster."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from analytics.__main__ import main as analytics_main
from analytics.unanswered import cluster_questions
from ops.redis_server import RedisServer
from retrieval.embedder import Embedder
from retrieval.kb import load_kb

REPO = Path(__file__).resolve().parents[2]
TOPICS = {
    "gift": [
        "do you offer gift wrapping", "can you gift wrap my order", "is gift wrap available",
        "can I add a gift message to the parcel", "gift wrapping options please", "wrap it as a present",
        "can the order be packed as a gift", "i want to send this as a gift with a note",
        "do you have gift boxes", "how much does gift wrapping cost", "gift packaging possible?",
        "can you hide the price for a gift", "present wrapping service", "add ribbon and gift paper",
        "is there a gift option at checkout"],
    "shop": [
        "do you have a physical store in paris", "where is your shop located", "can I visit your showroom",
        "opening hours of the boutique in lyon", "is there a store I can go to", "address of your shop",
        "can I see the lamps in person", "do you have a retail store", "where can I try the products",
        "is your workshop open to visitors", "physical shop near me?", "store location please",
        "can I come to the shop to buy", "do you sell in stores", "showroom address and hours"],
    "loyalty": [
        "do you have a loyalty program", "how do I earn points", "loyalty card benefits",
        "can I use my reward points", "how many points do I have", "is there a membership club",
        "rewards for regular customers", "points on each purchase?", "join the fidelity program",
        "what do loyalty points give me", "do points expire", "how to redeem my rewards",
        "vip customer program", "earn rewards when I shop", "loyalty scheme details"],
    "assembly": [
        "do you offer furniture assembly", "can someone assemble the shelf for me",
        "assembly service available?",
        "is the table delivered assembled", "can you mount the lamp on my wall", "installation service",
        "do I have to build the furniture myself", "help installing my pendant light",
        "can a technician install it", "do you send someone to set it up", "assembly instructions missing",
        "paid installation at home?", "will the delivery men assemble it",
        "home installation of the chandelier",
        "mounting service for shelves"],
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_hidden_topics_land_in_their_own_cluster(embedder: Embedder) -> None:
    questions = [q for qs in TOPICS.values() for q in qs]
    assert len(questions) == 60
    topics = cluster_questions(questions, embedder.encode)
    cluster_of = {q: i for i, t in enumerate(topics) for q in t.questions}
    for name, qs in TOPICS.items():
        counts = Counter(cluster_of[q] for q in qs)
        main_cluster, n = counts.most_common(1)[0]
        assert n / len(qs) >= 0.8, (name, counts, [topics[c].examples for c in counts])
        others = [other for other, oqs in TOPICS.items() if other != name
                  and Counter(cluster_of[q] for q in oqs).most_common(1)[0][0] == main_cluster]
        assert not others, f"{name} shares its cluster with {others}"


def test_suggest_writes_drafts_the_kb_checker_accepts(tmp_path: Path) -> None:
    questions = tmp_path / "unanswered.txt"
    questions.write_text("\n".join(q for qs in TOPICS.values() for q in qs), encoding="utf-8")
    kb = tmp_path / "kb"
    shutil.copytree(REPO / "kb_content", kb)
    drafts = tmp_path / "drafts"
    assert analytics_main(["suggest", "--out", str(drafts), "--top", "4", "--kb", str(kb),
                           "--from-file", str(questions)]) == 0
    files = sorted(drafts.rglob("*.md"))
    assert len(files) == 4
    shutil.copytree(drafts / "en", kb / "en" / "drafts")
    loaded = load_kb(kb)                                  # raises on any invalid file
    ids = {e.id for e in loaded.entries}
    assert {f.stem for f in files} <= ids
    draft = next(e for e in loaded.entries if e.id == files[0].stem)
    assert draft.lang == "en" and len(draft.questions) >= 3 and "TO WRITE" in draft.answer
    assert draft.reason in (loaded.taxonomy or {draft.reason})


def test_suggest_reads_what_the_faq_missed_from_redis(tmp_path: Path, embedder: Embedder,
                                                       redis_server: RedisServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The live path: misses recorded by the event log (band none, unclicked suggestions, answers
    voted down) feed both `suggest` and the dashboard's topics report."""
    import asyncio
    from datetime import UTC, datetime

    import redis.asyncio as aioredis

    from analytics import events as ev
    from analytics import report
    from analytics.log import EventLog
    from analytics.unanswered import kb_index, topics_report

    now = datetime.now(UTC)
    whys = ("none", "suggest", "thumbs_down")

    async def fill() -> list[dict]:
        r = aioredis.Redis.from_url(redis_server.url)
        await r.flushdb()
        log = EventLog(r)
        for i, q in enumerate(q for qs in TOPICS.values() for q in qs):
            cid, why = f"miss-{i}", whys[i % 3]
            await log.append(ev.message_in(conversation=cid, channel="web", lang="en", customer=f"web:{i}",
                                           at=now))
            if why == "thumbs_down":
                await log.append(ev.faq_answered(conversation=cid, band="answer", score=0.9, entry="x-en",
                                                 at=now))
                await log.append(ev.thumbs(conversation=cid, up=False, query=q, at=now))
            else:
                await log.append(ev.faq_answered(conversation=cid, band=why, score=0.3, query=q, at=now))
        rows = await report.unanswered(r, now.date(), now.date())
        await r.aclose()
        return rows

    rows = asyncio.run(fill())
    assert len(rows) == 60 and {r["why"] for r in rows} == set(whys)
    topics = topics_report(rows, embedder.encode, kb_index(REPO / "kb_content", embedder.encode),
                           lambda _: "en", top=6)
    assert sum(t["count"] for t in topics) == 60
    assert sum(sum(t["why"].values()) for t in topics) == 60
    assert all(t["examples"] and t["lang"] == "en" and t["reason"] for t in topics)

    monkeypatch.setenv("REDIS_URL", redis_server.url)
    drafts = tmp_path / "drafts"
    kb = str(REPO / "kb_content")
    assert analytics_main(["suggest", "--out", str(drafts), "--top", "4", "--kb", kb]) == 0
    assert len(sorted(drafts.rglob("*.md"))) == 4
