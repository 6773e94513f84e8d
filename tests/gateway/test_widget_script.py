"""/widget.js carries its texts from locales/ (both languages), once, cacheable."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from gateway.pages import WIDGET_TEXTS
from kit import texts


def _served_texts(script: str) -> tuple[str, dict[str, dict[str, str]]]:
    match = re.search(r"var ALL_STRINGS = (\{.*?\});\n", script)
    assert match, "the texts are in the script"
    return match.group(1), json.loads(match.group(1))   # the gateway writes them as JSON


def test_the_widget_gets_both_languages_texts_from_the_locales(client: TestClient) -> None:
    res = client.get("/widget.js")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/javascript")
    assert WIDGET_TEXTS not in res.text
    raw, served = _served_texts(res.text)
    assert served == {lang: texts.section(lang, "widget") for lang in texts.LANGS}
    assert served["fr"]["send"] == "Envoyer" and served["en"]["send"] == "Send"
    assert "<" not in raw   # escaped: no text can close a surrounding <script>


def test_the_widget_is_cached_with_an_etag(client: TestClient) -> None:
    first = client.get("/widget.js")
    assert "max-age=300" in first.headers["cache-control"]
    again = client.get("/widget.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/widget.js", headers={"If-None-Match": '"other"'}).status_code == 200
