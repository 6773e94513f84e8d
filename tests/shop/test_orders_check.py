"""`python -m shop orders check`: a shop owner learns in words whether their order source works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shop.__main__ import main
from tests.fakes.shop_apis import FakePrestaShop, FakeShopify, FakeWooCommerce

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prestashop() -> Iterator[FakePrestaShop]:
    with FakePrestaShop() as shop:
        yield shop


def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orders: str) -> None:
    path = tmp_path / "shop.yml"
    path.write_text(
        (REPO / "config" / "shop.yml").read_text(encoding="utf-8") + "\n" + orders, encoding="utf-8"
    )
    monkeypatch.setenv("SHOP_CONFIG", str(path))


def test_a_working_prestashop_is_said_ok_without_printing_secrets(
    prestashop: FakePrestaShop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(tmp_path, monkeypatch, f"orders:\n  source: prestashop\n  url: {prestashop.base_url}\n")
    assert main(["orders", "check", "--number", "XKBKNABJK"], env={"PRESTASHOP_API_KEY": prestashop.key}) == 0
    out = capsys.readouterr().out
    assert "OK: order XKBKNABJK: shipped, Colissimo, tracking link" in out
    assert "e-mail yes" in out and "numbers look like XKBKNABJK" in out
    assert prestashop.key not in out and "Anna" not in out and "75002" not in out


@pytest.mark.parametrize(
    ("env", "setup", "code", "words"),
    [
        ({}, None, 1, "set PRESTASHOP_API_KEY"),
        ({"PRESTASHOP_API_KEY": "WRONG"}, None, 2, "refused: prestashop: the webservice key was refused"),
        (None, "disabled", 2, "the webservice is disabled"),
        (None, "down", 3, "unreachable"),
    ],
)
def test_each_problem_is_said_in_words(
    prestashop: FakePrestaShop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str] | None,
    setup: str | None,
    code: int,
    words: str,
) -> None:
    configure(
        tmp_path, monkeypatch, f"orders:\n  source: prestashop\n  url: {prestashop.base_url}\n  attempts: 1\n"
    )
    prestashop.reset()
    prestashop.disabled = setup == "disabled"
    if setup == "down":
        prestashop.fail_next(5, 503)
    try:
        assert (
            main(["orders", "check"], env={"PRESTASHOP_API_KEY": prestashop.key} if env is None else env)
            == code
        )
    finally:
        prestashop.disabled = False
        prestashop.reset()
    assert words in capsys.readouterr().out


def test_shopify_missing_scope_and_woocommerce_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeShopify() as shopify, FakeWooCommerce() as woo:
        shopify.scopes = set()
        configure(
            tmp_path,
            monkeypatch,
            f"orders:\n  source: shopify\n  url: {shopify.base_url}\n  api_version: '{shopify.version}'\n",
        )
        assert main(["orders", "check"], env={"SHOPIFY_ACCESS_TOKEN": shopify.token}) == 2
        assert "read_orders" in capsys.readouterr().out
        configure(tmp_path, monkeypatch, f"orders:\n  source: woocommerce\n  url: {woo.base_url}\n")
        env = {"WOOCOMMERCE_CONSUMER_KEY": woo.key, "WOOCOMMERCE_CONSUMER_SECRET": woo.secret}
        assert main(["orders", "check", "--number", "5555"], env=env) == 0
        assert "has no order 5555" in capsys.readouterr().out


def test_a_wrong_orders_section_names_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(tmp_path, monkeypatch, "orders:\n  source: magento\n")
    assert main(["orders", "check"], env={}) == 1
    assert "orders.source" in capsys.readouterr().out


def test_the_demo_source_is_checked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    configure(tmp_path, monkeypatch, "")
    assert main(["orders", "check", "--number", "AL-482913"], env={}) == 0
    out = capsys.readouterr().out
    assert "order source: demo (config/demo_orders.yml)" in out and "OK: order AL-482913: shipped" in out
