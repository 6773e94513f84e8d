"""Order sources: the demo file, PrestaShop, Shopify, WooCommerce, chosen by `orders.source`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .base import CachedSource, NumberFormat, OrderSource, SourceError, SourceMisconfigured
from .settings import OrdersConfig

__all__ = [
    "CachedSource",
    "NumberFormat",
    "OrderSource",
    "SourceError",
    "SourceMisconfigured",
    "OrdersConfig",
    "build_source",
]


def build_source(
    config: OrdersConfig, env: Mapping[str, str] | None = None, *, demo_file: str | None = None, **client: Any
) -> OrderSource:
    """The configured source, cached `config.cache_seconds`; secrets from `env` (os.environ).
    `client`: extra settings for the HTTP client (tests pass a transport or a shorter backoff)."""
    env = os.environ if env is None else env
    http = {"timeout": config.timeout_seconds, "attempts": config.attempts, **client}
    source: OrderSource
    if config.source == "prestashop":
        from .prestashop import PrestaShopSource

        source = PrestaShopSource(
            config.url,
            env.get("PRESTASHOP_API_KEY", ""),
            carriers=config.carriers,
            status_map=config.status_map,
            **http,
        )
    elif config.source == "shopify":
        from .shopify import ShopifySource

        source = ShopifySource(
            config.url,
            env.get("SHOPIFY_ACCESS_TOKEN", ""),
            api_version=config.api_version,
            carriers=config.carriers,
            **http,
        )
    elif config.source == "woocommerce":
        from .woocommerce import WooCommerceSource

        source = WooCommerceSource(
            config.url,
            env.get("WOOCOMMERCE_CONSUMER_KEY", ""),
            env.get("WOOCOMMERCE_CONSUMER_SECRET", ""),
            carriers=config.carriers,
            **http,
        )
    else:
        from shop.orders import DemoOrderSource

        return DemoOrderSource(demo_file or config.demo_file)  # a local file: nothing to cache
    return CachedSource(source, config.cache_seconds) if config.cache_seconds else source
