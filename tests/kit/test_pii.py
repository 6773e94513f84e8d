"""PII masking for analytics and logs."""

from __future__ import annotations

from kit.pii import luhn_ok, mask_pii


def test_mask_pii() -> None:
    raw = ("Moi c'est jean.dupont+shop@gmail.com, tel +33 6 12 34 56 78 ou 06.12.34.56.78, "
           "carte 4111 1111 1111 1111, commande 123456789 du 12/03/2026 pour 1 299,00 EUR")
    masked = mask_pii(raw)
    assert masked == ("Moi c'est [email], tel [phone] ou [phone], carte [card], "
                      "commande 123456789 du 12/03/2026 pour 1 299,00 EUR")
    assert mask_pii("call me at +1 415-555-2671 or 0033612345678") == "call me at [phone] or [phone]"
    assert mask_pii("4111111111111111") == "[card]"
    assert mask_pii("not a card 4111 1111 1111 1112") == "not a card 4111 1111 1111 1112"  # fails Luhn
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
