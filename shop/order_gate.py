"""The one door to order data: proof of ownership and lookup limits before any order is shown.

An order number alone is printed on parcels, invoices and screenshots, and shops number orders
in sequence, so it proves nothing. The shopper must also give the order's e-mail or delivery
postcode. "No such order" and "not yours" get the same answer, so guessing numbers tells an
attacker nothing; and every attempt counts against three budgets (this conversation, this
client, this order number), so neither numbers nor postcodes can be enumerated. Every
`OrderSource` (the demo file, PrestaShop, Shopify, WooCommerce) is reached through this gate;
a shop that cannot answer is "unavailable", said honestly, never "no such order".
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, Protocol

from email_validator import EmailNotValidError, validate_email

from .order_numbers import NumberFormat
from .orders import Order
from .sources.base import OrderSource, SourceError

log = logging.getLogger("shop.order_gate")

POSTCODE_RE = re.compile(r"^[A-Z0-9](?:[A-Z0-9 -]{1,8})[A-Z0-9]$")


class Limiter(Protocol):
    async def allow(self, key: str) -> bool:
        """Count one attempt for `key`; False once its budget for the window is spent."""
        ...


@dataclass(frozen=True)
class Proof:
    kind: Literal["email", "postcode"]
    value: str           # normalised: lower-case e-mail, or upper-case postcode without spaces


def parse_proof(text: str | None) -> Proof | None:
    """An e-mail address or a postcode, as the shopper typed it; None if it is neither."""
    typed = unicodedata.normalize("NFKC", str(text or "")).strip()
    if "@" in typed:
        try:
            email = validate_email(typed, check_deliverability=False).normalized
        except EmailNotValidError:
            return None
        return Proof("email", email.casefold())
    code = typed.upper()
    if POSTCODE_RE.match(code) and any(ch.isdigit() for ch in code):
        return Proof("postcode", code.replace(" ", "").replace("-", ""))
    return None


def owns(order: Order, proof: Proof) -> bool:
    """Does the proof match the order? Compared in constant time, normalised like `parse_proof`."""
    stored = parse_proof(order.email if proof.kind == "email" else order.postcode)
    if stored is None or stored.kind != proof.kind:
        return False
    return hmac.compare_digest(stored.value.encode(), proof.value.encode())


@dataclass(frozen=True)
class Lookup:
    # not_found also means "not yours"; unavailable: the shop's system did not answer
    outcome: Literal["found", "not_found", "limited", "unavailable"]
    orders: tuple[Order, ...] = ()

    @property
    def order(self) -> Order | None:
        return self.orders[0] if self.orders else None


def _key(kind: str, value: str) -> str:
    """Limiter keys hold digests: no raw e-mail, address or id reaches Redis key names."""
    return f"order-{kind}:{hashlib.sha256(value.encode()).hexdigest()[:24]}"


class OrderGate:
    """Looks an order up only for its owner, within the lookup budgets."""

    def __init__(self, source: OrderSource, *, per_conversation: Limiter, per_client: Limiter,
                 per_order: Limiter) -> None:
        self.source = source
        self.numbers: NumberFormat = source.numbers
        self.limits = (("conv", per_conversation), ("client", per_client), ("number", per_order))

    async def lookup(self, number: str, proof_text: str, *, conversation: str, client: str) -> Lookup:
        """`client`: who asks (a web client's address digest, or channel:sender on Messenger/WhatsApp)."""
        normalised = self.numbers.normalise(number) or str(number or "").strip().upper()
        subjects = {"conv": conversation, "client": client, "number": normalised}
        # every budget is charged on every attempt, whatever the answer, so a refusal reveals nothing
        allowed = [await limiter.allow(_key(kind, subjects[kind])) for kind, limiter in self.limits]
        if not all(allowed):
            return Lookup("limited")
        proof = parse_proof(proof_text)
        if proof is None:
            return Lookup("not_found")
        try:
            orders = await self.source.lookup(normalised)
        except SourceError as exc:   # never logged with the proof: the message names the shop only
            log.warning("order lookup failed: %s", exc)
            return Lookup("unavailable")
        mine = tuple(order for order in orders if owns(order, proof))
        return Lookup("found", mine) if mine else Lookup("not_found")
