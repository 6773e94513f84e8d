"""Attack: read somebody else's order by its number, or find which numbers exist.

Seen live: "where is my order AL-482913?" gave status, carrier and tracking link to anyone, and an
unknown number got a different reply, so 45 guesses over 3 conversations found every demo order.
Now an order needs its number plus its e-mail or delivery postcode, "not found" and "not yours"
get one reply, and attempts are budgeted per conversation, client and order number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from gateway.ratelimit import RateLimit
from shop.order_gate import OrderGate, parse_proof
from shop.orders import DemoOrderSource
from tests.gateway.actions_client import call, responses

REPO = Path(__file__).resolve().parents[2]
ORDERS = DemoOrderSource(REPO / "config" / "demo_orders.yml")


def ask(bot: TestClient, number: str, proof: str, sender: str) -> dict[str, Any]:
    res = call(bot, "action_order_status", proof, slots={"order_number": number, "order_proof": proof},
               sender=sender)
    (msg,) = responses(res)
    return msg


def test_the_number_alone_shows_nothing(bot: TestClient) -> None:
    """A known number with somebody else's e-mail or postcode gets exactly the "unknown" reply."""
    stranger = ask(bot, "AL-482913", "attacker@evil.example", "c-stranger")
    wrong_postcode = ask(bot, "AL-482913", "75001", "c-stranger2")
    unknown = ask(bot, "AL-999999", "attacker@evil.example", "c-stranger3")
    for msg in (stranger, wrong_postcode, unknown):
        assert msg["response"] == "utter_order_unknown"
        assert "status" not in msg and "details" not in msg
    # same arguments, so the same text: nothing tells a real number from a made-up one
    assert {k: v for k, v in stranger.items() if k != "order_number"} == \
        {k: v for k, v in unknown.items() if k != "order_number"}
    owner = ask(bot, "AL-482913", "marie.dupont@exemple.fr", "c-owner")
    assert owner["response"] == "utter_order_status" and "Colissimo" in owner["details"]


def test_enumerating_numbers_finds_nothing(bot: TestClient) -> None:
    """The attack as seen: 45 guesses over 3 new conversations. No reply differs, none shows an
    order, and the lookup budgets stop the run long before the 45th guess."""
    known = set(ORDERS.orders)
    guesses = sorted(known) + [f"AL-{n:06d}" for n in range(100000, 100041)]
    replies = [ask(bot, number, "guess@evil.example", f"c-probe-{i % 3}") for i, number in enumerate(guesses)]
    assert all(r["response"] in ("utter_order_unknown", "utter_order_lookup_limited") for r in replies)
    assert not any("details" in r for r in replies)
    assert sum(r["response"] == "utter_order_lookup_limited" for r in replies) >= 30


@pytest.fixture
def lookups(redis_client: redis.Redis, redis_server: Any) -> Callable[..., list[str]]:
    """`lookups(attempts, **budgets)`: outcomes of (number, proof, conversation, client) attempts
    through one gate on the real Redis (flushed by `redis_client`)."""
    import asyncio

    import redis.asyncio as aioredis

    async def run(attempts: list[tuple[str, str, str, str]], budgets: dict[str, int]) -> list[str]:
        client = aioredis.Redis.from_url(redis_server.url)
        limits = {"per_conversation": 5, "per_client": 10, "per_order": 10, **budgets}
        gate = OrderGate(ORDERS, **{name: RateLimit(client, n, 3600) for name, n in limits.items()})
        try:
            return [(await gate.lookup(n, p, conversation=c, client=k)).outcome for n, p, c, k in attempts]
        finally:
            await client.aclose()

    return lambda attempts, **budgets: asyncio.run(run(attempts, budgets))


def test_guessing_the_postcode_of_a_known_number_is_budgeted(lookups: Callable[..., list[str]]) -> None:
    """Per order number, whoever asks: fresh conversations and addresses do not reset it."""
    tries = [("AL-482913", f"{69000 + i:05d}", f"c-{i}", f"client-{i}") for i in range(12)]
    outcomes = lookups(tries, per_conversation=100, per_client=100, per_order=10)
    assert outcomes[:10] == ["not_found"] * 3 + ["found"] + ["not_found"] * 6   # 69003 is right
    assert outcomes[10:] == ["limited", "limited"]


def test_one_client_is_budgeted_across_conversations(lookups: Callable[..., list[str]]) -> None:
    tries = [(f"AL-{100000 + i}", "x@evil.example", f"c-{i}", "same-client") for i in range(5)]
    tries.append(("AL-482913", "69003", "c-owner", "owner"))   # the owner, from elsewhere, is not affected
    assert lookups(tries, per_conversation=100, per_client=4, per_order=100) == \
        ["not_found"] * 4 + ["limited", "found"]


def test_one_conversation_is_budgeted(lookups: Callable[..., list[str]]) -> None:
    tries = [(f"AL-{100000 + i}", "x@evil.example", "c-same", f"client-{i}") for i in range(2)]
    tries.append(("AL-482913", "69003", "c-same", "client-x"))   # even the right proof, past the budget
    assert lookups(tries, per_conversation=2, per_client=100, per_order=100) == \
        ["not_found", "not_found", "limited"]


@pytest.mark.parametrize(("typed", "kind", "value"), [
    ("Marie.Dupont@Exemple.FR", "email", "marie.dupont@exemple.fr"),
    ("６９００３", "postcode", "69003"),                    # full-width digits normalise
    ("sw1a 1aa", "postcode", "SW1A1AA"),
    ("*", None, None), ("", None, None), ("1", None, None), ("abcdef", None, None),
    ("69003; DROP TABLE", None, None), ("x" * 300 + "@example.com", None, None),
])
def test_proofs_are_an_email_or_a_postcode(typed: str, kind: str | None, value: str | None) -> None:
    proof = parse_proof(typed)
    assert (proof.kind, proof.value) == (kind, value) if kind else proof is None


def test_a_shop_that_does_not_answer_is_unavailable_and_nothing_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    """Issue 18: the gate never turns an outage into "no such order", and never logs a proof."""
    from shop.sources import SourceError

    class Down:
        numbers = ORDERS.numbers

        async def lookup(self, number: str) -> list:
            raise SourceError("woocommerce answered HTTP 503")

    class Allow:
        async def allow(self, key: str) -> bool:
            return True

    gate = OrderGate(Down(), per_conversation=Allow(), per_client=Allow(), per_order=Allow())
    found = asyncio.run(gate.lookup("AL-482913", "marie.dupont@exemple.fr", conversation="c", client="k"))
    assert found.outcome == "unavailable" and found.order is None
    assert "503" in caplog.text and "marie" not in caplog.text and "exemple" not in caplog.text
