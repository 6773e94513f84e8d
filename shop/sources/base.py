"""What every order source shares: the errors a shopper may be told about, the shape of an order
number on each platform, and a short cache so a shopper asking twice costs the shop one call."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from shop.order_numbers import NumberFormat

if TYPE_CHECKING:
    from shop.orders import Order


class SourceError(Exception):
    """The shop's system cannot answer now (down, timeout, throttled, a reply we cannot read):
    the bot says so honestly and offers a message to the team."""


class SourceMisconfigured(SourceError):
    """The shop refused us: wrong key, webservice disabled, a missing scope. The owner must act
    (`python -m shop orders check` says which); the shopper is told the same as for an outage."""


class OrderSource(Protocol):
    numbers: NumberFormat

    async def lookup(self, number: str) -> Sequence[Order]:
        """The orders with this number (a PrestaShop reference may cover several orders of one
        cart); empty when there is none. Raises SourceError when the shop cannot answer."""
        ...


class CachedSource:
    """Answers (found or not) kept `seconds` per number, in this process; failures are not kept."""

    def __init__(
        self,
        source: OrderSource,
        seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.source = source
        self.numbers = source.numbers
        self.seconds = seconds
        self.clock = clock
        self.max_entries = max_entries
        self._kept: dict[str, tuple[float, tuple[Order, ...]]] = {}

    async def lookup(self, number: str) -> Sequence[Order]:
        now = self.clock()
        kept = self._kept.get(number)
        if kept is not None and kept[0] > now:
            return kept[1]
        orders = tuple(await self.source.lookup(number))
        if len(self._kept) >= self.max_entries:  # drop the expired ones, then the oldest
            self._kept = {k: v for k, v in self._kept.items() if v[0] > now}
            while len(self._kept) >= self.max_entries:
                self._kept.pop(next(iter(self._kept)))
        self._kept[number] = (now + self.seconds, orders)
        return orders

    async def aclose(self) -> None:
        close = getattr(self.source, "aclose", None)
        if close is not None:
            await close()
