"""Fake PrestaShop, Shopify and WooCommerce back offices on real local HTTP servers.

Each speaks its platform's request and reply shapes (paths, query syntax, auth headers, error
bodies and the quirks the connectors must handle: PrestaShop's bare `[]` for an empty filter and
its multilingual fields, Shopify's throttling inside a 200 reply, WooCommerce's `rest_no_route`
when the Shipment Tracking extension is absent) and refuses anything else with the platform's
own error shape. Every request is counted; `fail_next`, `slow_next` and `garbage_next` script
outages, timeouts and unreadable replies; `latency` slows every reply (benchmarks).
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .local_server import LocalServer


@dataclass
class _Script:
    fail: list[int] = field(default_factory=list)
    slow: list[float] = field(default_factory=list)
    garbage: int = 0


class FakeShop(LocalServer):
    """`with FakeX() as shop:` -> `shop.base_url`, `shop.requests` (paths and queries seen)."""

    name = "shop"

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.latency = 0.0
        self._script = _Script()
        self._lock = threading.Lock()
        super().__init__(Starlette(routes=self.routes()), self.name)

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._script.fail.extend([status] * count)

    def slow_next(self, count: int, seconds: float) -> None:
        with self._lock:
            self._script.slow.extend([seconds] * count)

    def garbage_next(self, count: int) -> None:
        """The next replies are a 200 HTML page (a proxy or a PHP notice in front of the API)."""
        with self._lock:
            self._script.garbage += count

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script = _Script()
            self.latency = 0.0

    async def _scripted(self, request: Request) -> Response | None:
        """Counts the request and plays the script; a Response when the script answers it."""
        with self._lock:
            self.requests.append(f"{request.method} {request.url.path}?{request.url.query}")
            slow = self._script.slow.pop(0) if self._script.slow else 0.0
            fail = self._script.fail.pop(0) if self._script.fail else None
            garbage = self._script.garbage > 0
            self._script.garbage -= int(garbage)
        if slow or self.latency:
            await asyncio.sleep(slow + self.latency)
        if fail is not None:
            return Response(
                "<html><body>Service Unavailable</body></html>", status_code=fail, media_type="text/html"
            )
        if garbage:
            return Response(
                "<br /><b>Notice</b>: Undefined index in /var/www/index.php",
                status_code=200,
                media_type="text/html",
            )
        return None


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


# -- PrestaShop 8 webservice ---------------------------------------------------------------------


def _ml(text: str) -> list[dict[str, str]]:
    """A multilingual field as the webservice renders it with `display=full` and no `language`."""
    return [{"id": "1", "value": text}, {"id": "2", "value": text}]


PS_STATES = {  # the default states' flags and templates (ids differ from shop to shop)
    1: {
        "paid": "0",
        "shipped": "0",
        "delivery": "0",
        "template": _ml("cheque"),
        "name": _ml("En attente du paiement par chèque"),
    },
    2: {
        "paid": "1",
        "shipped": "0",
        "delivery": "0",
        "template": _ml("payment"),
        "name": _ml("Paiement accepté"),
    },
    3: {
        "paid": "1",
        "shipped": "0",
        "delivery": "1",
        "template": _ml("preparation"),
        "name": _ml("En cours de préparation"),
    },
    4: {"paid": "1", "shipped": "1", "delivery": "1", "template": _ml("shipped"), "name": _ml("Expédié")},
    5: {"paid": "1", "shipped": "1", "delivery": "1", "template": _ml(""), "name": _ml("Livré")},
    6: {
        "paid": "0",
        "shipped": "0",
        "delivery": "0",
        "template": _ml("order_canceled"),
        "name": _ml("Annulé"),
    },
    7: {"paid": "1", "shipped": "0", "delivery": "0", "template": _ml("refund"), "name": _ml("Remboursé")},
    8: {
        "paid": "0",
        "shipped": "0",
        "delivery": "0",
        "template": _ml("payment_error"),
        "name": _ml("Erreur de paiement"),
    },
}
PS_CARRIERS = {
    2: {"name": "Colissimo", "url": "https://www.laposte.fr/outils/suivre-vos-envois?code=@"},
    3: {"name": "Transporteur maison", "url": ""},
}


class FakePrestaShop(FakeShop):
    name = "prestashop"

    def __init__(self, key: str = "PSKEY0123456789ABCDEFGHIJKLMNOPQ") -> None:
        self.key = key
        self.disabled = False
        # reference -> orders (XKBKNABJK: one cart split into two orders)
        self.orders = [
            {
                "id": 11,
                "reference": "XKBKNABJK",
                "current_state": "4",
                "id_customer": "7",
                "id_address_delivery": "9",
                "id_carrier": "2",
                "shipping_number": "",
            },
            {
                "id": 12,
                "reference": "XKBKNABJK",
                "current_state": "3",
                "id_customer": "7",
                "id_address_delivery": "9",
                "id_carrier": "2",
                "shipping_number": "",
            },
            {
                "id": 13,
                "reference": "QWERTYUIO",
                "current_state": "5",
                "id_customer": "8",
                "id_address_delivery": "10",
                "id_carrier": "3",
                "shipping_number": "MAISON-42",
            },
            {
                "id": 14,
                "reference": "ANNULEEEE",
                "current_state": "6",
                "id_customer": "8",
                "id_address_delivery": "10",
                "id_carrier": "2",
                "shipping_number": "",
            },
        ]
        self.order_carriers = [
            {"id": 1, "id_order": "11", "id_carrier": "2", "tracking_number": "6A12345678901"},
            {"id": 2, "id_order": "12", "id_carrier": "2", "tracking_number": ""},
        ]
        self.customers = {
            7: {"email": "Anna.Martin@Exemple.fr", "lastname": "Martin"},
            8: {"email": "john@example.com", "lastname": "Smith"},
        }
        self.addresses = {
            9: {"postcode": "75002", "address1": "12 rue de la Paix", "phone": "0102030405"},
            10: {"postcode": "SW1A 1AA", "address1": "10 Downing St", "phone": "02079250918"},
        }
        super().__init__()

    def routes(self) -> list[Route]:
        return [Route("/api/{resource}", self._list), Route("/api/{resource}/{ident}", self._one)]

    @staticmethod
    def error(status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status)

    async def _guard(self, request: Request) -> Response | None:
        if (scripted := await self._scripted(request)) is not None:
            return scripted
        if request.method != "GET":
            return self.error(405, 100, "Method Not Allowed")
        if self.disabled:
            return self.error(
                503,
                22,
                "The PrestaShop webservice is disabled. Please activate it in the PrestaShop Back Office",
            )
        auth = _basic(request)
        if auth is None:
            return self.error(401, 17, "Authentication key is empty")
        if auth != (self.key, ""):
            return self.error(401, 18, "Invalid authentication key")
        if request.query_params.get("output_format") != "JSON":
            return Response('<?xml version="1.0" encoding="UTF-8"?><prestashop/>', media_type="text/xml")
        return None

    def _table(self, resource: str) -> dict[int, dict[str, Any]] | None:
        return {
            "order_states": PS_STATES,
            "carriers": PS_CARRIERS,
            "customers": self.customers,
            "addresses": self.addresses,
        }.get(resource)

    async def _one(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        resource, ident = request.path_params["resource"], request.path_params["ident"]
        table = self._table(resource)
        if table is None:
            return self.error(400, 26, f'Resource of type "{resource}" does not exists')
        if not ident.isdigit() or int(ident) not in table:
            return self.error(404, 87, f"Id(s) not exists: {ident}")
        singular = {
            "order_states": "order_state",
            "carriers": "carrier",
            "customers": "customer",
            "addresses": "address",
        }[resource]
        return JSONResponse({singular: {"id": int(ident), **table[int(ident)]}})

    async def _list(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        resource = request.path_params["resource"]
        rows = {"orders": self.orders, "order_carriers": self.order_carriers}.get(resource)
        if rows is None:
            return self.error(400, 26, f'Resource of type "{resource}" does not exists')
        filters = {k[7:-1]: v for k, v in request.query_params.items() if k.startswith("filter[")}
        for name, value in filters.items():
            if not (value.startswith("[") and value.endswith("]")):
                return self.error(400, 32, f'The "{name}" filter is malformed (expected [value])')
        found = [r for r in rows if all(str(r.get(k)) == v[1:-1] for k, v in filters.items())]
        if request.query_params.get("display") != "full":
            found = [{"id": r["id"]} for r in found]
        return JSONResponse({resource: found} if found else [])  # PrestaShop 8: a bare [] when empty


# -- Shopify Admin GraphQL ------------------------------------------------------------------------


class FakeShopify(FakeShop):
    name = "shopify"
    COST = {"requestedQueryCost": 12, "actualQueryCost": 6}

    def __init__(self, token: str = "shpat_0123456789abcdef", version: str = "2025-07") -> None:
        self.token = token
        self.version = version
        self.throttled = 0
        self.scopes = {"read_orders"}
        self.orders = [
            {
                "name": "#1001",
                "email": "anna.martin@exemple.fr",
                "cancelledAt": None,
                "displayFinancialStatus": "PAID",
                "displayFulfillmentStatus": "FULFILLED",
                "shippingAddress": {"zip": "75002"},
                "fulfillments": [
                    {
                        "displayStatus": "IN_TRANSIT",
                        "estimatedDeliveryAt": "2026-12-09T12:00:00Z",
                        "deliveredAt": None,
                        "trackingInfo": [
                            {
                                "company": "Colissimo",
                                "number": "6A98765432109",
                                "url": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A98765432109",
                            }
                        ],
                    }
                ],
            },
            {
                "name": "#1002",
                "email": "john@example.com",
                "cancelledAt": None,
                "displayFinancialStatus": "PAID",
                "displayFulfillmentStatus": "UNFULFILLED",
                "shippingAddress": {"zip": "SW1A 1AA"},
                "fulfillments": [],
            },
            {
                "name": "#10021",
                "email": "other@example.com",
                "cancelledAt": None,  # "name:#1002" matches it too
                "displayFinancialStatus": "PAID",
                "displayFulfillmentStatus": "UNFULFILLED",
                "shippingAddress": {"zip": "69001"},
                "fulfillments": [],
            },
            {
                "name": "#1003",
                "email": "john@example.com",
                "cancelledAt": "2026-12-01T10:00:00Z",
                "displayFinancialStatus": "REFUNDED",
                "displayFulfillmentStatus": "UNFULFILLED",
                "shippingAddress": {"zip": "SW1A 1AA"},
                "fulfillments": [],
            },
        ]
        super().__init__()

    def routes(self) -> list[Route]:
        return [Route("/admin/api/{version}/graphql.json", self._graphql, methods=["GET", "POST"])]

    def cost(self, available: float = 1990.0) -> dict[str, Any]:
        return {
            "cost": {
                **self.COST,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": 100.0,
                },
            }
        }

    async def _graphql(self, request: Request) -> Response:
        if (scripted := await self._scripted(request)) is not None:
            return scripted
        if request.path_params["version"] != self.version:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if request.headers.get("x-shopify-access-token") != self.token:
            return JSONResponse(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
                status_code=401,
            )
        if request.method != "POST" or "json" not in request.headers.get("content-type", ""):
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}}, status_code=400
            )
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}}, status_code=400
            )
        query, variables = body.get("query"), body.get("variables") or {}
        if not isinstance(query, str) or "orders(" not in query:
            return JSONResponse(
                {"errors": [{"message": "Parse error", "extensions": {"code": "PARSE_ERROR"}}]}
            )
        if self.throttled > 0:
            self.throttled -= 1
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": self.cost(available=2.0),
                }
            )
        if "read_orders" not in self.scopes:
            return JSONResponse(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "Access denied for orders field. "
                            "Required access: `read_orders` access scope.",
                            "path": ["orders"],
                            "extensions": {
                                "code": "ACCESS_DENIED",
                                "requiredAccess": "`read_orders` access scope.",
                            },
                        }
                    ],
                    "extensions": self.cost(),
                }
            )
        search = str(variables.get("query") or "")
        wanted = search[5:] if search.startswith("name:") else None
        # Shopify's search is a prefix match on the name: "#1002" also finds "#10021"
        nodes = [o for o in self.orders if wanted is None or o["name"].startswith(wanted)]
        return JSONResponse(
            {"data": {"orders": {"edges": [{"node": n} for n in nodes[:5]]}}, "extensions": self.cost()}
        )


# -- WooCommerce REST v3 ----------------------------------------------------------------------------


class FakeWooCommerce(FakeShop):
    name = "woocommerce"

    def __init__(self, key: str = "ck_0123456789abcdef", secret: str = "cs_fedcba9876543210") -> None:
        self.key, self.secret = key, secret
        self.tracking_extension = True
        self.orders = {
            727: {
                "id": 727,
                "number": "727",
                "status": "completed",
                "billing": {"email": "anna.martin@exemple.fr", "postcode": "75002", "phone": "0102030405"},
                "shipping": {"postcode": "75002", "address_1": "12 rue de la Paix"},
            },
            728: {
                "id": 728,
                "number": "728",
                "status": "processing",
                "billing": {"email": "john@example.com", "postcode": "SW1A 1AA"},
                "shipping": {"postcode": ""},
            },
            729: {
                "id": 729,
                "number": "729",
                "status": "on-hold",
                "billing": {"email": "john@example.com", "postcode": "SW1A 1AA"},
                "shipping": {},
            },
        }
        self.trackings = {
            727: [
                {
                    "tracking_id": "a1",
                    "tracking_provider": "Chronopost",
                    "tracking_link": "",
                    "tracking_number": "XY123456789FR",
                    "date_shipped": "1733356800",
                }
            ]
        }
        super().__init__()

    def routes(self) -> list[Route]:
        return [
            Route("/wp-json/wc/v3/orders/{ident}", self._order),
            Route("/wp-json/wc-shipment-tracking/v3/orders/{ident}/shipment-trackings", self._tracking),
            Route("/{path:path}", self._no_route),
        ]

    @staticmethod
    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse(
            {"code": code, "message": message, "data": {"status": status}}, status_code=status
        )

    async def _guard(self, request: Request) -> Response | None:
        if (scripted := await self._scripted(request)) is not None:
            return scripted
        if _basic(request) != (self.key, self.secret):
            return self.error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        return None

    async def _no_route(self, request: Request) -> Response:
        await self._scripted(request)
        return self.error(404, "rest_no_route", "No route was found matching the URL and request method.")

    async def _order(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        ident = request.path_params["ident"]
        order = self.orders.get(int(ident)) if ident.isdigit() else None
        if order is None:
            return self.error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return JSONResponse(order)

    async def _tracking(self, request: Request) -> Response:
        if not self.tracking_extension:
            return await self._no_route(request)
        if (refused := await self._guard(request)) is not None:
            return refused
        ident = request.path_params["ident"]
        return JSONResponse(self.trackings.get(int(ident), []) if ident.isdigit() else [])
