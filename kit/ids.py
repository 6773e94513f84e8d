"""Who a customer is across the product: one id per channel identity."""

from __future__ import annotations


def customer_id(channel: str, sender: str) -> str:
    """"whatsapp:33612345678", "web:<visitor>", "email:jean@example.fr": what analytics
    pseudonymises, what repeat contacts are counted on and what a GDPR request looks up."""
    return f"{channel}:{sender}"
