"""Orders as the bot shows them: one status vocabulary for every platform, the shopper's wording
of an order, and the demo source reading `config/demo_orders.yml`.

The shops' own back offices (PrestaShop, Shopify, WooCommerce) are in `shop.sources`; the bot
only needs a status, a carrier and a tracking link, in the shopper's language, plus the buyer's
e-mail and delivery postcode, which `shop.order_gate` checks before showing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import yaml

from kit import texts
from kit.dates import format_day
from kit.texts import norm_lang

from .order_numbers import DEMO

DEFAULT_PATH = Path("config/demo_orders.yml")
DEFAULT_TIMEZONE = "Europe/Paris"   # the shop's, when the caller does not say which day it is


def normalise_order_number(text: str | None) -> str | None:
    """`AL-123456` from what shoppers type (`al123456`, `AL 123456`, `123456`); None if not one
    (the demo's numbers; a shop's own are its source's `numbers`)."""
    return DEMO.normalise(text)


@dataclass(frozen=True)
class Order:
    number: str
    status: str            # one of STATUSES
    carrier: str = ""
    tracking_url: str = ""
    eta: str = ""          # ISO date, when known
    email: str = ""        # the buyer's e-mail: proof of ownership (shop.order_gate)
    postcode: str = ""     # the delivery postcode: the other accepted proof


# one vocabulary for every platform; labels and next steps: locales `orders.status` / `orders.next`
STATUSES = ("awaiting_payment", "confirmed", "on_hold", "shipped", "out_for_delivery", "delivered",
            "delivery_failed", "cancelled", "refunded", "delayed")
ON_THE_WAY = ("shipped", "out_for_delivery", "delayed")   # only a parcel still travelling can be late
NEEDS_A_HUMAN = ("on_hold", "delivery_failed", "cancelled")   # something is wrong: a person can help


class OrderReply(NamedTuple):
    """The order-status reply: unpacks as `status, details, late` for the bot's template."""

    status: str    # the status label, in the shopper's language
    details: str   # carrier, delivery date (or the delay and what to do), tracking link
    late: bool     # the expected delivery day has passed and the parcel is still on its way
    next: str = ""  # what the shopper can do now (returns after delivery, a person when it went wrong)


def eta_of(order: Order) -> date | None:
    """The expected delivery day, None when unknown or not an ISO date (shown as typed then)."""
    try:
        return date.fromisoformat(order.eta.strip()) if order.eta.strip() else None
    except ValueError:
        return None


def is_late(order: Order, today: date) -> bool:
    """True when a shipped or delayed order's expected day is before `today` (the shop's day):
    delivered, cancelled and not-yet-shipped orders are never late."""
    eta = eta_of(order)
    return order.status in ON_THE_WAY and eta is not None and eta < today


def describe(order: Order, lang: str, today: date | None = None) -> OrderReply:
    """Status and details for the bot's reply, in the shopper's language.

    The delivery day is written out ("mercredi 2 décembre"), and a late parcel is said to be
    late with what happens next, so the shopper does not have to ask. `today` is the shop's
    calendar day (default: now in Europe/Paris); pass it so the answer follows the shop's clock.
    """
    lang = norm_lang(lang)
    if today is None:
        today = datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()
    statuses = texts.section(lang, "orders.status")
    status = statuses.get(order.status, order.status)
    late = is_late(order, today)
    eta = eta_of(order)
    when = format_day(eta, lang, today=today) if eta else order.eta.strip()
    parts = [texts.text(lang, f"orders.{key}", value=value) for key, value in
             (("carrier", order.carrier), ("late" if late else "eta", when), ("track", order.tracking_url))
             if value]
    step = texts.section(lang, "orders.next").get(order.status, "") if not late else ""
    return OrderReply(status, ". ".join(parts), late, step)


def needs_a_human(order: Order, reply: OrderReply) -> bool:
    """Late, cancelled, on hold, a failed delivery: the bot offers a person after the status."""
    return reply.late or order.status in NEEDS_A_HUMAN


class DemoOrderSource:
    """Orders from a YAML file: `orders: {AL-123456: {status, carrier, tracking_url, eta, email,
    postcode}}`. Read it through `shop.order_gate.OrderGate`, never directly."""

    def __init__(self, path: str | Path = DEFAULT_PATH):
        self.path = Path(path)
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        orders = data.get("orders") or {}
        problems = [f"{self.path}: unknown status {v.get('status')!r} for {k}"
                    for k, v in orders.items() if v.get("status") not in STATUSES]
        if problems:
            raise ValueError("; ".join(problems))
        self.orders = {normalise_order_number(str(k)) or str(k): Order(
            number=normalise_order_number(str(k)) or str(k), status=v["status"],
            carrier=str(v.get("carrier") or ""), tracking_url=str(v.get("tracking_url") or ""),
            eta=str(v.get("eta") or ""), email=str(v.get("email") or ""),
            postcode=str(v.get("postcode") or "")) for k, v in orders.items()}

    numbers = DEMO

    async def lookup(self, number: str) -> Sequence[Order]:
        key = normalise_order_number(number)
        order = self.orders.get(key) if key else None
        return [order] if order else []
