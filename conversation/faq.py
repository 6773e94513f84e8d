"""One answer policy for the FAQ, whoever answers: the bot's FAQ action and the degraded mode
(when Rasa is down) serve the same A/B variant to a conversation and count the same
`faq_answered` / `suggestion_clicked` events, so the dashboard sees one product."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from analytics import events as ev
from analytics.ab import answer_for, assign
from analytics.recorder import Recorder
from retrieval.engine import Hit, SearchResult
from retrieval.source import FaqSource


def looks_like_a_question(text: str) -> bool:
    """Inside a form, only a question mark or a sentence is read as a question: a stray value
    ("pas un mail", "12") is an invalid answer to the form, not something to look up."""
    return "?" in text or len(text.split()) >= 4


@dataclass(frozen=True)
class Answer:
    hit: Hit
    text: str                 # the variant's text, or the entry's own answer
    variant: str | None       # None: the entry is not A/B tested


def answer(source: FaqSource, hit: Hit, conversation: str) -> Answer:
    """The entry's answer as this conversation sees it (its A/B variant, if any)."""
    variants = source.variants(hit.id)
    variant = assign(conversation, hit.id, variants) if variants else None
    return Answer(hit, answer_for(hit.answer, variants, variant) if variant else hit.answer, variant)


def searched(source: FaqSource, result: SearchResult, *, conversation: str, query: str, lang: str,
             recorder: Recorder, event_id: str) -> Answer | None:
    """The direct answer for a search (None: suggestions or nothing), counted once."""
    best = result.hits[0] if result.hits else None
    answered = answer(source, best, conversation) if best is not None and result.band == "answer" else None
    recorder.emit(ev.faq_answered, conversation=conversation, band=result.band,
                  score=best.score if best else 0.0, entry=best.id if answered else None,
                  variant=answered.variant if answered else None, query=query, lang=lang,
                  reason=best.reason if best and result.band != "none" else None, id=event_id)
    return answered


def clicked(source: FaqSource, hit: Hit, *, conversation: str, lang: str, recorder: Recorder,
            event_id: str) -> Answer:
    """A suggestion the shopper picked: its answer, counted as a click."""
    chosen = answer(source, hit, conversation)
    recorder.emit(ev.suggestion_clicked, conversation=conversation, entry=hit.id, variant=chosen.variant,
                  lang=lang, reason=hit.reason, id=event_id)
    return chosen


async def reason_of(source: FaqSource | None, text: str, lang: str) -> str:
    """The contact reason a text is about, from the FAQ's best plausible entry ("" when none is,
    or while the index loads): a ticket is filed under what its own message says."""
    if source is None or not text.strip():
        return ""
    result = await asyncio.to_thread(source.search, text, lang, 1)
    return result.hits[0].reason if result.band != "none" and result.hits else ""
