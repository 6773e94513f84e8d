"""The shops' order sources against local fakes that speak each platform's protocol: the lookups,
the statuses, the tracking links, and every way a shop's API fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from shop.sources import CachedSource, SourceError, SourceMisconfigured, build_source
from shop.sources.http import require_https
from shop.sources.prestashop import REFERENCE, PrestaShopSource, state_status
from shop.sources.settings import OrdersConfig, parse_orders
from shop.sources.shopify import ShopifySource
from shop.sources.tracking import tracking_link
from shop.sources.woocommerce import WooCommerceSource
from tests.fakes.shop_apis import PS_STATES, FakePrestaShop, FakeShopify, FakeWooCommerce

FAST = {"backoff": 0.01, "max_backoff": 0.02, "timeout": 1.0}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _lookup(source: Any, number: str) -> Any:
    try:
        return await source.lookup(number)
    finally:
        await source.aclose()


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Any]]:
    with FakePrestaShop() as p, FakeShopify() as s, FakeWooCommerce() as w:
        yield {"prestashop": p, "shopify": s, "woo": w}


def _fresh(shop: Any) -> Any:
    shop.reset()
    for attr, value in (
        ("disabled", False),
        ("throttled", 0),
        ("tracking_extension", True),
        ("scopes", {"read_orders"}),
    ):
        if hasattr(shop, attr):
            setattr(shop, attr, value)
    return shop


@pytest.fixture
def prestashop(servers: dict[str, Any]) -> FakePrestaShop:
    return _fresh(servers["prestashop"])


@pytest.fixture
def shopify(servers: dict[str, Any]) -> FakeShopify:
    return _fresh(servers["shopify"])


@pytest.fixture
def woo(servers: dict[str, Any]) -> FakeWooCommerce:
    return _fresh(servers["woo"])


def ps(shop: FakePrestaShop, key: str | None = None, **kw: Any) -> PrestaShopSource:
    return PrestaShopSource(shop.base_url, shop.key if key is None else key, **{**FAST, **kw})


def sf(shop: FakeShopify, token: str | None = None, **kw: Any) -> ShopifySource:
    async def no_sleep(_: float) -> None:
        return None

    return ShopifySource(
        shop.base_url,
        shop.token if token is None else token,
        api_version=shop.version,
        sleep=no_sleep,
        **{**FAST, **kw},
    )


def wc(shop: FakeWooCommerce, secret: str | None = None, **kw: Any) -> WooCommerceSource:
    return WooCommerceSource(
        shop.base_url, shop.key, shop.secret if secret is None else secret, **{**FAST, **kw}
    )


# -- PrestaShop ------------------------------------------------------------------------------------


def test_prestashop_a_reference_covering_two_orders_gives_both(prestashop: FakePrestaShop) -> None:
    orders = run(_lookup(ps(prestashop), "xkbknabjk"))
    assert [o.status for o in orders] == ["shipped", "confirmed"]
    first = orders[0]
    assert first.number == "XKBKNABJK" and first.carrier == "Colissimo"
    assert (
        first.tracking_url == "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901"
    )  # "@" filled
    assert first.email == "Anna.Martin@Exemple.fr" and first.postcode == "75002"
    assert orders[1].tracking_url == ""  # not shipped yet: no tracking number
    # the webservice was asked in JSON, with its filter syntax
    assert any(
        "filter%5Breference%5D=%5BXKBKNABJK%5D" in r and "output_format=JSON" in r
        for r in prestashop.requests
    )


def test_prestashop_an_unknown_reference_is_an_empty_list_from_a_bare_array(
    prestashop: FakePrestaShop,
) -> None:
    assert run(_lookup(ps(prestashop), "ZZZZZZZZZ")) == []
    assert run(_lookup(ps(prestashop), "not a ref")) == []  # not a reference: no call at all
    assert len(prestashop.requests) == 1


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (1, "awaiting_payment"),
        (2, "confirmed"),
        (3, "confirmed"),
        (4, "shipped"),
        (5, "delivered"),
        (6, "cancelled"),
        (7, "refunded"),
        (8, "on_hold"),
    ],
)
def test_prestashop_statuses_come_from_flags_and_templates_not_ids(state: int, status: str) -> None:
    assert state_status(PS_STATES[state]) == status


def test_prestashop_a_custom_in_transit_state_is_not_delivered() -> None:
    custom = {"paid": "1", "shipped": "1", "delivery": "1", "template": "", "name": "Livraison en cours"}
    assert state_status(custom) == "shipped"


def test_prestashop_the_owner_can_map_a_state_id(prestashop: FakePrestaShop) -> None:
    (order,) = run(_lookup(ps(prestashop, status_map={"5": "out_for_delivery"}), "QWERTYUIO"))
    assert order.status == "out_for_delivery"


def test_prestashop_a_carrier_without_url_gets_the_configured_table(prestashop: FakePrestaShop) -> None:
    (order,) = run(
        _lookup(
            ps(prestashop, carriers={"transporteur maison": "https://track.example/{number}"}), "QWERTYUIO"
        )
    )
    assert order.status == "delivered" and order.tracking_url == "https://track.example/MAISON-42"


def test_prestashop_a_wrong_key_is_a_configuration_error(prestashop: FakePrestaShop) -> None:
    with pytest.raises(SourceMisconfigured, match="401.*Invalid authentication key"):
        run(_lookup(ps(prestashop, key="WRONG"), "XKBKNABJK"))
    assert len(prestashop.requests) == 1  # not retried


def test_prestashop_a_disabled_webservice_says_so(prestashop: FakePrestaShop) -> None:
    prestashop.disabled = True
    with pytest.raises(SourceMisconfigured, match="disabled"):
        run(_lookup(ps(prestashop), "XKBKNABJK"))


# -- Shopify ---------------------------------------------------------------------------------------


def test_shopify_finds_the_order_by_name_and_reads_its_fulfilment(shopify: FakeShopify) -> None:
    (order,) = run(_lookup(sf(shopify), "1001"))
    assert (order.number, order.status, order.carrier, order.eta) == (
        "#1001",
        "shipped",
        "Colissimo",
        "2026-12-09",
    )
    assert order.tracking_url.endswith("code=6A98765432109")
    assert order.email == "anna.martin@exemple.fr" and order.postcode == "75002"


def test_shopify_keeps_only_the_exact_name(shopify: FakeShopify) -> None:
    orders = run(_lookup(sf(shopify), "#1002"))  # the search also returns #10021
    assert [o.number for o in orders] == ["#1002"] and orders[0].status == "confirmed"


def test_shopify_cancelled_wins(shopify: FakeShopify) -> None:
    (order,) = run(_lookup(sf(shopify), "#1003"))
    assert order.status == "cancelled"


def test_shopify_throttled_waits_then_answers(shopify: FakeShopify) -> None:
    shopify.throttled = 2
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    source = ShopifySource(shopify.base_url, shopify.token, api_version=shopify.version, sleep=sleep, **FAST)
    (order,) = run(_lookup(source, "#1001"))
    assert order.number == "#1001"
    assert waits == [pytest.approx(0.1), pytest.approx(0.1)]  # (12 requested - 2 available) / 100 per s


def test_shopify_throttled_for_too_long_is_an_outage(shopify: FakeShopify) -> None:
    shopify.throttled = 10
    with pytest.raises(SourceError, match="throttled"):
        run(_lookup(sf(shopify), "#1001"))


def test_shopify_a_missing_scope_and_a_wrong_token_are_configuration_errors(shopify: FakeShopify) -> None:
    shopify.scopes = set()
    with pytest.raises(SourceMisconfigured, match="read_orders"):
        run(_lookup(sf(shopify), "#1001"))
    shopify.scopes = {"read_orders"}
    with pytest.raises(SourceMisconfigured, match="401"):
        run(_lookup(sf(shopify, token="shpat_wrong"), "#1001"))


# -- WooCommerce -----------------------------------------------------------------------------------


def test_woocommerce_reads_the_order_and_its_shipment_tracking(woo: FakeWooCommerce) -> None:
    (order,) = run(_lookup(wc(woo), "#727"))
    assert (order.number, order.status, order.carrier) == ("727", "shipped", "Chronopost")
    assert (
        order.tracking_url.startswith("https://www.chronopost.fr/") and "XY123456789FR" in order.tracking_url
    )
    assert order.email == "anna.martin@exemple.fr" and order.postcode == "75002"


def test_woocommerce_without_the_tracking_extension_still_answers(woo: FakeWooCommerce) -> None:
    woo.tracking_extension = False
    (order,) = run(_lookup(wc(woo), "727"))
    assert order.status == "shipped" and order.tracking_url == ""


@pytest.mark.parametrize(("number", "status"), [("728", "confirmed"), ("729", "on_hold")])
def test_woocommerce_statuses(woo: FakeWooCommerce, number: str, status: str) -> None:
    (order,) = run(_lookup(wc(woo), number))
    assert order.status == status


def test_woocommerce_an_unknown_id_is_not_found_and_a_wrong_secret_is_refused(woo: FakeWooCommerce) -> None:
    assert run(_lookup(wc(woo), "99999")) == []
    with pytest.raises(SourceMisconfigured, match="woocommerce_rest_cannot_view"):
        run(_lookup(wc(woo, secret="cs_wrong"), "727"))


# -- failures, the same for every platform ------------------------------------------------------------


def _sources(
    prestashop: FakePrestaShop, shopify: FakeShopify, woo: FakeWooCommerce
) -> list[tuple[Any, Any, str]]:
    return [
        (prestashop, lambda **kw: ps(prestashop, **kw), "XKBKNABJK"),
        (shopify, lambda **kw: sf(shopify, **kw), "#1001"),
        (woo, lambda **kw: wc(woo, **kw), "727"),
    ]


def test_a_brief_outage_is_retried(
    prestashop: FakePrestaShop, shopify: FakeShopify, woo: FakeWooCommerce
) -> None:
    for shop, make, number in _sources(prestashop, shopify, woo):
        shop.fail_next(2, 503)
        assert run(_lookup(make(), number)), shop.name
        assert len(shop.requests) >= 3, shop.name


def test_down_timeout_and_garbage_are_source_errors(
    prestashop: FakePrestaShop, shopify: FakeShopify, woo: FakeWooCommerce
) -> None:
    for shop, make, number in _sources(prestashop, shopify, woo):
        shop.fail_next(10, 502)   # every attempt of every call (some run side by side)
        with pytest.raises(SourceError, match="502"):
            run(_lookup(make(), number))
        shop.reset()
        shop.slow_next(10, 1.5)
        with pytest.raises(SourceError, match="timed out"):
            run(_lookup(make(timeout=0.3), number))
        shop.reset()
        shop.garbage_next(2)      # the order and what is fetched beside it
        with pytest.raises(SourceError, match="not JSON"):
            run(_lookup(make(attempts=1), number))
        shop.reset()


def test_the_breaker_opens_after_repeated_failures(woo: FakeWooCommerce) -> None:
    async def scenario() -> int:
        source = wc(woo, attempts=1, breaker_threshold=2)
        # the shop is down: every call fails, the order's and the tracking's sent alongside it
        # (2 scripted failures raced between those two calls: a lookup could get both)
        woo.fail_next(10, 503)
        for _ in range(2):
            with pytest.raises(SourceError):
                await source.lookup("727")
        before = len(woo.requests)
        with pytest.raises(SourceError, match="circuit open"):
            await source.lookup("727")
        await source.aclose()
        return len(woo.requests) - before

    assert run(scenario()) == 0  # open: the shop is not called at all


def test_a_cached_answer_costs_no_call(woo: FakeWooCommerce) -> None:
    now = [0.0]

    async def scenario() -> None:
        cached = CachedSource(wc(woo), seconds=60, clock=lambda: now[0])
        await cached.lookup("727")
        await cached.lookup("727")
        assert await cached.lookup("99999") == () and await cached.lookup("99999") == ()
        now[0] = 61
        await cached.lookup("727")
        await cached.aclose()

    run(scenario())
    orders = [r for r in woo.requests if "/wc/v3/orders/" in r]
    assert len(orders) == 3  # 727 once, 99999 once, 727 again after 60 s


# -- configuration ---------------------------------------------------------------------------------


def _error(where: str, message: str) -> ValueError:
    return ValueError(f"shop.yml: {where}: {message}")


def test_orders_config_is_validated() -> None:
    assert parse_orders(None, _error).source == "demo"
    with pytest.raises(ValueError, match="orders.source"):
        parse_orders({"source": "magento"}, _error)
    with pytest.raises(ValueError, match="orders.url"):
        parse_orders({"source": "shopify"}, _error)
    with pytest.raises(ValueError, match="orders.carriers"):
        parse_orders({"carriers": {"dpd": "http://dpd.example/{number}"}}, _error)
    with pytest.raises(ValueError, match="orders.status_map"):
        parse_orders({"status_map": {5: "teleported"}}, _error)
    config = parse_orders(
        {
            "source": "woocommerce",
            "url": "https://shop.example",
            "carriers": {"Geodis": "https://geodis.example/{number}"},
        },
        _error,
    )
    assert config.carriers["geodis"] and config.carriers["colissimo"]  # the defaults stay


def test_keys_only_from_the_environment_and_only_over_https(woo: FakeWooCommerce) -> None:
    config = OrdersConfig(source="woocommerce", url=woo.base_url)
    with pytest.raises(SourceError, match="WOOCOMMERCE_CONSUMER_KEY"):
        build_source(config, env={})
    source = build_source(
        config, env={"WOOCOMMERCE_CONSUMER_KEY": woo.key, "WOOCOMMERCE_CONSUMER_SECRET": woo.secret}
    )
    assert isinstance(source, CachedSource)
    assert run(_lookup(source, "727"))[0].number == "727"
    with pytest.raises(SourceMisconfigured, match="https"):
        require_https("http://shop.example", "orders.url")
    assert require_https("http://127.0.0.1:8080/", "orders.url") == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("carrier", "number", "expected"),
    [
        ("Colissimo Expert", "6A1", "https://www.laposte.fr/outils/suivre-vos-envois?code=6A1"),
        (
            "Mondial Relay",
            "123 456",
            "https://www.mondialrelay.fr/suivi-de-colis/?NumeroExpedition=123%20456",
        ),
        ("Pigeon voyageur", "1", ""),
        ("DPD", "", ""),
    ],
)
def test_tracking_links_from_the_carrier_table(carrier: str, number: str, expected: str) -> None:
    assert tracking_link("", carrier, number, OrdersConfig().carriers) == expected
    assert (
        tracking_link("https://own.example/t", carrier, number, OrdersConfig().carriers)
        == "https://own.example/t"
    )


@pytest.mark.parametrize(
    ("typed", "found"), [("ma commande XKBKNABJK merci", "XKBKNABJK"), ("la livraison est lente", None)]
)  # 9 letters, lower case
def test_a_prestashop_reference_in_a_sentence_must_be_in_capitals(typed: str, found: str | None) -> None:
    assert REFERENCE.find(typed) == found
