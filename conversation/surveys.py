"""Hot surveys in the chat: CSAT after an agent closes, CES after a "yes, that helped", and the
follow-up "why?" after any score, whose answer is kept (masked) per contact reason.

A score arrives as a button payload (`/csat{"score": 4}`, `/ces{"score": 6}`, `/nps{"score": 9}`).
Anyone can type such a payload, so a score counts only for a survey this conversation was
actually offered (recorded in Redis when asked, for OFFER_TTL_S) and only once: taking the score
deletes the offer. Any other score payload is dropped (nothing recorded, the bot never sees it).
After a score the bot asks for the main reason; the shopper's next message, if it comes within
WHY_WINDOW_S and is not a button, is that reason. Anything else (a button, a late message) is
routed as usual, so a shopper who ignores the question is never stuck in a survey.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from analytics import events as ev
from analytics.kpi import SURVEY_RANGES
from analytics.recorder import NULL, Recorder
from conversation import payloads
from conversation.message import Button, Message
from conversation.transcript import Conversation, Transcripts
from kit import texts
from kit.ids import customer_id
from kit.keys import OFFER
from shop.config import SurveysConfig

log = logging.getLogger("conversation.surveys")
OFFER_TTL_S = 7 * 86400   # a shopper may come back to the buttons later; the offer still counts once
SKIP = "/survey_skip"
WHY_WINDOW_S = 15 * 60



def text_for(lang: str, key: str) -> str:
    return texts.text(lang, f"surveys.{key}")


def score_buttons(survey: str) -> tuple[Button, ...]:
    star = " ★" if survey == "csat" else ""
    return tuple(Button(f"{n}{star}", payloads.payload(survey, score=n)) for n in SURVEY_RANGES[survey])


SendBot = Callable[[dict[str, str], str, tuple[Button, ...]], Awaitable[None]]


class SurveyFlow:
    """The survey turns of one router (state lives on the conversation hash, so any gateway
    process can take the next message)."""

    def __init__(self, redis: Any, transcripts: Transcripts, send_bot: SendBot, *,
                 config: SurveysConfig | None = None, recorder: Recorder = NULL,
                 clock: Callable[[], float] = time.time):
        self.redis = redis
        self.transcripts = transcripts
        self.send_bot = send_bot
        self.config = config or SurveysConfig()
        self.recorder = recorder
        self.clock = clock

    async def ask(self, conv: Conversation, survey: str) -> None:
        """Offer a survey: its score is accepted once from now on (recorded before the buttons go
        out, so even an instant click finds the offer)."""
        await self.redis.set(OFFER.format(cid=conv["id"], survey=survey), str(self.clock()), ex=OFFER_TTL_S)
        await self.send_bot(conv, text_for(conv.get("lang", ""), survey), score_buttons(survey))

    async def _take_offer(self, cid: str, survey: str) -> bool:
        """Consume the pending offer of this survey: True for exactly one caller (DEL is atomic,
        so a double click or a redelivery through another gateway counts once)."""
        return bool(await self.redis.delete(OFFER.format(cid=cid, survey=survey)))

    async def ask_effort_once(self, conv: Conversation) -> None:
        """CES after the shopper said the bot's answer helped: once per conversation."""
        if not self.config.ces_after_bot_answer or conv.get("ces_asked"):
            return
        await self.transcripts.update(conv["id"], ces_asked="1")
        await self.ask(conv, "ces")

    async def handle(self, message: Message, conv: Conversation) -> bool:
        """Take the message if it is a survey turn (a score, the skip button, or the answer to
        "why?"); False to route it as usual. A score payload is always taken: recorded if it
        answers the pending offer, else dropped (typed by hand, out of range, or a second click)."""
        body = message.text.strip()
        parsed = payloads.parse(body)
        if parsed is not None and parsed[0] in SURVEY_RANGES and "score" in parsed[1]:
            survey, raw = parsed[0], str(parsed[1]["score"])
            score = int(raw) if raw.isdigit() and len(raw) <= 2 else None
            if score in SURVEY_RANGES[survey] and await self._take_offer(conv["id"], survey):
                await self._score(message, conv, survey, score)
            else:
                log.info("survey score not offered: dropped",
                         extra={"conversation": conv["id"], "survey": survey})
            return True
        pending = conv.get("survey_why")
        if not pending:
            return False
        await self.transcripts.update(conv["id"], survey_why="")
        if body == SKIP:
            await self.send_bot(conv, text_for(conv.get("lang", ""), "thanks"), ())
            return True
        asked = json.loads(pending)
        if body.startswith("/") or self.clock() - float(asked["at"]) > WHY_WINDOW_S:
            return False
        self.recorder.emit(ev.survey_comment, survey=asked["survey"], score=asked["score"], verbatim=body,
                           conversation=conv["id"], customer=_customer(conv), id=f"why:{message.message_id}")
        await self.send_bot(conv, text_for(conv.get("lang", ""), "thanks"), ())
        return True

    async def _score(self, message: Message, conv: Conversation, survey: str, score: int) -> None:
        lang = message.lang or conv.get("lang", "")
        self.recorder.emit(ev.survey_answered, survey=survey, score=score, conversation=conv["id"],
                           customer=_customer(conv), agent=conv.get("last_agent") or None,
                           channel=message.channel, lang=lang or None, id=f"{survey}:{message.message_id}")
        if not self.config.ask_why:
            await self.send_bot(conv, text_for(lang, "thanks"), ())
            return
        await self.transcripts.update(conv["id"], survey_why=json.dumps(
            {"survey": survey, "score": score, "at": self.clock()}))
        await self.send_bot(conv, text_for(lang, "why"), (Button(text_for(lang, "skip"), SKIP),))


def _customer(conv: Conversation) -> str:
    return customer_id(conv.get("channel", ""), conv.get("sender", ""))
