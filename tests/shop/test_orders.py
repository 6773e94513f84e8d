"""Order numbers as shoppers type them, and the demo order source."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from shop.order_numbers import DEMO as DEMO_NUMBERS
from shop.orders import (
    STATUSES,
    DemoOrderSource,
    Order,
    OrderReply,
    describe,
    is_late,
    needs_a_human,
    normalise_order_number,
)
from shop.sources.prestashop import REFERENCE
from shop.sources.shopify import NAME
from shop.sources.woocommerce import NUMBER

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "config" / "demo_orders.yml"
BEFORE_ETA = date(2026, 11, 30)   # the demo parcel AL-482913 is expected on Wednesday 2 December


@pytest.mark.parametrize(("typed", "number"), [
    ("AL-482913", "AL-482913"), ("al482913", "AL-482913"), ("AL 482913", "AL-482913"),
    (" 482913 ", "AL-482913"), ("al-482913", "AL-482913"),
    ("AL-48291", None), ("4829131", None), ("commande 482913", None), ("", None), (None, None),
])
def test_normalise_order_number(typed: str | None, number: str | None) -> None:
    assert normalise_order_number(typed) == number


def lookup(number: str) -> list[Order]:
    return list(asyncio.run(DemoOrderSource(DEMO).lookup(number)))


def test_demo_source_finds_orders_however_typed() -> None:
    (order,) = lookup("al 482913")
    assert order.status == "shipped" and order.carrier == "Colissimo"
    assert lookup("AL-000000") == []
    assert lookup("not a number") == []


def test_descriptions_are_in_the_shoppers_language() -> None:
    (order,) = lookup("AL-482913")
    fr_status, fr_details, fr_late, _ = describe(order, "fr", BEFORE_ETA)
    en_status, en_details, en_late, _ = describe(order, "en", BEFORE_ETA)
    assert fr_status == "expédiée" and "Suivre le colis" in fr_details and not fr_late
    assert en_status == "shipped" and "Track the parcel" in en_details and "Carrier: Colissimo" in en_details
    assert "Livraison prévue le mercredi 2 décembre. [Suivre le colis](https://" in fr_details
    assert "Expected delivery: Wednesday 2 December. [Track the parcel](https://" in en_details
    assert "2026-12-02" not in fr_details + en_details


def _order(status: str = "shipped", eta: str = "2026-11-30") -> Order:
    return Order(number="AL-111111", status=status, carrier="Colissimo", eta=eta)


TODAY = date(2026, 12, 1)   # a Tuesday


@pytest.mark.parametrize(("status", "eta", "late"), [
    ("shipped", "2026-11-30", True),      # yesterday's ETA, still travelling: late
    ("delayed", "2026-11-30", True),
    ("shipped", "2026-11-01", True),
    ("shipped", "2026-12-01", False),     # expected today: not late yet
    ("delayed", "2026-12-01", False),
    ("shipped", "2026-12-02", False),
    ("delivered", "2026-11-30", False),   # delivered, cancelled or not shipped: never late
    ("cancelled", "2026-11-30", False),
    ("confirmed", "2026-11-30", False),
    ("shipped", "", False),               # no date, or one we cannot read: we cannot tell
    ("shipped", "next week", False),
])
def test_late_only_when_on_the_way_past_the_expected_day(status: str, eta: str, late: bool) -> None:
    order = _order(status, eta)
    assert is_late(order, TODAY) is late
    for lang in ("fr", "en"):
        reply = describe(order, lang, TODAY)
        assert isinstance(reply, OrderReply) and reply.late is late


def test_a_late_parcel_is_said_late_with_the_next_step() -> None:
    order = Order(number="AL-111111", status="shipped", carrier="Colissimo", eta="2026-11-30",
                  tracking_url="https://track.example/1")
    fr = describe(order, "fr", TODAY)
    en = describe(order, "en", TODAY)
    assert fr.status == "expédiée" and en.status == "shipped"
    assert fr.details == (
        "Transporteur : Colissimo. Votre colis a du retard : la livraison était prévue le lundi 30 novembre. "
        "Si vous ne l'avez pas reçu d'ici 2 jours ouvrés, un conseiller peut ouvrir une enquête auprès du "
        "transporteur. [Suivre le colis](https://track.example/1)")
    assert en.details == (
        "Carrier: Colissimo. Your parcel is late: delivery was expected on Monday 30 November. "
        "If you have not received it within 2 working days, an advisor can open an investigation with the "
        "carrier. [Track the parcel](https://track.example/1)")
    assert ".." not in fr.details + en.details


def test_delivered_with_a_past_date_is_not_called_late() -> None:
    reply = describe(_order("delivered", "2026-11-30"), "fr", TODAY)
    assert not reply.late and "retard" not in reply.details
    assert reply.details == "Transporteur : Colissimo. Livraison prévue le lundi 30 novembre"


@pytest.mark.parametrize(("eta", "fr", "en"), [
    ("2026-12-01", "mardi 1er décembre", "Tuesday 1 December"),          # French ordinal
    ("2027-01-04", "lundi 4 janvier 2027", "Monday 4 January 2027"),    # next year: the year is said
    ("2026-12-03", "jeudi 3 décembre", "Thursday 3 December"),
])
def test_expected_day_in_words(eta: str, fr: str, en: str) -> None:
    order = _order(eta=eta)
    assert describe(order, "fr", TODAY).details.endswith(f"Livraison prévue le {fr}")
    assert describe(order, "en", TODAY).details.endswith(f"Expected delivery: {en}")


FRENCH_WORDS = ("lundi", "mardi", "mercredi", "novembre", "décembre", "janvier", "1er", "retard", "colis",
                "livraison", "transporteur", "expédiée", "jours ouvrés", "conseiller")


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("eta", ["2026-11-30", "2026-12-01", "2027-01-04"])
def test_english_has_no_french_word(status: str, eta: str) -> None:
    order = Order(number="AL-111111", status=status, carrier="DHL", eta=eta, tracking_url="https://t.example")
    said = " ".join(describe(order, "en", TODAY)[:2] + (describe(order, "en", TODAY).next,)).lower()
    assert not [w for w in FRENCH_WORDS if w in said], said


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_has_a_label_in_both_languages(status: str) -> None:
    order = Order(number="AL-111111", status=status)
    fr, en = describe(order, "fr", TODAY), describe(order, "en", TODAY)
    assert fr.status not in ("", status) and en.status   # words, not the code
    assert fr.status != en.status


@pytest.mark.parametrize(("status", "fr_words", "human"), [
    ("delivered", "retourner", False),          # after delivery: how to return
    ("cancelled", "conseiller", True),          # something went wrong: a person
    ("delivery_failed", "nouvelle livraison", True),
    ("on_hold", "conseiller", True),
    ("awaiting_payment", "paiement", False),
    ("refunded", "remboursement", False),
])
def test_each_status_says_what_the_shopper_can_do_next(status: str, fr_words: str, human: bool) -> None:
    order = Order(number="AL-111111", status=status)
    reply = describe(order, "fr", TODAY)
    assert fr_words in reply.next.lower()
    assert needs_a_human(order, reply) is human
    assert describe(order, "en", TODAY).next and describe(order, "en", TODAY).next != reply.next


def test_a_late_parcel_needs_a_human_and_says_late_instead_of_the_usual_next_step() -> None:
    order = _order("shipped", "2026-11-30")
    reply = describe(order, "fr", TODAY)
    assert reply.late and reply.next == "" and needs_a_human(order, reply)


def test_today_defaults_to_the_shops_day() -> None:
    far_past, far_future = _order(eta="2000-01-03"), _order(eta="2999-01-03")
    assert describe(far_past, "en").late and not describe(far_future, "en").late


def test_an_unknown_status_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "orders.yml"
    bad.write_text("orders:\n  AL-111111: {status: lost-in-space}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"orders.yml.*lost-in-space.*AL-111111"):
        DemoOrderSource(bad)


@pytest.mark.parametrize(("platform", "text", "found"), [
    ("prestashop", "où est ma commande XKBKNABJK ?", "XKBKNABJK"),
    ("prestashop", "XKBKNABJK", "XKBKNABJK"),
    ("prestashop", "ma livraison xkbknabjk", None),               # a reference is typed in capitals
    ("prestashop", "LIVRAISON EN RETARD", None),                   # shouting: any word could be one
    ("shopify", "order #1001 please", "#1001"),
    ("shopify", "order 1001", None),                               # bare digits: the bot asks
    ("woocommerce", "commande #727", "727"),
    ("woocommerce", "j'ai commandé 2 pulls, tel 0612345678", None),
    ("demo", "c'est la al 482913 svp", "AL-482913"),
    ("demo", "482913", None),                                      # the bot's own regex reads it
])
def test_an_order_number_is_taken_from_a_sentence_only_when_it_cannot_be_anything_else(
        platform: str, text: str, found: str | None) -> None:
    """What the gateway sends Rasa as the `order_number` metadata (gateway/rasa_client.py)."""
    formats = {"prestashop": REFERENCE, "shopify": NAME, "woocommerce": NUMBER, "demo": DEMO_NUMBERS}
    assert formats[platform].find_marked(text) == found
