"""Shopify through the Admin GraphQL API.

`POST https://{shop}.myshopify.com/admin/api/{version}/graphql.json` with the app's
`X-Shopify-Access-Token`; the API version is a setting (Shopify retires each one after a year).
An order is found by its name ("#1001"). Shopify throttles by query cost and says so in
`extensions.cost.throttleStatus` (and a `THROTTLED` error, with HTTP 200): we wait what the
restore rate needs, a bounded number of times, then give up like for an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from shop.orders import Order

from .base import NumberFormat, SourceError, SourceMisconfigured
from .http import JsonApi, Reply, require_https
from .tracking import DEFAULT_CARRIERS, tracking_link

NAME = NumberFormat(r"#?(\d{3,12})", "#{}", "#1001")
QUERY = """
query OrderStatus($query: String!) {
  orders(first: 5, query: $query) {
    edges { node {
      name email cancelledAt displayFinancialStatus displayFulfillmentStatus
      shippingAddress { zip }
      fulfillments { displayStatus estimatedDeliveryAt deliveredAt trackingInfo { company number url } }
    } }
  }
}
"""
FULFILMENT_STATUS = {
    "DELIVERED": "delivered",
    "OUT_FOR_DELIVERY": "out_for_delivery",
    "FAILURE": "delivery_failed",
    "ATTEMPTED_DELIVERY": "delivery_failed",
    "CANCELED": "cancelled",
}
MAX_THROTTLE_WAITS = 3
MAX_THROTTLE_SECONDS = 4.0


def order_status(node: Mapping[str, Any]) -> str:
    """Our status for a Shopify order: cancelled and refunded first, then the latest
    fulfilment's delivery status, then the order's fulfilment and payment states."""
    financial = str(node.get("displayFinancialStatus") or "").upper()
    fulfilment = str(node.get("displayFulfillmentStatus") or "").upper()
    if node.get("cancelledAt"):
        return "cancelled"
    if financial == "REFUNDED":
        return "refunded"
    fulfilments = [f for f in node.get("fulfillments") or [] if isinstance(f, dict)]
    if fulfilments:
        latest = str(fulfilments[-1].get("displayStatus") or "").upper()
        return FULFILMENT_STATUS.get(latest, "shipped")
    if fulfilment == "ON_HOLD":
        return "on_hold"
    if financial in ("PENDING", "EXPIRED"):
        return "awaiting_payment"
    return "confirmed"


def _throttle_wait(body: Any) -> float | None:
    """Seconds to wait before retrying when Shopify throttled the query; None when it did not."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    ):
        return None
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 50)
    except (TypeError, ValueError):
        return 1.0
    return min(MAX_THROTTLE_SECONDS, max(0.05, missing / rate if rate > 0 else 1.0))


def _refused(reply: Reply) -> str | None:
    errors = reply.body.get("errors") if isinstance(reply.body, dict) else None
    if reply.status in (401, 403):
        return f"the access token was refused (HTTP {reply.status}): {errors or ''}".rstrip(": ")
    if reply.status == 404:
        return "no such shop or API version (HTTP 404): check orders.url and orders.api_version"
    if isinstance(errors, list):
        denied = [
            str(e.get("message") or "")
            for e in errors
            if isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "ACCESS_DENIED"
        ]
        if denied:
            return "; ".join(denied) + " (the app needs the read_orders scope)"
    return None


class ShopifySource:
    numbers = NAME

    def __init__(
        self,
        url: str,
        token: str,
        *,
        api_version: str = "2025-07",
        carriers: Mapping[str, str] | None = None,
        sleep: Any = asyncio.sleep,
        **client: Any,
    ) -> None:
        if not token:
            raise SourceError("shopify: no access token (set SHOPIFY_ACCESS_TOKEN)")
        base = require_https(url, "orders.url")
        self.path = f"/admin/api/{api_version}/graphql.json"
        self.api = JsonApi(
            "shopify", base, headers={"X-Shopify-Access-Token": token}, refused=_refused, **client
        )
        self.carriers = dict(DEFAULT_CARRIERS if carriers is None else carriers)
        self.sleep = sleep

    async def aclose(self) -> None:
        await self.api.aclose()

    async def _query(self, variables: dict[str, Any]) -> dict[str, Any]:
        for _ in range(MAX_THROTTLE_WAITS + 1):
            reply = await self.api.call("POST", self.path, json={"query": QUERY, "variables": variables})
            if reply.status >= 400:
                raise SourceError(f"shopify: HTTP {reply.status}")
            wait = _throttle_wait(reply.body)
            if wait is None:
                break
            await self.sleep(wait)
        else:
            raise SourceError("shopify: still throttled after waiting")
        body = reply.body if isinstance(reply.body, dict) else {}
        if body.get("errors"):
            raise SourceError(f"shopify: the query failed: {body['errors']}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise (
                SourceMisconfigured("shopify: the reply has no data")
                if reply.body is None
                else SourceError("shopify: unexpected reply shape")
            )
        return data

    async def lookup(self, number: str) -> Sequence[Order]:
        name = self.numbers.normalise(number)
        if name is None:
            return []
        data = await self._query({"query": f"name:{name}"})
        edges = ((data.get("orders") or {}).get("edges")) or []
        nodes = [e.get("node") for e in edges if isinstance(e, dict) and isinstance(e.get("node"), dict)]
        return [self._order(n) for n in nodes if str(n.get("name") or "") == name]  # the search is fuzzy

    def _order(self, node: dict[str, Any]) -> Order:
        fulfilments = [f for f in node.get("fulfillments") or [] if isinstance(f, dict)]
        latest = fulfilments[-1] if fulfilments else {}
        tracking = next((t for t in latest.get("trackingInfo") or [] if isinstance(t, dict)), {})
        company = str(tracking.get("company") or "")
        eta = str(latest.get("estimatedDeliveryAt") or "")[:10]
        return Order(
            number=str(node.get("name")),
            status=order_status(node),
            carrier=company,
            tracking_url=tracking_link(
                str(tracking.get("url") or ""), company, str(tracking.get("number") or ""), self.carriers
            ),
            eta=eta,
            email=str(node.get("email") or ""),
            postcode=str((node.get("shippingAddress") or {}).get("zip") or ""),
        )
