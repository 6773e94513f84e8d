"""`orders:` in config/shop.yml: which back office answers "where is my order?", and how.

Addresses and behaviour live in the file; keys only in the environment (never in the repo):
PRESTASHOP_API_KEY, SHOPIFY_ACCESS_TOKEN, WOOCOMMERCE_CONSUMER_KEY and
WOOCOMMERCE_CONSUMER_SECRET.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shop.orders import STATUSES

from .tracking import DEFAULT_CARRIERS

SOURCES = ("demo", "prestashop", "shopify", "woocommerce")
SECRETS = {
    "prestashop": ("PRESTASHOP_API_KEY",),
    "shopify": ("SHOPIFY_ACCESS_TOKEN",),
    "woocommerce": ("WOOCOMMERCE_CONSUMER_KEY", "WOOCOMMERCE_CONSUMER_SECRET"),
}


@dataclass(frozen=True)
class OrdersConfig:
    source: str = "demo"
    url: str = ""  # the shop's address (Shopify: https://{shop}.myshopify.com)
    api_version: str = "2025-07"  # Shopify Admin API version
    timeout_seconds: float = 5.0
    attempts: int = 3  # tries per call when the shop fails transiently
    cache_seconds: float = 60.0
    status_map: Mapping[str, str] = field(default_factory=dict)  # PrestaShop state id -> status
    carriers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CARRIERS))


def parse_orders(raw: Any, error: Any) -> OrdersConfig:
    """`error(where, message)` builds the caller's ValueError (it names the file)."""
    if raw is None:
        return OrdersConfig()
    if not isinstance(raw, dict):
        raise error("orders", "must be a mapping")
    known = set(OrdersConfig.__dataclass_fields__)
    if unknown := {str(k) for k in raw} - known:
        raise error("orders", f"unknown keys {sorted(unknown)} (known: {sorted(known)})")
    values = dict(raw)
    if values.get("source", "demo") not in SOURCES:
        raise error("orders.source", f"must be one of {list(SOURCES)}, got {values.get('source')!r}")
    if values.get("source", "demo") != "demo" and not str(values.get("url") or "").startswith(
        ("https://", "http://")
    ):
        raise error("orders.url", f"the shop's address (https://...) is needed for {values['source']}")
    for name, low, high in (("timeout_seconds", 0.1, 60), ("attempts", 1, 10), ("cache_seconds", 0, 3600)):
        value = values.get(name, getattr(OrdersConfig, name))
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise error(f"orders.{name}", f"must be a number from {low} to {high}, got {value!r}")
    status_map = values.get("status_map") or {}
    if not isinstance(status_map, dict) or any(v not in STATUSES for v in status_map.values()):
        raise error("orders.status_map", f"must map state ids to one of {list(STATUSES)}, got {status_map!r}")
    carriers = values.get("carriers")
    if carriers is not None and (
        not isinstance(carriers, dict)
        or not all(
            isinstance(v, str) and v.startswith("https://") and "{number}" in v for v in carriers.values()
        )
    ):
        raise error("orders.carriers", "must map carrier names to https:// links containing {number}")
    values["status_map"] = {str(k): v for k, v in status_map.items()}
    values["carriers"] = {**DEFAULT_CARRIERS, **{str(k).lower(): v for k, v in (carriers or {}).items()}}
    return OrdersConfig(**values)
