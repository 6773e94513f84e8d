"""The bot and the degraded mode answer the FAQ with one policy: same A/B variant for a
conversation, same analytics events."""

from __future__ import annotations

import asyncio
from typing import Any

from analytics.ab import assign
from analytics.events import EventKind
from analytics.recorder import Recorder
from conversation import faq
from conversation.degraded import DegradedMode
from conversation.message import Message
from retrieval.engine import Hit, SearchResult

HIT = Hit(id="order-tracking-fr", score=0.93, lang="fr", reason="delivery/tracking",
          title="Suivre ma commande", answer="La réponse d'origine.", band="answer")
VARIANTS = {"short": "La version courte."}


class Source:
    """The FaqSource protocol over one entry (the engine is tested in tests/retrieval)."""

    ready = True

    def __init__(self, band: str = "answer") -> None:
        self.band = band

    def search(self, query: str, lang: str | None = None, k: int = 3,
               context: str | None = None) -> SearchResult:
        return SearchResult(query=query, query_lang="fr", lang="fr", band=self.band, hits=[HIT])

    def entry(self, entry_id: str) -> Hit | None:
        return HIT if entry_id == HIT.id else None

    def variants(self, entry_id: str) -> dict[str, str]:
        return VARIANTS if entry_id == HIT.id else {}


class Events(Recorder):
    def __init__(self) -> None:
        super().__init__(None)
        self.seen: list[Any] = []

    def emit(self, make: Any, **fields: Any) -> None:
        self.seen.append(make(**{k: v for k, v in fields.items() if v not in (None, "")}))


def _conversation_with_variant(wanted: str) -> str:
    return next(f"conv-{i}" for i in range(1000) if assign(f"conv-{i}", HIT.id, VARIANTS) == wanted)


def test_the_variant_follows_the_conversation() -> None:
    short, default = _conversation_with_variant("short"), _conversation_with_variant("default")
    assert faq.answer(Source(), HIT, short).text == "La version courte."
    assert faq.answer(Source(), HIT, default).text == "La réponse d'origine."


def test_the_degraded_mode_answers_like_the_bot() -> None:
    cid = _conversation_with_variant("short")
    events = Events()
    mode = DegradedMode(lambda: Source(), lambda: None, _noop, recorder=events)
    message = Message(channel="web", sender="s1", text="où est mon colis", conversation_id=cid,
                      message_id="m1")
    replies = asyncio.run(mode.reply(message, {"id": cid, "lang": "fr"}))
    assert replies[0][0] == "La version courte."
    [event] = events.seen
    assert event.kind == EventKind.FAQ_ANSWERED
    assert (event.data["entry"], event.data["variant"], event.data["band"]) == (HIT.id, "short", "answer")

    click = Message(channel="web", sender="s1", text='/faq_choice{"faq_id": "order-tracking-fr"}',
                    conversation_id=cid, message_id="m2")
    replies = asyncio.run(mode.reply(click, {"id": cid, "lang": "fr"}))
    assert replies[0][0] == "La version courte."
    assert events.seen[-1].kind == EventKind.SUGGESTION_CLICKED and events.seen[-1].data["variant"] == "short"


def test_a_suggestion_band_is_counted_but_not_answered() -> None:
    events = Events()
    mode = DegradedMode(lambda: Source(band="suggest"), lambda: None, _noop, recorder=events)
    message = Message(channel="web", sender="s1", text="une question", conversation_id="c9", message_id="m1")
    replies = asyncio.run(mode.reply(message, {"id": "c9", "lang": "fr"}))
    assert "problème technique" in replies[0][0]
    assert events.seen[0].data["band"] == "suggest" and "entry" not in events.seen[0].data


def test_while_the_index_loads_the_shopper_can_leave_a_message() -> None:
    mode = DegradedMode(lambda: None, lambda: None, _noop)
    message = Message(channel="web", sender="s1", text="où est mon colis", conversation_id="c1",
                      message_id="m1")
    [(text, buttons)] = asyncio.run(mode.reply(message, {"id": "c1", "lang": "fr"}))
    assert "problème technique" in text and buttons[0].payload == "/leave_message"


async def _noop(*_: Any, **__: Any) -> None:
    return None


def test_payloads_are_built_and_read_in_one_format() -> None:
    from conversation.payloads import parse, payload

    assert payload("faq_choice", faq_id="order-tracking-fr") == '/faq_choice{"faq_id": "order-tracking-fr"}'
    assert payload("affirm") == "/affirm"
    assert parse(payload("csat", score=4)) == ("csat", {"score": 4})
    assert parse("/affirm") == ("affirm", {})
    for typed in ("bonjour", "/", '/csat{"score": 4', "/csat[1]", '/faq_choice["x"]', "/Faq", "a/b"):
        assert parse(typed) is None, typed
