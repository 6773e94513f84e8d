"""Order lookup behind `OrderSource`, with a demo source reading `config/demo_orders.yml`.

A real shop plugs its back office in by implementing `lookup`; the bot only needs a
status, a carrier and a tracking link, in the shopper's language, plus the buyer's e-mail and
delivery postcode, which `shop.order_gate` checks before showing anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from kit import texts
from kit.texts import norm_lang

ORDER_RE = re.compile(r"^\s*(?:al)?[\s-]?(\d{6})\s*$", re.IGNORECASE)
DEFAULT_PATH = Path("config/demo_orders.yml")


def normalise_order_number(text: str | None) -> str | None:
    """`AL-123456` from what shoppers type (`al123456`, `AL 123456`, `123456`); None if not one."""
    match = ORDER_RE.match(text or "")
    return f"AL-{match.group(1)}" if match else None


@dataclass(frozen=True)
class Order:
    number: str
    status: str            # one of STATUSES
    carrier: str = ""
    tracking_url: str = ""
    eta: str = ""          # ISO date, when known
    email: str = ""        # the buyer's e-mail: proof of ownership (shop.order_gate)
    postcode: str = ""     # the delivery postcode: the other accepted proof





STATUSES = ("confirmed", "shipped", "delivered", "cancelled", "delayed")   # labels: locales orders.status


def describe(order: Order, lang: str) -> tuple[str, str]:
    """(status, details) sentences for the bot's reply, in the shopper's language."""
    lang = norm_lang(lang)
    statuses = texts.section(lang, "orders.status")
    status = statuses.get(order.status, order.status)
    parts = [texts.text(lang, f"orders.{key}", value=value) for key, value in
             (("carrier", order.carrier), ("eta", order.eta), ("track", order.tracking_url)) if value]
    return status, ". ".join(parts)


class OrderSource(Protocol):
    def lookup(self, number: str) -> Order | None: ...


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

    def lookup(self, number: str) -> Order | None:
        key = normalise_order_number(number)
        return self.orders.get(key) if key else None
