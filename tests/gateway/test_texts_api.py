"""The console's and dashboard's texts (GET /api/texts/{scope}) and the agent's language
(POST /api/agent/language, `lang` in GET /api/agent/me), on a real app and the session Redis,
tried the way an attacker would: no token, forged token, other scopes, hostile languages.
Also checks the pages themselves: no text written in their HTML or scripts, every key they use
exists, and texts reach the page only as text (never innerHTML)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from handoff.accounts import AGENT, AccountError, Accounts
from handoff.login_guard import REASONS as LOGIN_REASONS
from kit.texts import catalogue, section

from .helpers import PASSWORD, add_accounts, on_redis

pytestmark = pytest.mark.timeout(60)
WIDGET = Path(__file__).resolve().parents[2] / "widget"
HOSTILE_LANGS = ["<script>alert(1)</script>", "../../etc/passwd", "..%2F..%2Fetc", "de", "EN", "fr-FR", " fr",
                 "", "fr\nen", "x" * 5000]


@pytest.fixture
def api(make_client: Callable[..., TestClient]) -> TestClient:  # noqa: F811
    return make_client()


def login(api: TestClient, email: str) -> dict[str, str]:
    res = api.post("/api/agent/login", json={"email": email, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['token']}"}


# -- GET /api/texts/{scope} ---------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["console", "dashboard", "studio"])
def test_a_pages_texts_are_public_french_by_default_and_cacheable(api: TestClient, scope: str) -> None:
    res = api.get(f"/api/texts/{scope}")                              # no token: the login screens need them
    assert res.status_code == 200, res.text
    reasons = {f"reasons.{code}": name for code, name in section("fr", "reasons").items()}
    assert res.json() == {"scope": scope, "lang": "fr", "texts": {**reasons, **section("fr", scope)}}
    assert res.json()["texts"]["reasons.returns/exchange"]          # both pages name contact reasons
    assert "public" in res.headers["cache-control"] and "max-age=" in res.headers["cache-control"]
    assert res.headers["content-type"].startswith("application/json")
    english = api.get(f"/api/texts/{scope}", params={"lang": "en"})
    english_reasons = {f"reasons.{code}": name for code, name in section("en", "reasons").items()}
    assert english.json()["lang"] == "en"
    assert english.json()["texts"] == {**english_reasons, **section("en", scope)}
    assert set(english.json()["texts"]) == set(res.json()["texts"])  # every key in both languages
    assert english.headers["etag"] != res.headers["etag"]
    again = api.get(f"/api/texts/{scope}", headers={"If-None-Match": res.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == res.headers["etag"]


def test_french_and_english_texts_are_the_real_thing(api: TestClient) -> None:
    fr = api.get("/api/texts/console", params={"lang": "fr"}).json()["texts"]
    en = api.get("/api/texts/console", params={"lang": "en"}).json()["texts"]
    assert (fr["login.submit"], en["login.submit"]) == ("Se connecter", "Sign in")
    assert (fr["logout"], fr["presence.online"], fr["presence.away"]) == (
        "Se déconnecter", "En ligne", "Absent")
    assert (fr["conversation.claim"], fr["conversation.close"]) == ("Prendre la conversation", "Clôturer")
    assert fr["language.fr"] == en["language.fr"] == "Français"        # each language named in itself
    dashboard = api.get("/api/texts/dashboard").json()["texts"]
    assert dashboard["title"] == "Tableau de bord du service client"


@pytest.mark.parametrize("scope", ["conversation", "bot", "CONSOLE", "console.login", "console ", "x" * 300,
                                   "..", "%2e%2e", "..%2Fconsole", "%00", "<script>", "texts"])
def test_only_the_two_pages_sections_are_served(api: TestClient, scope: str) -> None:
    res = api.get(f"/api/texts/{scope}")
    assert res.status_code == 404, (scope, res.status_code)
    assert res.json()["error"] == "not_found" and "texts" not in res.json()
    assert "<script>" not in res.text                                  # the path is not echoed


@pytest.mark.parametrize("path", ["/api/texts/../../etc/passwd", "/api/texts/console/../conversation",
                                  "/api/texts/", "/api/texts"])
def test_paths_around_the_scope_find_nothing(api: TestClient, path: str) -> None:
    res = api.get(path)
    assert res.status_code == 404 or (res.status_code == 200
                                      and res.json().get("scope") in ("console", "dashboard"))
    assert "conversation." not in res.text and "Un conseiller a rejoint" not in res.text


@pytest.mark.parametrize("lang", HOSTILE_LANGS)
def test_a_language_we_do_not_serve_is_refused_without_echo(api: TestClient, lang: str) -> None:
    res = api.get("/api/texts/console", params={"lang": lang})
    assert res.status_code == 422, (lang, res.status_code)
    assert res.json()["error"] == "invalid_request"
    assert "<script>" not in res.text and "passwd" not in res.text


def test_texts_are_the_only_methods(api: TestClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert api.request(method, "/api/texts/console", json={"x": 1}).status_code == 405


# -- the agent's language --------------------------------------------------------------------------


def test_the_language_is_saved_on_the_account_and_survives_a_new_login(api: TestClient, redis_server: Any,
                                                                          redis_client: redis.Redis) -> None:
    add_accounts(redis_server.url, ann="agent", ben="manager")
    ann = login(api, "ann@shop.example")
    assert api.get("/api/agent/me", headers=ann).json()["lang"] is None      # not chosen: the browser's
    res = api.post("/api/agent/language", json={"lang": "en"}, headers=ann)
    assert res.status_code == 200 and res.json() == {"lang": "en"}
    assert api.get("/api/agent/me", headers=ann).json()["lang"] == "en"
    assert redis_client.hget(AGENT.format(email="ann@shop.example"), "lang") == "en"   # in the account's hash
    assert api.post("/api/agent/logout", headers=ann).status_code == 200
    again = login(api, "ann@shop.example")
    assert api.get("/api/agent/me", headers=again).json()["lang"] == "en"    # a re-login keeps it
    assert api.post("/api/agent/language", json={"lang": "fr"}, headers=again).json() == {"lang": "fr"}
    assert api.get("/api/agent/me", headers=again).json()["lang"] == "fr"
    ben = login(api, "ben@shop.example")
    assert api.get("/api/agent/me", headers=ben).json()["lang"] is None      # per account
    assert api.post("/api/agent/login", json={"email": "ann@shop.example", "password": PASSWORD}
                    ).json()["agent"]["role"] == "agent"                     # logins unchanged


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer forged-token-forged-token-forged"},
                                     {"Authorization": "Basic YW5uOnBhc3N3b3Jk"},
                                     {"Authorization": "Bearer "}])
def test_the_language_needs_a_login(api: TestClient, redis_server: Any, redis_client: redis.Redis,
                                    headers: dict[str, str]) -> None:
    add_accounts(redis_server.url, ann="agent")
    res = api.post("/api/agent/language", json={"lang": "en"}, headers=headers)
    assert res.status_code == 401 and res.headers.get("www-authenticate") == "Bearer"
    assert redis_client.hget(AGENT.format(email="ann@shop.example"), "lang") is None


def test_the_language_refuses_anything_but_fr_or_en(api: TestClient, redis_server: Any,
                                                    redis_client: redis.Redis) -> None:
    add_accounts(redis_server.url, ann="agent")
    ann = login(api, "ann@shop.example")
    assert api.post("/api/agent/language", json={"lang": "fr"}, headers=ann).status_code == 200
    bodies: list[Any] = [{"lang": x} for x in HOSTILE_LANGS] + [
        {"lang": None}, {"lang": ["en"]}, {"lang": {"$ne": "fr"}}, {"lang": 1}, {}, [], "en", None,
        {"language": "en"}]
    for body in bodies:
        res = api.post("/api/agent/language", json=body, headers=ann)
        assert res.status_code == 422, (body, res.status_code)
        assert "<script>" not in res.text and "passwd" not in res.text
    res = api.post("/api/agent/language", content=b"lang=en", headers={**ann, "Content-Type": "text/plain"})
    assert res.status_code == 422
    assert redis_client.hget(AGENT.format(email="ann@shop.example"), "lang") == "fr"   # never changed
    assert api.get("/api/agent/me", headers=ann).json()["lang"] == "fr"


def test_accounts_set_lang_checks_its_input_and_never_recreates_an_account(redis_server: Any,
                                                                          redis_client: redis.Redis) -> None:
    add_accounts(redis_server.url, ann="agent")
    key = AGENT.format(email="ann@shop.example")
    with pytest.raises(AccountError):
        on_redis(redis_server.url, lambda r: Accounts(r).set_lang("ann@shop.example", "<script>"))
    with pytest.raises(AccountError):
        on_redis(redis_server.url, lambda r: Accounts(r).set_lang("gone@shop.example", "en"))
    assert not redis_client.exists(AGENT.format(email="gone@shop.example"))   # no half account left
    on_redis(redis_server.url, lambda r: Accounts(r).set_lang("ANN@shop.example", "en"))   # e-mail normalised
    assert redis_client.hget(key, "lang") == "en"
    redis_client.hset(key, "lang", "<img src=x onerror=alert(1)>")            # a hand-edited hash
    agent = on_redis(redis_server.url, lambda r: Accounts(r).get("ann@shop.example"))
    assert agent.lang == ""                                                   # read back as "not chosen"
    on_redis(redis_server.url, lambda r: Accounts(r).remove("ann@shop.example"))
    with pytest.raises(AccountError):
        on_redis(redis_server.url, lambda r: Accounts(r).set_lang("ann@shop.example", "fr"))
    assert not redis_client.exists(key)


# -- the pages: no texts in the code, every key they use exists, text only as text ------------------


class _Page(HTMLParser):
    """Text nodes, translatable attributes and data-i18n keys of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.attrs: list[str] = []
        self.keys: set[str] = set()
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("code", "script", "style"):
            self._skip += 1
        if found.get("data-i18n"):
            self.keys.add(str(found["data-i18n"]))
        for pair in str(found.get("data-i18n-attr") or "").split(";"):
            if ":" in pair:
                self.keys.add(pair.split(":", 1)[1].strip())
        self.attrs += [f"{tag}[{name}]" for name in ("aria-label", "title", "placeholder", "alt")
                       if name in found]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip() and data.strip() not in ("◆", "0"):
            self.texts.append(data.strip())


def _script_keys(source: str, function: str) -> set[str]:
    """Literal keys given to `function` (comments left out; keys built from codes: see below)."""
    code = re.sub(r"/\*.*?\*/|(?<!:)//[^\n]*", "", source, flags=re.S)
    return set(re.findall(function + r'\("([a-z_][a-z0-9_.]*[a-z0-9_])"\s*[,)]', code))


@pytest.mark.parametrize(("scope", "page", "scripts"), [
    ("console", "console/index.html", ["console/console.js"]),
    ("dashboard", "dashboard/index.html", ["dashboard/dashboard.js"]),
    ("studio", "studio/index.html", ["studio/studio.js", "studio/variants.js", "studio/guard.js"]),
])
def test_the_pages_hold_no_text_and_every_key_they_use_exists(scope: str, page: str,
                                                               scripts: list[str]) -> None:
    parsed = _Page()
    parsed.feed((WIDGET / page).read_text(encoding="utf-8"))
    assert parsed.texts == [], f"texts written in {page}: {parsed.texts}"
    assert parsed.attrs == [], f"attributes written in {page} instead of data-i18n-attr: {parsed.attrs}"
    html = (WIDGET / page).read_text(encoding="utf-8")
    assert '<html lang="fr" class="i18n-pending">' in html                   # French until told otherwise
    assert html.index("/static/console/i18n.js") < html.index(scripts[0])   # the helper runs first
    for lang in ("fr", "en"):
        texts = section(lang, scope)
        assert parsed.keys - set(texts) == set(), (lang, parsed.keys - set(texts))
        for script in scripts:
            source = (WIDGET / script).read_text(encoding="utf-8")
            used = _script_keys(source, r"\bT") | {f"{k}.one" for k in _script_keys(source, r"\.tn")} \
                | {f"{k}.other" for k in _script_keys(source, r"\.tn")}
            assert used or script != scripts[0], script              # helpers may take their texts from it
            assert used - set(texts) == set(), (lang, script, used - set(texts))


def test_keys_the_scripts_build_exist_in_both_languages() -> None:
    """Keys made from a code (`T("roles." + role)`...): every code the scripts know has its text."""
    families = {
        "console": {"roles": ["shopper", "bot", "agent", "system"],
                    "connection": ["offline", "live", "reconnecting"],
                    "events": ["claimed", "closed", "transferred", "delivery_refused", "delivery_failed"],
                    "channels": ["web", "messenger", "whatsapp", "agent"],
                    "triggers": ["asked", "escalation", "complaint"],
                    "ticket_status": ["open", "pending", "solved"], "presence": ["online", "away", "offline"],
                    "ticket_sources": ["bot", "widget", "agent", "degraded"]},
        "dashboard": {"actions": ["keep_human", "simplify", "automate", "eliminate", "measure"],
                      "matrix": ["high", "low"], "unanswered": ["why_none", "why_suggest", "why_thumbs_down"],
                      "tiles": ["conversations", "bot_resolution", "contained", "handoff", "fcr", "csat",
                                "nps", "ces", "sla", "bot_first", "chat_first", "ticket_first", "thumbs",
                                "faq",
                                "bot_first_hint", "chat_first_hint", "ticket_first_hint", "chats.one",
                                "chats.other", "tickets.one", "tickets.other", "answers.one", "answers.other",
                                "contacts.one", "contacts.other", "votes.one", "votes.other",
                                "conversations_n.one", "conversations_n.other"],
                      "verbatims": ["csat", "ces", "nps"],
                      "bands": ["promoter", "passive", "detractor", "satisfied", "neutral", "dissatisfied",
                                "easy", "hard"]},
    }
    for lang in ("fr", "en"):
        for scope, groups in families.items():
            texts = section(lang, scope)
            missing = [f"{g}.{c}" for g, codes in groups.items() for c in codes if f"{g}.{c}" not in texts]
            assert missing == [], (lang, scope, missing)


def test_texts_reach_the_page_only_as_text() -> None:
    helper = (WIDGET / "console" / "i18n.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", helper, flags=re.S)            # comments may name what is banned
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert sink not in code, sink
    assert "textContent" in code and "createTextNode" in code
    assert re.search(r"\^\(aria-\[a-z\]\+\|title\|placeholder\|label\|alt\)\$", code), \
        "only harmless attributes may be set from texts (never href, src or on*)"
    for page, html_sinks in (("console/console.js", 1), ("dashboard/dashboard.js", 0),
                             ("studio/studio.js", 1), ("studio/variants.js", 0),
                             ("studio/guard.js", 0)):
        source = (WIDGET / page).read_text(encoding="utf-8")
        # the console's one innerHTML is the bot's server-sanitised HTML, the studio's the preview the
        # gateway rendered and sanitised; the dashboard has none
        assert source.count("innerHTML") == html_sinks, page


def test_french_typography_is_consistent() -> None:
    """A no-break space before : ; ! ? (U+00A0 before the colon, U+202F before the others)."""
    for scope in ("console", "dashboard", "studio"):
        for key, value in section("fr", scope).items():
            assert not re.search(r" [:;!?»]|« ", value), (key, value)           # never a plain space
            glued = r"[^\s\u00a0\u202f/][;!?»](\s|$)|[^\s\u00a0\u202f/]:(\s|$)"          # no space at all
            assert not re.search(glued, value), (key, value)
            assert "\u202f:" not in value and "\u00a0;" not in value, (key, value)
            assert "'" not in value, (key, value)                               # the French apostrophe is ’
    assert catalogue("fr")["console.presence.now_away"].startswith("Vous êtes absent\u00a0: ")
    for code, name in section("fr", "reasons").items():       # both pages show the reasons' names
        assert "'" not in name and not re.search(r" [:;!?»]", name), (code, name)


def test_the_dashboards_missing_topics_link_to_a_prefilled_studio_entry() -> None:
    """Each missing-FAQ topic links to /studio with its language, reason and up to six of the
    shoppers' questions, URL-encoded (URLSearchParams), the link's text from the locales."""
    source = (WIDGET / "dashboard" / "dashboard.js").read_text(encoding="utf-8")
    body = source[source.index("function studioLink(t)"):]
    body = body[:body.index("\n  }\n")]
    assert '"/studio?" + params.toString()' in body and "new URLSearchParams()" in body
    assert 'params.append("q", q)' in body and ".slice(0, 6)" in body
    assert 'params.set("lang"' in body and 'params.set("reason"' in body
    assert 'T("unanswered.create")' in body and "innerHTML" not in body
    assert "studioLink(t)" in source[source.index("function topics("):source.index("function studioLink")]
    html = (WIDGET / "dashboard" / "index.html").read_text(encoding="utf-8")
    assert 'data-i18n="unanswered.studio"' in html


def test_every_error_the_staff_apis_name_has_its_text_in_both_languages() -> None:
    """The console shows a refusal in the agent's language from its `key` (else its `error` code):
    each key the gateway and the desk can send, and each generic code, has a text in fr and en."""
    root = WIDGET.parent
    sources = [*root.glob("gateway/**/*.py"), *root.glob("handoff/*.py"), *root.glob("mail/*.py")]
    keys: set[str] = set()
    for path in sources:
        code = path.read_text(encoding="utf-8")
        keys |= {k for k in re.findall(r"\bkey=\"(\w+)\"", code) if not k.endswith("_")}  # error_response
        keys |= set(re.findall(r"DeskError\(\s*\"\w+\",\s*f?\"[^\"]*\",\s*\"(\w+)\"", code))
        keys |= set(re.findall(r"CannedError\(\s*f?\"[^\"]*\",\s*\"(\w+)\"", code))
        if 'key="too_many_" + what' in code:                                     # the desk's budgets
            keys |= {"too_many_searches", "too_many_notes"}
        if 'key="login_" + wait.reason' in code:                                 # handoff/login_guard.py
            keys |= {f"login_{reason}" for reason in LOGIN_REASONS.values()}
    assert {"unknown_conversation", "holding_max", "canned_variable", "window_closed", "login_wrong",
            "too_many_notes", "login_slow_down"} <= keys, keys                   # the scan finds them
    generic = {"bad_request", "unauthorized", "forbidden", "not_found", "conflict", "body_too_large",
               "invalid_request", "too_many_requests", "internal_error", "unavailable", "delivery_refused"}
    for lang in ("fr", "en"):
        texts = section(lang, "console")
        missing = sorted(k for k in keys | generic if f"errors.{k}" not in texts)
        assert missing == [], (lang, missing)
