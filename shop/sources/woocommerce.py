"""WooCommerce through its REST API v3.

`GET https://shop/wp-json/wc/v3/orders/{id}` with the consumer key and secret as Basic auth
(HTTPS only). Tracking numbers come from the Shipment Tracking extension
(`/wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings`) when the shop has it; a
shop without it answers `rest_no_route`, which is no error. An unknown order is a 404
`woocommerce_rest_shop_order_invalid_id`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from shop.orders import Order

from .base import NumberFormat, SourceError, SourceMisconfigured
from .http import JsonApi, Reply, require_https
from .tracking import DEFAULT_CARRIERS, tracking_link

NUMBER = NumberFormat(r"#?(\d{1,12})", "{}", "1234")
STATUSES = {
    "pending": "awaiting_payment",
    "failed": "awaiting_payment",
    "processing": "confirmed",
    "on-hold": "on_hold",
    "completed": "shipped",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "checkout-draft": "awaiting_payment",
}
NOT_FOUND = {"woocommerce_rest_shop_order_invalid_id", "woocommerce_rest_invalid_id"}


def _code(reply: Reply) -> str:
    return str(reply.body.get("code") or "") if isinstance(reply.body, dict) else ""


def _refused(reply: Reply) -> str | None:
    if reply.status in (401, 403):
        message = reply.body.get("message") if isinstance(reply.body, dict) else ""
        code = _code(reply) or "no code"
        return f"the consumer key was refused (HTTP {reply.status}, {code}): {message or ''}"
    return None


class WooCommerceSource:
    numbers = NUMBER

    def __init__(
        self, url: str, key: str, secret: str, *, carriers: Mapping[str, str] | None = None, **client: Any
    ) -> None:
        if not (key and secret):
            raise SourceError(
                "woocommerce: no consumer key and secret (set WOOCOMMERCE_CONSUMER_KEY "
                "and WOOCOMMERCE_CONSUMER_SECRET)"
            )
        base = require_https(url, "orders.url") + "/wp-json/"
        self.api = JsonApi("woocommerce", base, auth=(key, secret), refused=_refused, **client)
        self.carriers = dict(DEFAULT_CARRIERS if carriers is None else carriers)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def lookup(self, number: str) -> Sequence[Order]:
        ident = self.numbers.normalise(number)
        if ident is None:
            return []
        # the order and its tracking in one round trip (the tracking is dropped if not needed)
        reply, tracking = await asyncio.gather(
            self.api.call("GET", f"wc/v3/orders/{int(ident)}"), self._tracking(ident)
        )
        if reply.status == 404 and _code(reply) in NOT_FOUND:
            return []
        if reply.status == 404 and _code(reply) == "rest_no_route":
            raise SourceError("woocommerce: the REST API is not available at this address (rest_no_route)")
        if reply.status >= 400 or not isinstance(reply.body, dict):
            raise SourceError(f"woocommerce: HTTP {reply.status} ({_code(reply) or 'unexpected reply'})")
        return [self._order(reply.body, ident, tracking)]

    async def _tracking(self, ident: str) -> dict[str, Any]:
        try:
            reply = await self.api.call(
                "GET", f"wc-shipment-tracking/v3/orders/{int(ident)}/shipment-trackings"
            )
        except SourceMisconfigured:
            raise
        except SourceError:  # tracking is a bonus: the order's status still answers
            return {}
        if reply.status >= 400 or not isinstance(reply.body, list):  # no extension, or nothing yet
            return {}
        items = [t for t in reply.body if isinstance(t, dict)]
        return items[-1] if items else {}

    def _order(self, raw: dict[str, Any], ident: str, tracking: dict[str, Any]) -> Order:
        status = STATUSES.get(str(raw.get("status") or ""), "confirmed")
        tracking = tracking if status in ("shipped", "confirmed") else {}
        provider = str(tracking.get("tracking_provider") or tracking.get("custom_tracking_provider") or "")
        billing, shipping = raw.get("billing") or {}, raw.get("shipping") or {}
        return Order(
            number=str(raw.get("number") or ident),
            status=status,
            carrier=provider,
            tracking_url=tracking_link(
                str(tracking.get("tracking_link") or ""),
                provider,
                str(tracking.get("tracking_number") or ""),
                self.carriers,
            ),
            email=str(billing.get("email") or ""),
            postcode=str(shipping.get("postcode") or billing.get("postcode") or ""),
        )
