"""A/B tests of FAQ answers: an entry's `variants:` are served per conversation, consistently.

The assignment is a hash of (conversation, entry), so it needs no storage, survives restarts and
is the same on every gateway and action server; each variant gets an equal share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

DEFAULT_VARIANT = "default"   # the entry's own answer (the markdown body) when it has variants


def variant_names(variants: Mapping[str, str]) -> list[str]:
    """The variants competing for an entry: its own answer first, then the named ones."""
    return [DEFAULT_VARIANT, *sorted(v for v in variants if v != DEFAULT_VARIANT)] if variants else []


def assign(conversation: str, entry: str, variants: Mapping[str, str]) -> str | None:
    """The variant this conversation sees for this entry (None: the entry is not A/B tested)."""
    names = variant_names(variants)
    if not names:
        return None
    digest = hashlib.sha256(f"{conversation}\x00{entry}".encode()).digest()
    return names[int.from_bytes(digest[:8], "big") % len(names)]


def answer_for(answer: str, variants: Mapping[str, str], variant: str | None) -> str:
    """The text of `variant` (the entry's own answer for the default or an unknown name)."""
    return variants.get(variant, answer) if variant and variant != DEFAULT_VARIANT else answer
