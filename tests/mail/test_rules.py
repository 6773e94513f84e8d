"""mail.rules: one refusal reason per test case, and the daily cap against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis

from mail.parse import parse
from mail.rules import DailyCap, auto_reply_refusal
from ops.redis_server import RedisServer

OWN = ("support@shop.test", "SAV@Shop.Test")
DAY = 1_796_083_200.0          # 2026-12-01 00:00 UTC


def mail(*headers: str, sender: str = "Alice <alice@example.fr>", body: str = "Où est mon colis ?") -> bytes:
    lines = [f"From: {sender}", "To: support@shop.test", "Subject: Commande 123",
             "Message-ID: <m1@example.fr>", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def refusal(raw: bytes) -> str | None:
    return auto_reply_refusal(parse(raw), own_addresses=OWN)


def test_a_normal_shopper_mail_may_get_a_reply() -> None:
    assert refusal(mail("Return-Path: <alice@example.fr>", "Auto-Submitted: no", "Precedence: first-class",
                        "Content-Type: text/plain; charset=utf-8")) is None
    assert refusal(mail(sender="Bounce Fan <bouncer@example.fr>")) is None


@pytest.mark.parametrize("headers, reason", [
    (["Auto-Submitted: auto-replied"], "auto_submitted"),
    (["Auto-Submitted: auto-generated; owner-email=x@y"], "auto_submitted"),
    (["Auto-Submitted: AUTO-NOTIFIED"], "auto_submitted"),
    (["Precedence: bulk"], "precedence"),
    (["Precedence: Junk"], "precedence"),
    (["Precedence: list"], "precedence"),
    (["Precedence: auto_reply"], "precedence"),
    (["X-Autoreply: yes"], "x_autoreply"),
    (["X-Autorespond: Out of office"], "x_autoreply"),
    (["X-Auto-Response-Suppress: All"], "auto_response_suppress"),
    (["X-Auto-Response-Suppress: DR, AutoReply"], "auto_response_suppress"),
    (["X-Auto-Response-Suppress: OOF"], "auto_response_suppress"),
    (["X-Loop: helpdesk@elsewhere.test"], "x_loop"),
    (["List-Id: Shop news <news.shop.test>"], "mailing_list"),
    (["List-Unsubscribe: <mailto:unsubscribe@news.test>"], "mailing_list"),
    (["Return-Path: <>"], "null_return_path"),
    (["Content-Type: multipart/report; report-type=delivery-status; boundary=b"], "report"),
])
def test_each_header_rule(headers: list[str], reason: str) -> None:
    assert refusal(mail(*headers)) == reason


def test_auto_response_suppress_for_other_reports_only_is_not_a_refusal() -> None:
    assert refusal(mail("X-Auto-Response-Suppress: DR, RN, NRN")) is None


@pytest.mark.parametrize("sender", [
    "MAILER-DAEMON@mx.example.fr", "postmaster@example.fr", "noreply@shop.example", "no-reply@example.fr",
    "No_Reply@example.fr", "do-not-reply@example.fr", "DoNotReply@example.fr", "bounce@example.fr",
    "bounces+12345-abc@mail.example.com", "noreply-orders@example.fr", "Mail Delivery <mailer-daemon@x.fr>",
])
def test_robot_senders(sender: str) -> None:
    assert refusal(mail(sender=sender)) == "robot_sender"


@pytest.mark.parametrize("sender", [
    "support@shop.test", "Support+T0k3n@SHOP.test", "sav+reply-42@shop.test", "Support <SUPPORT@shop.TEST>",
])
def test_our_own_addresses_with_or_without_tag(sender: str) -> None:
    assert refusal(mail(sender=sender)) == "own_address"


def test_reply_to_ourselves_and_a_single_string_of_own_addresses() -> None:
    assert refusal(mail("Reply-To: support+x@shop.test")) == "own_address"
    assert auto_reply_refusal(parse(mail(sender="support@shop.test")), own_addresses="support@shop.test") \
        == "own_address"


@pytest.mark.parametrize("sender", ["", "undisclosed-recipients:;", "not an address", "<>"])
def test_no_usable_sender(sender: str) -> None:
    assert refusal(mail(sender=sender)) == "no_sender"


# -- the daily cap ---------------------------------------------------------------------------


def test_daily_cap_counts_per_hashed_sender_and_day(redis_server: RedisServer,
                                                    redis_client: redis.Redis) -> None:
    async def scenario() -> list[bool]:
        r = aioredis.Redis.from_url(redis_server.url)
        try:
            cap = DailyCap(r, secret=b"test-secret", limit=3)
            results = [await cap.allow("Alice@Example.fr", DAY + 60 * i) for i in range(4)]
            results.append(await cap.allow("bob@example.fr", DAY + 3600))            # another sender
            results.append(await cap.allow("alice@example.fr", DAY + 86399))         # same day, any case
            results.append(await cap.allow("alice@example.fr", DAY + 86400 + 5))     # the next day
            results.append(await cap.allow("", DAY))                                 # never
            return results
        finally:
            await r.aclose()

    assert asyncio.run(scenario()) == [True, True, True, False, True, False, True, False]
    keys = redis_client.keys("*")
    assert len(keys) == 3 and all(k.startswith("support:mail:auto-replies:2026120") for k in keys)
    for key in keys:
        assert 0 < redis_client.ttl(key) <= DailyCap.TTL
        assert "alice" not in key.lower() and "example" not in key
        assert "alice" not in str(redis_client.get(key)).lower()


def test_daily_cap_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        DailyCap(None, secret=b"")  # type: ignore[arg-type]
