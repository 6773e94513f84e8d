"""Order numbers as shoppers type them, and the demo order source."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop.orders import DemoOrderSource, describe, normalise_order_number

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("typed", "number"), [
    ("AL-482913", "AL-482913"), ("al482913", "AL-482913"), ("AL 482913", "AL-482913"),
    (" 482913 ", "AL-482913"), ("al-482913", "AL-482913"),
    ("AL-48291", None), ("4829131", None), ("commande 482913", None), ("", None), (None, None),
])
def test_normalise_order_number(typed: str | None, number: str | None) -> None:
    assert normalise_order_number(typed) == number


def test_demo_source_finds_orders_however_typed() -> None:
    source = DemoOrderSource(REPO / "config" / "demo_orders.yml")
    order = source.lookup("al 482913")
    assert order is not None and order.status == "shipped" and order.carrier == "Colissimo"
    assert source.lookup("AL-000000") is None
    assert source.lookup("not a number") is None


def test_descriptions_are_in_the_shoppers_language() -> None:
    order = DemoOrderSource(REPO / "config" / "demo_orders.yml").lookup("AL-482913")
    fr_status, fr_details = describe(order, "fr")
    en_status, en_details = describe(order, "en")
    assert fr_status == "expédiée" and "Suivre le colis" in fr_details
    assert en_status == "shipped" and "Track the parcel" in en_details and "Carrier: Colissimo" in en_details


def test_an_unknown_status_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "orders.yml"
    bad.write_text("orders:\n  AL-111111: {status: lost-in-space}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"orders.yml.*lost-in-space.*AL-111111"):
        DemoOrderSource(bad)
