"""What the rest of the product asks of the FAQ: one protocol, implemented by
`retrieval.service.RetrievalService` (the hot-reloaded index of the KB folder).

The bot's FAQ action, the degraded mode, the help centre and analytics all read the FAQ
through it, so they see the same entries, the same answers and the same taxonomy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .engine import Hit, SearchEngine, SearchResult
    from .kb import Entry


class FaqSource(Protocol):
    @property
    def ready(self) -> bool:
        """False while the first index loads (callers offer a way out instead of answers)."""
        ...

    @property
    def engine(self) -> SearchEngine:
        """The index serving now (its version, its embedder for analytics' clustering)."""
        ...

    def search(self, query: str, lang: str | None = None, k: int = 3,
               context: str | None = None) -> SearchResult:
        """Band and best entries for a shopper's text; `context`: the previous FAQ question."""
        ...

    def entry(self, entry_id: str) -> Hit | None:
        """An entry by id, as a hit (None when it no longer exists)."""
        ...

    def variants(self, entry_id: str) -> dict[str, str]:
        """The entry's A/B answer variants by name ({} when not tested)."""
        ...

    def entries(self) -> list[Entry]:
        """Every entry of the index serving now, sorted by id."""
        ...

    def taxonomy(self) -> list[tuple[str, str]]:
        """The contact reasons (path, description) in the editors' order."""
        ...
