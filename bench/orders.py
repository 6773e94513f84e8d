"""`python -m bench.orders` (in `make bench`): "where is my order?" against each shop platform.

Each platform's fake (tests/fakes/shop_apis.py) answers every request after `--latency` ms, as a
shop far away would; the whole stack is real (Redis, gateway, Rasa). For each platform, `-n`
shoppers go through the order form and the turn that gives the proof (the lookup itself) is
timed; then the same lookups again within the cache's minute. Prints the lookup turn's p50 /
p95 against the target (latency + 150 ms) and the calls the repeats cost the shop (target 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ops.redis_server import RedisServer
from ops.train import train
from tests.fakes.shop_apis import FakePrestaShop, FakeShop, FakeShopify, FakeWooCommerce
from tests.stack import OPEN_ALWAYS, Rasa, shop_yaml, stack


def _orders(fake: FakeShop, n: int) -> list[tuple[str, str]]:
    """`n` orders of the platform's shape added to the fake: (number, owner's e-mail)."""
    out = []
    for i in range(n):
        email = f"bench{i}@exemple.fr"
        if isinstance(fake, FakeWooCommerce):
            fake.orders[5000 + i] = {
                "id": 5000 + i,
                "number": str(5000 + i),
                "status": "completed",
                "billing": {"email": email, "postcode": "75002"},
                "shipping": {},
            }
            out.append((str(5000 + i), email))
        elif isinstance(fake, FakeShopify):
            name = f"#{70000 + i}"
            fake.orders.append({**fake.orders[0], "name": name, "email": email})
            out.append((name, email))
        elif isinstance(fake, FakePrestaShop):
            ref = "".join(chr(65 + (i // 26**k) % 26) for k in range(4)) + "BENCH"
            fake.orders.append(
                {**fake.orders[0], "id": 900 + i, "reference": ref, "id_customer": str(100 + i)}
            )
            fake.customers[100 + i] = {"email": email}
            out.append((ref, email))
    return out


def _keys(fake: FakeShop) -> dict[str, str]:
    if isinstance(fake, FakePrestaShop):
        return {"PRESTASHOP_API_KEY": fake.key}
    if isinstance(fake, FakeShopify):
        return {"SHOPIFY_ACCESS_TOKEN": fake.token}
    assert isinstance(fake, FakeWooCommerce)
    return {"WOOCOMMERCE_CONSUMER_KEY": fake.key, "WOOCOMMERCE_CONSUMER_SECRET": fake.secret}


def _lookup(bot: Rasa, number: str, email: str) -> tuple[float, str]:
    sender = f"bench-{uuid.uuid4().hex}"
    bot.say(sender, "Where is my order?")
    bot.say(sender, number)
    start = time.perf_counter()
    replies = bot.say(sender, email)
    return (time.perf_counter() - start) * 1000, "\n".join(r.get("text", "") for r in replies)


def _pct(values: list[float], q: float) -> float:
    return (
        round(statistics.quantiles(values, n=100)[int(q) - 1], 1) if len(values) > 1 else round(values[0], 1)
    )


def run(name: str, fake: FakeShop, n: int, latency_ms: float, redis_url: str, tmp: Path) -> dict[str, Any]:
    orders = _orders(fake, n)
    config = tmp / f"{name}.yml"
    settings = {
        "source": name,
        "url": fake.base_url,
        "cache_seconds": 600,
        **({"api_version": fake.version} if isinstance(fake, FakeShopify) else {}),
    }
    # the lookup budgets are for shoppers, not for a benchmark that looks up many orders from one place
    budgets = {"per_conversation": 100, "per_client": 10000, "per_order": 10000, "window_minutes": 60}
    config.write_text(
        shop_yaml(OPEN_ALWAYS, {"orders": settings, "order_lookups": budgets}), encoding="utf-8"
    )
    (tmp / name).mkdir(parents=True, exist_ok=True)
    with stack(redis_url, tmp / name, shop_config=config, extra_env=_keys(fake)) as (_, bot):
        _lookup(bot, *orders[0])  # warm up (Rasa's first turn, the connections)
        fake.latency = latency_ms / 1000
        first, wrong = [], 0
        for number, email in orders:
            ms, said = _lookup(bot, number, email)
            first.append(ms)
            wrong += number not in said
        calls = len(fake.requests)
        again = [_lookup(bot, number, email)[0] for number, email in orders]
        repeat_calls = len(fake.requests) - calls
        fake.latency = 0.0
    return {
        "platform": name,
        "lookups": n,
        "latency_ms": latency_ms,
        "p50_ms": _pct(first, 50),
        "p95_ms": _pct(first, 95),
        "target_p95_ms": latency_ms + 150,
        "cached_p95_ms": _pct(again, 95),
        "calls_on_repeat": repeat_calls,
        "wrong_replies": wrong,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.orders", description=__doc__)
    p.add_argument("-n", type=int, default=30, help="lookups per platform")
    p.add_argument("--latency", type=float, default=50.0, help="the fake shops' latency per request (ms)")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = p.parse_args(argv)
    train()
    tmp = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    rows = []
    with RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as redis_server:
        for name, fake_type in (
            ("prestashop", FakePrestaShop),
            ("shopify", FakeShopify),
            ("woocommerce", FakeWooCommerce),
        ):
            print(f"{name}: starting the stack and {args.n} lookups...", file=sys.stderr, flush=True)
            with fake_type() as fake:
                rows.append(run(name, fake, args.n, args.latency, redis_server.url, tmp))
    print(f"## Order lookups through the bot, each shop answering after {args.latency:g} ms\n")
    print("| platform | lookup turn p50 | p95 | target p95 | cached repeat p95 | calls on repeat | wrong |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['platform']} | {r['p50_ms']} ms | **{r['p95_ms']} ms** | < {r['target_p95_ms']:g} ms | "
            f"{r['cached_p95_ms']} ms | {r['calls_on_repeat']} | {r['wrong_replies']} |"
        )
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
