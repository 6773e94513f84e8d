"""`python -m shop orders check [--number N]`: does the shop's order source work?

For a shop owner setting up PrestaShop, Shopify or WooCommerce: reads `orders` in config/shop.yml
(SHOP_CONFIG) and the key from the environment, then makes one real lookup (the number given, or
one that cannot exist, whose "not found" proves the address and the key). Says what is wrong in
words (wrong key, webservice disabled, missing scope, unreachable) and exits non-zero. Never
prints a key, an e-mail address or a postcode.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping

from .config import load_shop_config
from .sources import SourceError, SourceMisconfigured, build_source
from .sources.settings import SECRETS

OK, CONFIG, REFUSED, UNREACHABLE = 0, 1, 2, 3


async def _check(number: str | None, env: Mapping[str, str]) -> int:
    config = load_shop_config().orders
    where = f"({env.get('ORDERS_FILE') or 'config/demo_orders.yml'})" if config.source == "demo" else \
        f"at {config.url}"
    print(f"order source: {config.source} {where}")
    missing = [name for name in SECRETS.get(config.source, ()) if not env.get(name)]
    if missing:
        print(f"error: set {' and '.join(missing)} in the environment (keys are never read from files)")
        return CONFIG
    try:
        source = build_source(config, env)
    except SourceError as exc:
        print(f"error: {exc}")
        return CONFIG
    sample = number or source.numbers.example
    try:
        orders = await source.lookup(sample)
    except SourceMisconfigured as exc:
        print(f"refused: {exc}")
        return REFUSED
    except SourceError as exc:
        print(f"unreachable: {exc}")
        return UNREACHABLE
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
    print(f"order numbers look like {source.numbers.example}")
    if number is None:
        print(f"OK: the shop answered (a lookup of {sample} found {len(orders)} order(s))")
    elif not orders:
        print(f"OK: the shop answered, but has no order {sample}")
    for order in orders:
        print(
            f"OK: order {order.number}: {order.status}"
            + (f", {order.carrier}" if order.carrier else "")
            + (", tracking link" if order.tracking_url else ", no tracking link")
            + f"; proof of ownership on file: e-mail {'yes' if order.email else 'NO'}, "
            f"postcode {'yes' if order.postcode else 'NO'}"
        )
    return OK


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shop", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    orders = commands.add_parser("orders", help="the shop's order source")
    actions = orders.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="check the configuration with one real lookup")
    check.add_argument("--number", help="an order number to look up (default: one that cannot exist)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_check(args.number, os.environ if env is None else env))
    except (ValueError, FileNotFoundError) as exc:  # config/shop.yml itself is wrong
        print(f"error: {exc}")
        return CONFIG


if __name__ == "__main__":
    sys.exit(main())
