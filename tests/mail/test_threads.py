"""Which conversation a mail continues (mail/threads.py), and the attacker's tries: a forged or
edited token, a quoted Message-ID or a guessed ticket number from someone else's address."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from mail.threads import MessageIds, ThreadKeys, addr_spec, find_thread, ticket_tag

KEYS = ThreadKeys(b"a-test-secret-of-some-length", "Support <support@Shop.Example>")
CID = "c-AbC_dEf-123456789012345"
CUSTOMER = "helene@example.fr"
CONVERSATIONS = {CID: {CUSTOMER}, "c-other-conversation-xyz0": {"bob@example.com"}}
TICKETS = {"T-000042": CID}


def test_addresses_and_tags() -> None:
    assert addr_spec("Hélène <Helene@Example.FR>") == "Helene@example.fr"
    assert addr_spec("not an address") == ""
    assert KEYS.local == "support" and KEYS.domain == "shop.example"
    assert ticket_tag("Re: Re: ma commande [#T-000042]") == "T-000042"
    assert ticket_tag("[#T-]") is None
    with pytest.raises(ValueError, match="MAIL_SECRET"):
        ThreadKeys(b"short", "support@shop.example")


def test_a_token_names_its_conversation_and_cannot_be_forged() -> None:
    address = KEYS.reply_address(CID)
    local = address.split("@")[0]
    assert address == address.lower() and len(local) <= 64      # RFC 5321 local-part limit
    assert KEYS.conversation_of_addresses(["x@y.z", address.upper()]) == CID   # case folded on the way
    token = KEYS.token(CID)
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    other = ThreadKeys(b"another-secret-of-some-length", "support@shop.example")
    for forged in (flipped, other.token(CID), KEYS.token("c-other-conversation-xyz0")[:-2], "zz", ""):
        assert KEYS.conversation_of_addresses([f"support+{forged}@shop.example"]) != CID
    assert KEYS.conversation_of_addresses([f"support+{flipped}@shop.example"]) is None
    assert KEYS.conversation_of_addresses([f"support+{other.token(CID)}@shop.example"]) is None
    # another mailbox or domain with our token is not ours
    elsewhere = [f"sales+{token}@shop.example", f"support+{token}@evil.example"]
    assert KEYS.conversation_of_addresses(elsewhere) is None


def test_our_message_ids_say_their_conversation() -> None:
    mid = KEYS.message_id(CID)
    assert mid.startswith("<m.") and mid.endswith("@shop.example>")
    assert KEYS.conversation_of_message_id(mid) == CID
    assert KEYS.message_id(CID, seed="in:<1@x>") == KEYS.message_id(CID, seed="in:<1@x>") != mid
    assert KEYS.conversation_of_message_id(mid.replace("shop.example", "evil.example")) is None
    assert KEYS.conversation_of_message_id("<random@gmail.com>") is None


async def _find(r: aioredis.Redis, **mail: Any) -> tuple[str, str] | None:
    async def customers(cid: str) -> set[str]:
        return CONVERSATIONS.get(cid, set())

    async def ticket_conversation(tid: str) -> str | None:
        return TICKETS.get(tid)

    fields = {"sender": CUSTOMER, "recipients": ["support@shop.example"], "in_reply_to": [],
              "references": [], "subject": "Bonjour"} | mail
    found = await find_thread(**fields, keys=KEYS, ids=MessageIds(r), customers=customers,
                              ticket_conversation=ticket_conversation)
    return (found.cid, found.by) if found else None


def test_the_order_of_trust_and_the_customer_check(redis_client: redis.Redis, redis_server: Any) -> None:
    async def scenario() -> None:
        r = aioredis.from_url(redis_server.url)
        try:
            ids = MessageIds(r)
            await ids.remember("<CAF123@mail.gmail.com>", CID)
            assert await ids.conversation("<caf123@mail.gmail.com>") == CID    # case-insensitive
            assert await _find(r) is None                                        # a new mail
            assert await _find(r, recipients=[KEYS.reply_address(CID)]) == (CID, "token")
            # anyone holding a reply of ours may answer it; an erased conversation is gone
            assert await _find(r, sender="colleague@example.fr", recipients=[KEYS.reply_address(CID)]) \
                == (CID, "token")
            assert await _find(r, recipients=[KEYS.reply_address("c-erased-conversation-000")]) is None
            ours = KEYS.message_id(CID)
            assert await _find(r, in_reply_to=[ours]) == (CID, "in-reply-to")
            # another client kept only References (ours somewhere, theirs last)
            assert await _find(r, references=[ours, "<unknown@x>", "<CAF123@mail.gmail.com>"]) \
                == (CID, "references")
            assert await _find(r, subject="Re: colis [#T-000042]") == (CID, "tag")
            assert await _find(r, sender="HELENE@example.FR", subject="[#T-000042]") == (CID, "tag")
            # someone else quoting her mail or guessing her ticket number starts a new conversation
            for attack in ({"in_reply_to": [ours]}, {"references": ["<CAF123@mail.gmail.com>"]},
                           {"subject": "[#T-000042]"}):
                assert await _find(r, sender="mallory@example.com", **attack) is None, attack
        finally:
            await r.aclose()

    asyncio.run(scenario())
