"""Issue 18: every way a shop's order system fails gets its own shopper reply through the
gateway's order action, and nothing of the order leaks (the shop is a local fake speaking its
platform's protocol; the gateway, its order gate and Redis are real)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from retrieval.service import RetrievalService
from tests.fakes.shop_apis import FakeShop, FakeShopify, FakeWooCommerce
from tests.gateway.actions_client import REPO, TOKEN, call, responses

LEAKS = ("Chronopost", "Colissimo", "75002", "anna.martin", "rue de la Paix", "0102030405", "XY123456789FR")


@pytest.fixture(scope="module")
def woo() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as fake:
        yield fake


@pytest.fixture(scope="module")
def shopify() -> Iterator[FakeShopify]:
    with FakeShopify() as fake:
        yield fake


def _gateway(app_factory: Callable[..., Any], retrieval: RetrievalService, fake: FakeShop, tmp: Path,
             monkeypatch: pytest.MonkeyPatch) -> TestClient:
    shop = yaml.safe_load((REPO / "config" / "shop.yml").read_text(encoding="utf-8"))
    shop["orders"] = {"source": fake.name, "url": fake.base_url, "attempts": 2, "timeout_seconds": 0.5,
                      **({"api_version": fake.version} if isinstance(fake, FakeShopify) else {})}
    (tmp / "shop.yml").write_text(yaml.safe_dump(shop, allow_unicode=True), encoding="utf-8")
    if isinstance(fake, FakeWooCommerce):
        monkeypatch.setenv("WOOCOMMERCE_CONSUMER_KEY", fake.key)
        monkeypatch.setenv("WOOCOMMERCE_CONSUMER_SECRET", fake.secret)
    else:
        monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", fake.token)
    return TestClient(app_factory(retrieval=retrieval, action_token=TOKEN, shop_config=tmp / "shop.yml"))


def _script(fake: FakeShop, trouble: str) -> None:
    fake.reset()
    if trouble == "down":
        fake.fail_next(50, 503)
    elif trouble == "timeout":
        fake.slow_next(50, 2.0)
    elif trouble == "malformed":
        fake.garbage_next(50)
    elif trouble == "throttled":
        fake.throttled = 10


@pytest.mark.parametrize(("platform", "number", "proof", "trouble", "expected"), [
    ("woocommerce", "727", "anna.martin@exemple.fr", "", "utter_order_status"),       # the premise
    ("woocommerce", "727", "someone@else.example", "", "utter_order_unknown"),       # wrong e-mail
    ("woocommerce", "99999", "anna.martin@exemple.fr", "", "utter_order_unknown"),   # unknown number
    ("woocommerce", "727", "anna.martin@exemple.fr", "down", "utter_order_source_down"),
    ("woocommerce", "727", "anna.martin@exemple.fr", "timeout", "utter_order_source_down"),
    ("woocommerce", "727", "anna.martin@exemple.fr", "malformed", "utter_order_source_down"),
    ("shopify", "#1001", "anna.martin@exemple.fr", "throttled", "utter_order_source_down"),
])
def test_each_failure_gets_its_reply_and_nothing_leaks(
        app_factory: Callable[..., Any], retrieval_service: RetrievalService, woo: FakeWooCommerce,
        shopify: FakeShopify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, number: str,
        proof: str, trouble: str, expected: str) -> None:
    fake: FakeShop = woo if platform == "woocommerce" else shopify
    _script(fake, trouble)
    try:
        with _gateway(app_factory, retrieval_service, fake, tmp_path, monkeypatch) as client:
            res = call(client, "action_order_status", proof, lang="en",
                       slots={"order_number": number, "order_proof": proof}, sender=f"{platform}-{trouble}")
            replies = responses(res)
    finally:
        fake.reset()
        if isinstance(fake, FakeShopify):
            fake.throttled = 0
    assert replies[0]["response"] == expected
    said = repr(replies)
    if expected != "utter_order_status":
        assert not [leak for leak in LEAKS if leak in said], said
    if expected == "utter_order_source_down":          # an outage is never "no such order"
        assert replies[1]["response"].startswith("utter_offer_")
