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
