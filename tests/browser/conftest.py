"""Browser fixtures: Debian's headless Chromium driven by Playwright (never a downloaded
browser build), against real Redis, Rasa and gateway processes; screenshots in var/screenshots.

`make test` installs the `chromium` package when it is missing (Makefile, `browser` target).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from ops.redis_server import RedisServer
from tests.bot.conftest import bot_model, closed_shop, open_shop, shared_index  # noqa: F401  (fixtures)
from tests.stack import REPO, Gateway, Rasa, stack

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "var" / "screenshots"
AXE = Path(__file__).with_name("assets") / "axe.min.js"
# Flags for a closed network: no background calls home, no first-run, no QUIC.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
XSS = "<img src=x onerror=alert(1)>"
MAILGUN_KEY = "browser-tests-mailgun-signing-key"     # the e-mail channel, fed by its webhook
SUPPORT_ADDRESS = "support@atelier-lumen.fr"


# Module scope: the sync API runs an event loop on the main thread while it is open, and
# tests after the browser modules call asyncio.run(), which refuses to nest in it.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: `make test` installs Debian's chromium package")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context (own localStorage) that fails the test on any JS dialog (XSS canary).
    Its browser speaks English (en-US, Chromium's own default, said explicitly): the console and
    the dashboard show English until an account chooses otherwise."""
    with browser_in(browser, "en-US") as page:
        yield page


@contextmanager
def browser_in(browser: Browser, locale: str) -> Iterator[Page]:
    """A page in a fresh context whose browser language is `locale` (navigator.language, Intl),
    failing on any JS dialog like `page`."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale=locale)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
    assert not dialogs, f"a dialog fired (script injection?): {dialogs}"


@pytest.fixture(scope="session")
def browser_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kb_content plus one hostile entry: its answer carries raw HTML and a javascript: link."""
    dest = tmp_path_factory.mktemp("browser-kb") / "kb_content"
    shutil.copytree(REPO / "kb_content", dest)
    (dest / "en" / "zz-hostile-en.md").write_text(
        "---\nid: hostile-test-en\nlang: en\nreason: " + _any_reason(dest) + "\nquestions:\n"
        "  - what does the zebra pattern cushion look like\n  - zebra pattern cushion look\n"
        "  - tell me about the zebra cushion pattern\n---\n"
        f"The zebra cushion {XSS} is **striped**. [Click me](javascript:alert(2)) "
        "and [our site](https://shop.example/zebra).\n", encoding="utf-8")
    return dest


def _any_reason(kb: Path) -> str:
    import yaml

    for path in sorted((kb / "en").rglob("*.md")):
        head = path.read_text(encoding="utf-8").split("---")[1]
        return str(yaml.safe_load(head)["reason"])
    raise AssertionError("no English entry")


@pytest.fixture(scope="session")
def live(bot_model: Path, open_shop: Path, shared_index: Path, browser_kb: Path,  # noqa: F811
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Rasa, RedisServer]]:
    """The whole product, open for business, with its own Redis; e-mail comes in by the
    provider's webhook (no SMTP: nothing goes out)."""
    tmp = tmp_path_factory.mktemp("browser-stack")
    with RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as redis, \
            stack(redis.url, tmp, shop_config=open_shop, index_dir=tmp / "index",
                  extra_env={"KB_DIR": str(browser_kb), "MAIL_SECRET": "browser-tests-mail-secret-0123",
                             "MAIL_ADDRESS": SUPPORT_ADDRESS, "MAILGUN_SIGNING_KEY": MAILGUN_KEY,
                             "MAIL_DIR": str(tmp / "mail"),
                             "KB_VERSIONS_DIR": str(tmp / "kb-versions")}) as (gw, bot):
        yield gw, bot, redis


@pytest.fixture(scope="session")
def simulated_month(live: tuple[Gateway, Rasa, RedisServer]) -> None:
    """A realistic month of analytics in the live stack's Redis (`python -m analytics simulate`),
    once per session, for the dashboard's tests."""
    res = subprocess.run([sys.executable, "-m", "analytics", "simulate", "--days", "30", "--seed", "1",
                          "--per-day", "15", "--end", date.today().isoformat()], cwd=REPO,
                         capture_output=True, text=True, timeout=240,
                         env={**os.environ, "REDIS_URL": live[2].url})
    assert res.returncode == 0, res.stderr


def poll(check: Callable[[], Any], what: str, *, timeout: float = 60, page: Page | None = None) -> Any:
    """Polls a condition outside the browser (HTTP, routed frames). With `page`, waits through
    Playwright so that its event loop keeps running (route handlers) meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if page is not None:
            page.wait_for_timeout(150)
        else:
            time.sleep(0.2)


def screenshot(page: Page, name: str, **kwargs: Any) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **kwargs)
    return path


SETTLE_ANIMATIONS = """() => {
  const roots = [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)];
  const all = new Set(roots.flatMap(r => r.getAnimations()));
  return Promise.all([...all]
    .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
    .map(a => a.finished.catch(() => null)));
}"""


def axe_violations(page: Page, context: str | None = None) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page (or inside `context` selector).
    axe-core is evaluated through the DevTools protocol, not a script tag: pages with a strict
    CSP (console, help) rightly refuse inline scripts."""
    # a panel that is still fading in has a lower contrast than the one a shopper reads: let every
    # finite animation (including those inside the widget's shadow root) end first
    page.evaluate(SETTLE_ANIMATIONS)
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate(
        "async (ctx) => (await axe.run(ctx ? document.querySelector(ctx) : document, "
        "{resultTypes: ['violations']})).violations", context)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result if v["impact"] in ("serious", "critical")]
