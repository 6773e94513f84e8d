"""Order sources: the demo file, PrestaShop, Shopify, WooCommerce, chosen by `orders.source`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .base import CachedSource, NumberFormat, OrderSource, SourceError, SourceMisconfigured
from .settings import SECRETS, OrdersConfig

__all__ = [
    "CachedSource",
    "NumberFormat",
    "OrderSource",
    "SourceError",
    "SourceMisconfigured",
    "OrdersConfig",
    "build_source",
]


def build_source(config: OrdersConfig, env: Mapping[str, str] | None = None, *,
                 demo_file: str | None = None, **client: Any) -> OrderSource:
    """The configured source, cached `config.cache_seconds`; secrets from `env` (os.environ);
    the demo's file from `demo_file`, else ORDERS_FILE, else config/demo_orders.yml.
    `client`: extra settings for the HTTP client (tests pass a transport or a shorter backoff)."""
    env = os.environ if env is None else env
    if config.source == "demo":
        from shop.orders import DemoOrderSource

        # a local file: nothing to cache
        return DemoOrderSource(demo_file or env.get("ORDERS_FILE") or "config/demo_orders.yml")
    http = {"timeout": config.timeout_seconds, "attempts": config.attempts, "carriers": config.carriers,
            **client}
    keys = [env.get(name, "") for name in SECRETS[config.source]]
    source: OrderSource
    if config.source == "prestashop":
        from .prestashop import PrestaShopSource

        source = PrestaShopSource(config.url, *keys, status_map=config.status_map, **http)
    elif config.source == "shopify":
        from .shopify import ShopifySource

        source = ShopifySource(config.url, *keys, api_version=config.api_version, **http)
    else:
        from .woocommerce import WooCommerceSource

        source = WooCommerceSource(config.url, *keys, **http)
    return CachedSource(source, config.cache_seconds) if config.cache_seconds else source
