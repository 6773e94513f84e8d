"""Button payloads: `/intent` or `/intent{"entity": value}`, Rasa's way of sending an intent
with entities. Built and read here only, so the bot's buttons, the surveys' and the degraded
mode's agree on one format."""

from __future__ import annotations

import json
import re
from typing import Any

_PAYLOAD = re.compile(r"^/([a-z][a-z0-9_]{0,63})(\{.{0,500}\})?$", re.S)


def payload(intent: str, **entities: Any) -> str:
    """`payload("faq_choice", faq_id="order-tracking-fr")` -> '/faq_choice{"faq_id": "order-tracking-fr"}'."""
    return f"/{intent}" + (json.dumps(entities, ensure_ascii=False) if entities else "")


def parse(text: str) -> tuple[str, dict[str, Any]] | None:
    """(intent, entities) of a payload; None for text a person typed or a malformed payload."""
    m = _PAYLOAD.match(text.strip())
    if m is None:
        return None
    if not m.group(2):
        return m.group(1), {}
    try:
        entities = json.loads(m.group(2))
    except ValueError:
        return None
    return (m.group(1), entities) if isinstance(entities, dict) else None
