"""PrestaShop 8/9 through its Webservice (JSON).

The key is the Basic-auth user with an empty password. An order reference (9 capital letters,
what the shopper sees in their e-mails) may cover several orders of one cart. The status comes
from the order state's flags (`paid`, `shipped`, `delivery`) and its e-mail template, never from
its id: every shop adds and renumbers states; the owner can still map a state id in
`orders.status_map`. An empty filter result may come back as a bare `[]`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

from shop.orders import Order

from .base import NumberFormat, SourceError
from .http import JsonApi, Reply, require_https
from .tracking import DEFAULT_CARRIERS, tracking_link

REFERENCE = NumberFormat(r"([A-Z]{9})", "{}", "XKBKNABJK", find_any_case=False)
DELIVERED_NAME = re.compile(r"\b(livr[ée]e?s?|delivered|zugestellt|entregado|consegnato)\b", re.IGNORECASE)
IN_TRANSIT_NAME = re.compile(r"(en cours|in transit|out for|transit)", re.IGNORECASE)


def _text(value: Any) -> str:
    """A multilingual field (`[{"id": "1", "value": "Livré"}]`) or a plain one, as text."""
    if isinstance(value, list):
        return next((str(v.get("value") or "") for v in value if isinstance(v, dict) and v.get("value")), "")
    return "" if value is None else str(value)


def _flag(state: Mapping[str, Any], name: str) -> bool:
    return str(state.get(name) or "0").strip() in ("1", "true", "True")


def state_status(state: Mapping[str, Any]) -> str:
    """Our status for a PrestaShop order state, from its flags and e-mail template."""
    template = _text(state.get("template")).lower()
    name = _text(state.get("name"))
    if "cancel" in template:
        return "cancelled"
    if "refund" in template:
        return "refunded"
    if "payment_error" in template:
        return "on_hold"
    if _flag(state, "shipped"):
        if template == "shipped" or IN_TRANSIT_NAME.search(name) or not DELIVERED_NAME.search(name):
            return "shipped"
        return "delivered"
    if _flag(state, "paid"):
        return "confirmed"  # paid, being prepared (backorders included)
    return "awaiting_payment"


def _refused(reply: Reply) -> str | None:
    errors = reply.body.get("errors") if isinstance(reply.body, dict) else None
    message = "; ".join(str(e.get("message") or "") for e in errors if isinstance(e, dict)) if errors else ""
    if reply.status == 401:
        return f"the webservice key was refused (HTTP 401){': ' + message if message else ''}"
    if reply.status == 403:
        return f"the webservice key lacks a permission (HTTP 403){': ' + message if message else ''}"
    if reply.status == 503 and "disabled" in message.lower():
        return f"the webservice is disabled in the back office: {message}"
    return None


class PrestaShopSource:
    numbers = REFERENCE

    def __init__(
        self,
        url: str,
        key: str,
        *,
        carriers: Mapping[str, str] | None = None,
        status_map: Mapping[str, str] | None = None,
        **client: Any,
    ) -> None:
        if not key:
            raise SourceError("prestashop: no webservice key (set PRESTASHOP_API_KEY)")
        base = require_https(url, "orders.url") + "/api/"
        self.api = JsonApi("prestashop", base, auth=(key, ""), refused=_refused, **client)
        self.carriers = dict(DEFAULT_CARRIERS if carriers is None else carriers)
        self.status_map = {str(k): v for k, v in (status_map or {}).items()}
        self._stable: dict[tuple[str, str], dict[str, Any]] = {}  # (resource, id) -> order state, carrier

    async def aclose(self) -> None:
        await self.api.aclose()

    async def _get(self, path: str, **params: str) -> Any:
        reply = await self.api.call("GET", path, params={"output_format": "JSON", **params})
        if reply.status == 404:
            return None
        if reply.status >= 400:
            raise SourceError(f"prestashop: HTTP {reply.status} on {path}")
        return reply.body

    async def _one(self, resource: str, singular: str, ident: Any) -> dict[str, Any]:
        if not str(ident or "").strip() or str(ident) == "0":
            return {}
        body = await self._get(f"{resource}/{int(ident)}")
        item = body.get(singular) if isinstance(body, dict) else None
        return item if isinstance(item, dict) else {}

    async def _list(self, resource: str, **filters: str) -> list[dict[str, Any]]:
        body = await self._get(
            resource, display="full", **{f"filter[{k}]": f"[{v}]" for k, v in filters.items()}
        )
        if body is None or body == [] or body == {}:
            return []  # no match: `[]` (PrestaShop 8) or `{"<resource>": []}`
        items = body.get(resource) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise SourceError(f"prestashop: unexpected reply shape for {resource}")
        return [i for i in items if isinstance(i, dict)]

    async def _kept(self, resource: str, singular: str, ident: Any) -> dict[str, Any]:
        """An order state or a carrier, fetched once per process: they rarely change."""
        key = (resource, str(ident))
        if key not in self._stable:
            self._stable[key] = await self._one(resource, singular, ident)
        return self._stable[key]

    async def _state(self, ident: Any) -> dict[str, Any]:
        return await self._kept("order_states", "order_state", ident)

    async def _carrier(self, ident: Any) -> dict[str, Any]:
        return await self._kept("carriers", "carrier", ident)

    async def lookup(self, number: str) -> Sequence[Order]:
        reference = self.numbers.normalise(number)
        if reference is None:
            return []
        return [await self._order(raw, reference) for raw in await self._list("orders", reference=reference)]

    async def _order(self, raw: dict[str, Any], reference: str) -> Order:
        state_id = str(raw.get("current_state") or "")
        # one round trip for everything that only needs the order (the shop may be far away)
        state, shipments, customer, address, carrier = await asyncio.gather(
            self._state(state_id),
            self._list("order_carriers", id_order=str(int(raw.get("id") or 0))),
            self._one("customers", "customer", raw.get("id_customer")),
            self._one("addresses", "address", raw.get("id_address_delivery")),
            self._carrier(raw.get("id_carrier")),
        )
        status = self.status_map.get(state_id) or state_status(state)
        shipment = next(
            (s for s in shipments if _text(s.get("tracking_number")).strip()),
            shipments[0] if shipments else {},
        )
        if shipment.get("id_carrier") and str(shipment["id_carrier"]) != str(raw.get("id_carrier")):
            carrier = await self._carrier(shipment["id_carrier"])  # the parcel left with another carrier
        number = _text(shipment.get("tracking_number")) or _text(raw.get("shipping_number"))
        template = _text(carrier.get("url"))
        url = template.replace("@", number) if number and "@" in template else ""
        name = _text(carrier.get("name"))
        return Order(
            number=reference,
            status=status,
            carrier=name,
            tracking_url=tracking_link(url, name, number, self.carriers),
            email=_text(customer.get("email")),
            postcode=_text(address.get("postcode")),
        )
