"""`python -m bench.widget` (part of `make bench`): the chat widget's weight and start-up time.

Size: widget/widget.js raw and gzipped (what a shop's visitors download; target < 30 KB gz).
Start-up: Debian's headless Chromium loads the demo shop page `/demo` (served by a real gateway
on a real Redis; Rasa is not needed, the widget only opens its socket when a shopper has a
conversation) N times, each in a fresh browser context (empty storage and HTTP cache), and
reads the `performance.mark` the widget sets once its launcher is on screen and usable
("shop-support-ready"), measured from navigation start. Also reported: the page's own `load` event,
and the time to a connected, resumed conversation ("shop-support-connected": welcome + history)
for a returning shopper whose conversation id is in localStorage.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gateway.pages import widget_script
from ops.redis_server import RedisServer
from tests.stack import REPO, gateway

CHROMIUM = Path("/usr/bin/chromium")
TARGET_GZ_KB = 30
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]  # as tests/browser/conftest.py: a closed network, no calls home
READY_JS = """() => new Promise(resolve => {
  const read = () => {
    const ready = performance.getEntriesByName('shop-support-ready')[0];
    const nav = performance.getEntriesByType('navigation')[0];
    if (ready && nav && nav.loadEventEnd > 0) resolve({ready: ready.startTime, load: nav.loadEventEnd});
    else setTimeout(read, 10);
  };
  read();
})"""
CONNECTED_JS = """() => new Promise(resolve => {
  const read = () => {
    const m = performance.getEntriesByName('shop-support-connected')[0];
    if (m) resolve(m.startTime); else setTimeout(read, 10);
  };
  read();
})"""


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def sizes() -> tuple[int, int]:
    raw = widget_script()[0]   # as served: with both languages' texts from locales/
    return len(raw), len(gzip.compress(raw, compresslevel=9))


def stats(values: list[float]) -> tuple[float, float]:
    return round(float(np.median(values)), 1), round(float(np.percentile(values, 95)), 1)


def measure(base_url: str, loads: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"ready": [], "load": [], "connected": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            for i in range(loads + 1):  # the first load warms the gateway and the OS caches: not counted
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"{base_url}/demo", wait_until="load")
                timing = page.evaluate(READY_JS)
                if i:
                    out["ready"].append(timing["ready"])
                    out["load"].append(timing["load"])
                # a returning shopper: same context (the conversation id is in localStorage)
                page.evaluate("() => window.ShopSupport.open()")
                page.wait_for_function("() => performance.getEntriesByName('shop-support-connected').length")
                page.reload(wait_until="load")
                connected = page.evaluate(CONNECTED_JS)
                if i:
                    out["connected"].append(connected)
                context.close()
        finally:
            browser.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loads", type=int, default=15, help="page loads timed")
    args = p.parse_args()
    raw, gz = sizes()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} missing: `make test` installs Debian's chromium package")
    tmp = Path(tempfile.mkdtemp(prefix="bench-widget-"))
    log(f"bench.widget: starting Redis and the gateway (logs in {tmp})")
    started = time.perf_counter()
    with RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as redis, \
            gateway(redis.url, tmp, shop_config=REPO / "config" / "shop.yml") as gw:
        log(f"  gateway up in {time.perf_counter() - started:.0f} s; {args.loads} loads of /demo")
        timings = measure(gw.url, args.loads)
    ready, load, connected = (stats(timings[k]) for k in ("ready", "load", "connected"))

    print("## Chat widget: size and start-up\n")
    print("`widget/widget.js`, one file, no build step, no dependency (served with its texts from "
          "`locales/`, gzipped by the CDN or reverse proxy in front of the gateway).\n")
    print("| file | raw | gzip -9 | target |\n|---|---|---|---|")
    verdict = "ok" if gz < TARGET_GZ_KB * 1024 else "**over**"
    print(f"| widget.js | {raw / 1024:.1f} KB | {gz / 1024:.1f} KB | < {TARGET_GZ_KB} KB gz ({verdict}) |\n")
    print(f"Headless Chromium (Debian), {args.loads} loads of the demo shop page `/demo` from a local "
          "gateway (loopback, fresh browser context each time, after one uncounted warm-up load); times from "
          "navigation start, in ms:\n")
    print("| mark | median | p95 |\n|---|---|---|")
    print(f"| widget ready (`shop-support-ready`: launcher on screen, usable) | {ready[0]} | {ready[1]} |")
    print(f"| page `load` event (for comparison) | {load[0]} | {load[1]} |")
    print(f"| returning shopper, conversation resumed (`shop-support-connected`: socket welcome + "
          f"history) | {connected[0]} | {connected[1]} |", flush=True)
    return 0 if gz < TARGET_GZ_KB * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
