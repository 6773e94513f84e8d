"""What the FAQ is missing: questions the bot could not answer, grouped into topics, and
draft KB entries for the biggest ones.

Questions come from the analytics `unanswered` day hashes (analytics.report.unanswered): FAQ
lookups of band `none`, suggestions nobody clicked and answers voted down; their text was
masked when recorded. They are embedded with the retriever's model and clustered with
k-means, k chosen by the silhouette score, so editors see "38 people asked about gift
wrapping" with real phrasings instead of a flat list.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from unidecode import unidecode

from kit import texts

Embed = Callable[[list[str]], np.ndarray]
MAX_EXAMPLES = 6
PARSIMONY = 0.9   # the smallest k whose silhouette is within 10 % of the best


@dataclass
class Topic:
    questions: list[str]                 # closest to the topic's centre first
    lang: str = ""
    reason: str = ""                     # the contact reason of the nearest KB entry
    nearest_entry: str = ""
    label: str = ""

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def examples(self) -> list[str]:
        return self.questions[:MAX_EXAMPLES]


@dataclass
class KbIndex:
    """The KB's questions, embedded, to give each topic a reason and a language."""

    vectors: np.ndarray
    entries: list[tuple[str, str, str]] = field(default_factory=list)  # (id, lang, reason) per row


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def cluster_questions(questions: Sequence[str], embed: Embed, *, max_topics: int = 12,
                      seed: int = 0) -> list[Topic]:
    """Topics, biggest first. Duplicates count (they are demand), blanks are dropped."""
    texts = [q.strip() for q in questions if q and q.strip()]
    if not texts:
        return []
    if len(texts) < 3:
        return [Topic(questions=texts)]
    x = _unit(np.asarray(embed(texts), dtype=np.float32))
    candidates: list[tuple[int, float, np.ndarray]] = []
    for k in range(2, min(max_topics, len(texts) - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
        if len(set(labels)) >= 2:
            candidates.append((k, float(silhouette_score(x, labels, metric="cosine")), labels))
    if not candidates:
        return [Topic(questions=texts)]
    # Fewer, broader topics unless more are clearly better: short questions give flat
    # silhouette curves, and one topic split in two reads as two half-size demands.
    best = max(score for _, score, _ in candidates)
    best_labels = next(labels for _, score, labels in candidates if score >= PARSIMONY * best)
    topics = []
    for label in set(best_labels.tolist()):
        members = np.flatnonzero(best_labels == label)
        centre = _unit(x[members].mean(axis=0, keepdims=True))[0]
        order = members[np.argsort(-(x[members] @ centre))]
        topics.append(Topic(questions=[texts[i] for i in order]))
    return sorted(topics, key=lambda t: (-t.count, t.questions[0]))


def kb_index(kb_root: str | Path, embed: Embed) -> KbIndex:
    from retrieval.kb import load_kb

    return kb_index_of(load_kb(kb_root).entries, embed)


def kb_index_of(entries: Iterable[Any], embed: Embed) -> KbIndex:
    """KbIndex of loaded entries (retrieval.kb.Entry: id, lang, reason, questions)."""
    rows, texts = [], []
    for entry in entries:
        for question in entry.questions:
            rows.append((entry.id, entry.lang, entry.reason))
            texts.append(question)
    return KbIndex(_unit(np.asarray(embed(texts), dtype=np.float32)), rows)


def describe(topics: list[Topic], index: KbIndex, embed: Embed, detect: Callable[[str], str]) -> None:
    """Fill each topic's language (majority of its questions), nearest KB entry and reason."""
    for topic in topics:
        langs = Counter(detect(q) or "" for q in topic.questions)
        topic.lang = next((lang for lang, _ in langs.most_common() if lang), "fr")
        centre = _unit(np.asarray(embed(topic.examples), dtype=np.float32).mean(axis=0, keepdims=True))[0]
        same_lang = [i for i, (_, lang, _) in enumerate(index.entries) if lang == topic.lang]
        candidates = same_lang or list(range(len(index.entries)))
        if candidates:
            best = max(candidates, key=lambda i: float(index.vectors[i] @ centre))
            topic.nearest_entry, _, topic.reason = index.entries[best]
        topic.label = topic.examples[0]


MAX_QUESTIONS = 1500  # the most recent ones: clustering cost grows with the square of this


def topics_report(rows: Sequence[Mapping[str, Any]], embed: Embed, index: KbIndex,
                  detect: Callable[[str], str], *, top: int = 12) -> list[dict[str, Any]]:
    """The dashboard's view of analytics.report.unanswered rows: topics biggest first, each with
    its count, language, nearest entry and reason, example phrasings and why they were missed."""
    recent = list(rows)[-MAX_QUESTIONS:]
    whys: dict[str, Counter[str]] = {}
    for row in recent:
        whys.setdefault(str(row["q"]).strip(), Counter())[str(row.get("why", ""))] += 1
    topics = cluster_questions([str(r["q"]) for r in recent], embed, max_topics=top)
    describe(topics, index, embed, detect)
    out = []
    for topic in topics[:top]:
        why: Counter[str] = Counter()
        for question in set(topic.questions):
            why.update(whys.get(question.strip(), Counter()))
        out.append({"label": topic.label, "count": topic.count, "lang": topic.lang, "reason": topic.reason,
                    "nearest_entry": topic.nearest_entry, "examples": list(dict.fromkeys(topic.examples)),
                    "why": {k: why.get(k, 0) for k in ("none", "suggest", "thumbs_down")}})
    return out


def slug(text: str, limit: int = 40) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", unidecode(text).lower()).strip("-")
    return words[:limit].rstrip("-") or "topic"




def write_drafts(topics: list[Topic], out: str | Path, *, top: int = 5) -> list[Path]:
    """One draft KB file per topic (front matter filled, the answer left for the editor), in the
    KB format (README, "For FAQ editors"), so `retrieval check` accepts the folder once
    answers are written."""
    out = Path(out)
    written = []
    used: set[str] = set()
    for topic in topics[:top]:
        lang = topic.lang or "fr"
        base = f"draft-{slug(topic.label)}-{lang}"
        entry_id, n = base, 2
        while entry_id in used:
            entry_id, n = f"{base}-{n}", n + 1
        used.add(entry_id)
        questions = list(dict.fromkeys(topic.examples))
        front = {"id": entry_id, "lang": lang, "reason": topic.reason or "unknown",
                 "questions": questions, "tags": ["draft", "unanswered"]}
        path = out / lang / f"{entry_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = texts.text(lang, "drafts.answer", n=topic.count)
        path.write_text("---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n"
                        + body + "\n", encoding="utf-8")
        written.append(path)
    return written
