""""Where is my order?" from each shop platform, through the real gateway and Rasa: the gateway's
order source speaks to a local fake of PrestaShop, Shopify or WooCommerce (their own protocol),
in French and in English; a wrong proof, an unknown number and a shop that is down each get
their own honest reply, and nothing of the order leaks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.redis_server import RedisServer
from shop.sources.prestashop import REFERENCE
from shop.sources.shopify import NAME
from shop.sources.woocommerce import NUMBER
from tests.e2e.conftest import Shopper
from tests.fakes.shop_apis import FakePrestaShop, FakeShop, FakeShopify, FakeWooCommerce
from tests.stack import OPEN_ALWAYS, Gateway, Rasa, shop_yaml, stack

# platform -> (fake, the keys' environment, number, e-mail of its owner, postcode, carrier, link start)
PLATFORMS: dict[str, tuple[type[FakeShop], Any, str, str, str, str, str]] = {
    "prestashop": (FakePrestaShop, lambda f: {"PRESTASHOP_API_KEY": f.key}, "XKBKNABJK",
                   "anna.martin@exemple.fr", "75002", "Colissimo", "https://www.laposte.fr/"),
    "shopify": (FakeShopify, lambda f: {"SHOPIFY_ACCESS_TOKEN": f.token}, "#1001",
                "anna.martin@exemple.fr", "75002", "Colissimo", "https://www.laposte.fr/"),
    "woocommerce": (FakeWooCommerce, lambda f: {"WOOCOMMERCE_CONSUMER_KEY": f.key,
                                                "WOOCOMMERCE_CONSUMER_SECRET": f.secret}, "727",
                    "anna.martin@exemple.fr", "75002", "Chronopost", "https://www.chronopost.fr/"),
}


ShopStack = tuple[str, FakeShop, Rasa, Gateway]   # platform, its fake, Rasa, the gateway
EXAMPLES = {"prestashop": REFERENCE.example, "shopify": NAME.example, "woocommerce": NUMBER.example}


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


@pytest.fixture(scope="module", params=sorted(PLATFORMS))
def shop_stack(request: pytest.FixtureRequest, bot_model: Path, redis_server: RedisServer, shared_index: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopStack]:
    name = request.param
    fake_type, keys, *_ = PLATFORMS[name]
    with fake_type() as fake:
        tmp = tmp_path_factory.mktemp(f"orders-{name}")
        orders = {"source": name, "url": fake.base_url, "attempts": 2, "timeout_seconds": 2,
                  "cache_seconds": 60, **({"api_version": fake.version} if name == "shopify" else {})}
        config = tmp / "shop.yml"
        config.write_text(shop_yaml(OPEN_ALWAYS, {"orders": orders}), encoding="utf-8")
        gateway_and_rasa: tuple[Gateway, Rasa]
        with stack(redis_server.url, tmp, shop_config=config, index_dir=shared_index,
                   extra_env=keys(fake)) as gateway_and_rasa:
            yield name, fake, gateway_and_rasa[1], gateway_and_rasa[0]


def test_where_is_my_order_in_french_with_the_email(shop_stack: ShopStack) -> None:
    name, fake, bot, _ = shop_stack
    _, _, number, email, _, carrier, link = PLATFORMS[name]
    sender = f"fr-{uuid.uuid4().hex}"
    asked = texts(bot.say(sender, "Où en est ma commande ?"))
    assert "numéro de commande" in asked and EXAMPLES[name] in asked   # the shop's own format
    assert "adresse e-mail" in texts(bot.say(sender, number))
    said = texts(bot.say(sender, email.upper()))          # case does not matter
    assert f"Commande {number}" in said and "expédiée" in said and carrier in said and link in said
    assert "Paix" not in said and "0102030405" not in said     # no street address, no phone


def test_where_is_my_order_in_english_with_the_postcode(shop_stack: ShopStack) -> None:
    name, _, bot, _ = shop_stack
    _, _, number, _, postcode, carrier, link = PLATFORMS[name]
    sender = f"en-{uuid.uuid4().hex}"
    assert "order number" in texts(bot.say(sender, "Where is my order?"))
    assert "postcode" in texts(bot.say(sender, number))
    said = texts(bot.say(sender, postcode))
    assert f"Order {number}" in said and "shipped" in said and carrier in said and link in said


def test_a_wrong_email_shows_nothing_and_a_cached_repeat_costs_no_call(
        shop_stack: ShopStack) -> None:
    name, fake, bot, _ = shop_stack
    number = PLATFORMS[name][2]
    sender = f"wrong-{uuid.uuid4().hex}"
    bot.say(sender, "Où en est ma commande ?")
    bot.say(sender, number)
    said = texts(bot.say(sender, "curieux@ailleurs.example"))
    assert f"Je ne trouve pas de commande {number}" in said
    assert "expédiée" not in said and "Colissimo" not in said and "Chronopost" not in said
    before = len(fake.requests)
    other = f"again-{uuid.uuid4().hex}"           # asked again within a minute: the shop is not called
    bot.say(other, "Où en est ma commande ?")
    bot.say(other, number)
    bot.say(other, "curieux@ailleurs.example")
    assert len(fake.requests) == before


def test_a_shop_that_is_down_is_said_honestly_with_a_way_out(shop_stack: ShopStack) -> None:
    name, fake, bot, _ = shop_stack
    sender = f"down-{uuid.uuid4().hex}"
    bot.say(sender, "Where is my order?")
    unknown = {"prestashop": "ZZZZZZZZZ", "shopify": "#4242", "woocommerce": "4242"}[name]   # not cached
    bot.say(sender, unknown)
    fake.fail_next(20, 503)
    try:
        replies = bot.say(sender, "anna.martin@exemple.fr")
    finally:
        fake.reset()
    said = texts(replies)
    assert "can't reach our order system" in said and "can't find" not in said
    assert any(r.get("buttons") for r in replies)        # a person, or a message to the team


def test_a_number_given_with_the_question_is_not_asked_again(
        shop_stack: ShopStack) -> None:
    """Through the gateway: it reads the number in the shop's own format in the first message
    (shop/order_numbers.py `find_marked`) and tells Rasa, whose NLU only knows the demo's: the
    bot goes straight to the proof question (bot/components/metadata.py)."""
    name, _, _, gw = shop_stack
    number, email = PLATFORMS[name][2], PLATFORMS[name][3]
    typed = {"woocommerce": f"#{number}"}.get(name, number)          # bare digits would be asked about
    shopper = Shopper(gw.url.replace("http", "ws", 1) + "/ws/chat")
    try:
        shopper.say(f"Bonjour, où en est ma commande {typed} ?")
        asked = shopper.wait_message("bot")["text"]
        assert "adresse e-mail" in asked and "numéro de commande" not in asked, asked
        shopper.say(email)
        said = shopper.wait_message("bot", f"Commande {number}")["text"]
        assert "expédiée" in said
    finally:
        shopper.close()
