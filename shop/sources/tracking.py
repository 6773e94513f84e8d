"""Tracking links: the platform's own first; else the carrier's page from config/shop.yml
(`orders.carriers`), found by the carrier's name as the platform spells it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from unidecode import unidecode

# French carriers' tracking pages; config/shop.yml `orders.carriers` adds or replaces entries
DEFAULT_CARRIERS = {
    "colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    "la poste": "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    "chronopost": "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={number}",
    "mondial relay": "https://www.mondialrelay.fr/suivi-de-colis/?NumeroExpedition={number}",
    "dpd": "https://www.dpd.fr/trace/{number}",
    "gls": "https://gls-group.com/FR/fr/suivi-colis?match={number}",
    "dhl": "https://www.dhl.com/fr-fr/home/suivi.html?tracking-id={number}",
    "ups": "https://www.ups.com/track?loc=fr_FR&tracknum={number}",
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", unidecode(name).lower())


def tracking_link(url: str, carrier: str, number: str, carriers: Mapping[str, str]) -> str:
    """`url` when the platform gave one; else the template of the carrier whose configured name
    appears in `carrier` ("Colissimo Expert" -> colissimo), with `{number}` filled in; else ""."""
    if url.strip():
        return url.strip()
    if not number.strip():
        return ""
    name = _key(carrier)
    for key, template in sorted(carriers.items(), key=lambda kv: -len(kv[0])):  # "laposte" before "la"
        if _key(key) and _key(key) in name:
            return template.replace("{number}", quote(number.strip(), safe=""))
    return ""
