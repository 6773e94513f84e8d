"""The help centre (/help) on the real retrieval service: pages built from the loaded KB,
server-side search without JavaScript, feedback into Redis, hostile content neutralised."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from gateway.pages import STRICT_CSP
from gateway.render import markdown_html
from kit.keys import HELP_FEEDBACK
from retrieval.service import RetrievalService

from .helpers import KB_SMALL, GatedService

XSS = "<img src=x onerror=alert(1)>"


def reasons_in_order(page: str) -> list[str]:
    return re.findall(r'data-reason="([^"]+)"', page)


def parse_elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    class Collector(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.elements: list[tuple[str, dict[str, str | None]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.elements.append((tag, dict(attrs)))

    collector = Collector()
    collector.feed(page)
    return collector.elements


def links(page: str) -> list[str]:
    return re.findall(r'href="(/help/[^"#?]+)"', page)


def form_token(client: TestClient, page_path: str) -> str:
    """The feedback form's token, as a browser gets it: from the entry page."""
    [token] = re.findall(r'<input type="hidden" name="token" value="([^"]+)">', client.get(page_path).text)
    return token


# ---- index ---------------------------------------------------------------------------------------
def test_index_groups_entries_by_reason_in_taxonomy_order_in_both_languages(client: TestClient) -> None:
    for lang, tracking in (("fr", "Suivi de colis"), ("en", "Parcel tracking")):
        response = client.get(f"/help/{lang}")
        assert response.status_code == 200
        page = response.text
        assert f'<html lang="{lang}">' in page
        # kb_small's taxonomy.yml order, not alphabetical nor by id
        assert reasons_in_order(page) == ["delivery/tracking", "returns/process", "payment/promo-code",
                                          "payment/methods"]
        # readable names: the shop's wording where it has one, else made from the taxonomy key
        assert f">{tracking}</h3>" in page and ">Promo code</h3>" in page
        # every entry of that language is linked once, under its own reason, and no other language
        tracking_group = page.split('data-reason="delivery/tracking"')[1].split("</section>")[0]
        assert f'href="/help/{lang}/track-{lang}"' in tracking_group
        other = "en" if lang == "fr" else "fr"
        entry_links = [href for href in links(page) if href.count("/") == 3]
        assert sorted(entry_links) == sorted(
            f"/help/{lang}/{name}-{lang}" for name in ("track", "return", "promo", "payment-methods"))
        assert f"/help/{other}/track-{other}" not in entry_links
        assert f'hreflang="{other}"' in page  # a link to the other language
        assert response.headers["content-security-policy"] == STRICT_CSP


def test_help_root_picks_the_language_and_links_both(client: TestClient) -> None:
    default = client.get("/help")
    assert default.status_code == 200 and '<html lang="fr">' in default.text
    assert 'href="/help/en"' in default.text
    english = client.get("/help", headers={"Accept-Language": "de-DE,en-GB;q=0.8,fr;q=0.5"})
    assert '<html lang="en">' in english.text and 'href="/help/fr"' in english.text
    assert english.headers["vary"] == "Accept-Language"
    assert '<link rel="canonical" href="http://testserver/help/en">' in english.text
    forced = client.get("/help", params={"lang": "fr"}, headers={"Accept-Language": "en"})
    assert '<html lang="fr">' in forced.text


# ---- entry pages ---------------------------------------------------------------------------------
def test_entry_page_semantics_answer_csp_and_widget(client: TestClient,
                                                   retrieval_service: RetrievalService) -> None:
    entry = retrieval_service.entry("track-fr")
    assert entry is not None
    response = client.get("/help/fr/track-fr")
    assert response.status_code == 200
    page = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == STRICT_CSP
    assert '<html lang="fr">' in page
    assert f"<title>{entry.title} · Centre d&#39;aide</title>" in page
    assert f'<h1 id="entry-h">{entry.title}</h1>' in page
    assert markdown_html(entry.answer) in page  # the sanitised answer, not a copy of the file
    assert "<strong>Mon compte &gt; Commandes</strong>" in page
    assert '<link rel="canonical" href="http://testserver/help/fr/track-fr">' in page
    assert '<link rel="alternate" hreflang="en" href="http://testserver/help/en/track-en">' in page
    assert re.search(r'<meta name="description" content="Utilisez le lien de suivi[^"]*">', page)
    for tag in ("<main", "<article", '<nav class="breadcrumb', "<h1",
                '<link rel="stylesheet" href="/static/help'):
        assert tag in page
    assert '<script src="/widget.js" data-lang="fr" async></script>' in page
    assert '<script src="/static/help/help.js" defer></script>' in page
    # no inline code: every <script> has a src and there is no style attribute or element
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page)
    assert "<style" not in page and " style=" not in page
    # the feedback form works without JavaScript
    assert '<form method="post" action="/help/fr/track-fr/feedback">' in page
    assert re.search(r'<input type="hidden" name="token" value="\d+\.[\w-]{43}">', page)  # signed
    assert 'name="helpful" value="yes"' in page and 'name="helpful" value="no"' in page


def test_entry_page_lists_related_entries_of_the_same_topic(client: TestClient) -> None:
    page = client.get("/help/fr/promo-fr").text
    related = page.split('<aside class="related"')[1].split("</aside>")[0]
    assert 'href="/help/fr/payment-methods-fr"' in related  # same topic (payment)
    assert "track-fr" not in related and "promo-fr" not in related


def test_entry_in_the_other_language_redirects_to_its_one_url(client: TestClient) -> None:
    response = client.get("/help/en/track-fr", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/help/fr/track-fr"


@pytest.mark.parametrize("path", ["/help/de", "/help/de/track-fr", "/help/fr/no-such-entry",
                                  "/help/en/search-me", "/help/xx/search?q=colis"])
def test_unknown_language_or_entry_is_a_404_page(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == STRICT_CSP
    assert '<meta name="robots" content="noindex">' in response.text
    assert "<main" in response.text


def test_templates_are_not_served_as_static_files(client: TestClient) -> None:
    assert client.get("/static/help/help.css").status_code == 200
    assert client.get("/static/help/help.js").status_code == 200
    assert client.get("/static/help/templates/base.html").status_code == 404


# ---- hostile KB content --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_service(tmp_path_factory: pytest.TempPathFactory, gateway_index_dir: Path,
                    retrieval_service: RetrievalService) -> Iterator[RetrievalService]:
    """kb_small plus one entry whose title and answer carry raw HTML and a javascript: link."""
    kb = tmp_path_factory.mktemp("hostile") / "kb"
    shutil.copytree(KB_SMALL, kb)
    (kb / "en" / "zebra.md").write_text(
        "---\nid: zebra-en\nlang: en\nreason: returns/process\n"
        "title: 'Zebra <script>alert(3)</script> cushion \"pattern\"'\n"
        "questions:\n  - what does the zebra cushion look like\n---\n"
        f"The zebra cushion {XSS} is **striped**. [Click me](javascript:alert(2)) and "
        "<a href=\"javascript:alert(5)\">raw link</a> and [our site](https://shop.example/zebra).\n",
        encoding="utf-8")
    service = RetrievalService(kb, cache_root=gateway_index_dir, embedder=retrieval_service.embedder,
                               watch=False).start()
    assert service.ready, service.status()["kb_errors"]
    yield service
    service.stop()


def test_hostile_answer_and_title_are_neutralised(app_factory, hostile_service: RetrievalService) -> None:
    with TestClient(app_factory(retrieval=hostile_service)) as client:
        pages = {"entry": client.get("/help/en/zebra-en").text,
                 "index": client.get("/help/en").text,
                 "search": client.get("/help/en/search", params={"q": "zebra cushion look"}).text}
    entry = pages["entry"]
    assert "<strong>striped</strong>" in entry  # markdown still rendered
    assert 'href="https://shop.example/zebra"' in entry  # safe links kept
    assert "&lt;img src=x onerror=alert(1)&gt;" in entry  # shown as text
    assert "Zebra &lt;script&gt;alert(3)&lt;/script&gt; cushion &#34;pattern&#34;" in entry
    for name, page in pages.items():
        elements = parse_elements(page)  # what a browser builds: escaped text is no element
        assert not [e for e in elements if e[0] in ("img", "iframe", "object", "embed")], name
        assert not [e for e in elements if e[0] == "script" and not e[1].get("src")], name
        for tag, attrs in elements:
            assert not [a for a in attrs if a.startswith("on")], (name, tag, attrs)
            for attr in ("href", "src", "action", "formaction"):
                value = (attrs.get(attr) or "").strip().lower()
                assert not value.startswith(("javascript:", "data:", "vbscript:")), (name, tag, attrs)
    assert "zebra-en" in pages["search"]


# ---- search without JavaScript -------------------------------------------------------------------
def test_server_side_search_finds_the_tracking_entry(client: TestClient) -> None:
    response = client.get("/help/fr/search", params={"q": "ou est mon colis"})
    assert response.status_code == 200
    page = response.text
    assert response.headers["content-security-policy"] == STRICT_CSP
    assert "no-store" in response.headers["cache-control"]  # shoppers' questions are not cached
    assert '<meta name="robots" content="noindex">' in page
    results = page.split('<ol class="results__list">')[1].split("</ol>")[0]
    assert links(results)[0] == "/help/fr/track-fr"
    assert 'value="ou est mon colis"' in page  # the box keeps the question for a refinement


def test_search_band_is_shown_honestly(client: TestClient, retrieval_service: RetrievalService) -> None:
    for q in ("ou est mon colis", "comment retourner"):
        band = retrieval_service.search(q, "fr", 5).band
        assert f"results--{band}" in client.get("/help/fr/search", params={"q": q}).text


def test_search_with_no_match_says_so_and_offers_the_chat(client: TestClient,
                                                          retrieval_service: RetrievalService) -> None:
    q = "xylophones"  # one word the KB never uses: no suggestion at all
    assert retrieval_service.search(q, "fr", 5).band == "none"  # precondition on the real engine
    page = client.get("/help/fr/search", params={"q": q}).text
    assert "results--none" in page
    assert "Aucun article de l&#39;aide ne répond à votre question." in page
    assert "results__list" not in page  # nothing dressed up as an answer
    assert "data-open-chat" in page


@pytest.mark.parametrize("q", ["", "   "])
def test_empty_search_asks_for_a_question(client: TestClient, q: str) -> None:
    response = client.get("/help/fr/search", params={"q": q})
    assert response.status_code == 200
    assert "Tapez votre question" in response.text


def test_overlong_search_is_refused_cleanly(client: TestClient) -> None:
    q = "colis " * 833 + "xy"  # 5,000 characters
    assert len(q) == 5000
    response = client.get("/help/fr/search", params={"q": q})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "trop longue" in response.text
    assert "colis colis" not in response.text  # not echoed back


# ---- feedback ------------------------------------------------------------------------------------
def test_feedback_is_stored_and_redirects_with_thanks(client: TestClient, redis_client: redis.Redis) -> None:
    token = form_token(client, "/help/fr/track-fr")
    response = client.post("/help/fr/track-fr/feedback", data={"helpful": "no", "token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/help/fr/track-fr?feedback=thanks#feedback"
    [(_, fields)] = redis_client.xrange(HELP_FEEDBACK)
    assert fields["entry"] == "track-fr" and fields["lang"] == "fr" and fields["helpful"] == "0"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", fields["at"])
    thanks = client.get(response.headers["location"])
    assert "Merci pour votre retour" in thanks.text and "/feedback" not in thanks.text
    token = form_token(client, "/help/en/track-en")
    client.post("/help/en/track-en/feedback", data={"helpful": "yes", "token": token})
    assert redis_client.xrange(HELP_FEEDBACK)[-1][1]["helpful"] == "1"


@pytest.mark.parametrize(("path", "data", "status"), [
    ("/help/fr/no-such-entry/feedback", {"helpful": "yes"}, 404),
    ("/help/de/track-fr/feedback", {"helpful": "yes"}, 404),
    ("/help/fr/track-fr/feedback", {"helpful": "maybe"}, 422),
    ("/help/fr/track-fr/feedback", {}, 422),
    ("/help/fr/track-fr/feedback", {"helpful": "yes", "token": ""}, 403),
])
def test_bad_feedback_is_refused_and_not_stored(client: TestClient, redis_client: redis.Redis, path: str,
                                                data: dict[str, str], status: int) -> None:
    data = {"token": form_token(client, "/help/fr/track-fr"), **data}
    assert client.post(path, data=data, follow_redirects=False).status_code == status
    assert redis_client.xlen(HELP_FEEDBACK) == 0


# ---- index still loading -------------------------------------------------------------------------
def test_pages_are_503_while_the_index_loads(app_factory, gateway_index_dir: Path,
                                             retrieval_service: RetrievalService) -> None:
    gate = threading.Event()
    service = GatedService(KB_SMALL, cache_root=gateway_index_dir, embedder=retrieval_service.embedder,
                           watch=False, gate=gate)
    try:
        with TestClient(app_factory(retrieval=service)) as client:
            for path in ("/help", "/help/en", "/help/fr/track-fr", "/help/fr/search?q=colis"):
                response = client.get(path)
                assert response.status_code == 503, path
                assert response.headers["retry-after"] == "5"
                assert response.headers["content-type"].startswith("text/html")
            assert client.post("/help/fr/track-fr/feedback", data={"helpful": "yes"}).status_code == 503
            gate.set()
    finally:
        gate.set()
