"""The self-service help centre at `/help`: the FAQ of `kb_content/` as web pages.

Nothing is copied: pages are rendered from the entries the live retrieval service holds
(so an editor's change shows up with the next index swap) and grouped by contact reason in
the order of the KB's `taxonomy.yml`. Pages are server-rendered and work without
JavaScript; `/static/help/help.js` only adds live suggestions to the search box. Answers
go through `render.markdown_html` (sanitised) and every page carries the strict CSP.

"Was this helpful?" is a plain form: its POST must carry the signed, expiring token the entry
page embeds (forged, missing or stale: 403, nothing counted), cross-site posts are refused
(`Sec-Fetch-Site`), and one visitor (client address, IPv6 /64) counts once per entry per day.

Routes: `GET /help`, `GET /help/{lang}`, `GET /help/{lang}/search?q=`,
`GET /help/{lang}/{entry_id}`, `POST /help/{lang}/{entry_id}/feedback`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from kit import texts
from kit.keys import HELP_FEEDBACK, HELP_VOTE

from . import templating
from .deps import get_state
from .help_catalogue import Article, Catalogue, anchor, catalogue, excerpt, label
from .pages import STRICT_CSP
from .render import markdown_html
from .search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from retrieval.source import FaqSource

log = logging.getLogger("gateway.help_centre")
router = APIRouter()

FEEDBACK_MAXLEN = 1_000_000  # approximate cap: the stream is read by analytics, never unbounded
VOTE_TTL_S = 25 * 3600               # outlives the longest day (DST): the day is part of the digest
TOKEN_TTL_S = 24 * 3600              # a feedback form stays valid a day (pages are cached 60 s)
TOKEN_SKEW_S = 300                   # gateways' clocks may differ a little
CROSS_SITE_OK = ("same-origin", "none")  # Sec-Fetch-Site values our own form can send
_PROCESS_KEY = secrets.token_bytes(32)   # without SURVEY_SECRET: one gateway process only
DEFAULT_LANG = "fr"
RESULTS = 5
PAGE_CACHE = "public, max-age=60"  # KB edits show within a minute even behind a cache


# ---- interface texts ---------------------------------------------------------------------------
LANGS = texts.LANGS

# Readable names of the contact reasons are in locales/ (`reasons.<taxonomy path>`); a reason
# missing there (a leaf added by an editor) gets a name made from its key.
























# ---- rendering ----------------------------------------------------------------------------------
def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def render(request: Request, template: str, lang: str, *, status: int = 200, cache: str = PAGE_CACHE,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    t = texts.section(lang, "help")
    path = context.pop("path", request.url.path)
    values: dict[str, Any] = {
        "lang": lang, "t": t, "langs": [(code, texts.text(code, "help.lang_name")) for code in LANGS],
        "canonical": _base_url(request) + path, "base": _base_url(request),
        "alternates": {}, "robots": None, "q": "", "crumbs": [], "contact_url": None, "hits": [],
        "search_url": f"/help/{lang}/search", **context,
    }
    body = templating.render(f"help/{template}", **values)
    all_headers = {"Content-Security-Policy": STRICT_CSP, "Cache-Control": cache, **(headers or {})}
    return HTMLResponse(body, status_code=status, headers=all_headers)


def not_found(request: Request, lang: str = DEFAULT_LANG) -> HTMLResponse:
    t = texts.section(lang, "help")
    return render(request, "message.html", lang, status=404, cache="no-store", robots="noindex",
                  title=t["not_found_title"], description=t["not_found_p"], message=t["not_found_p"],
                  path=f"/help/{lang}", back=(f"/help/{lang}", t["back_home"]))


def loading(request: Request, lang: str) -> HTMLResponse:
    t = texts.section(lang, "help")
    return render(request, "message.html", lang, status=503, cache="no-store", robots="noindex",
                  headers={"Retry-After": "5"}, title=t["loading_title"], description=t["loading_p"],
                  message=t["loading_p"], path=f"/help/{lang}", back=None)


def preferred_lang(request: Request) -> str:
    """`?lang=`, else the best supported language of Accept-Language, else French."""
    asked = request.query_params.get("lang", "").strip().lower()
    if asked in LANGS:
        return asked
    best, best_q = DEFAULT_LANG, 0.0
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-", 1)[0]
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        quality -= position * 1e-6  # equal weights: the first listed wins
        if code in LANGS and quality > best_q:
            best, best_q = code, quality
    return best


def _serving(request: Request, lang: str) -> FaqSource | Response:
    """The FAQ for a page in `lang`, or the page to show instead (404 for a language we do not
    have, "loading" while the first index loads)."""
    if lang not in LANGS:
        return not_found(request)
    service = get_state(request).index.faq()
    return loading(request, lang) if service is None else service


def _contact_url(cat: Catalogue, lang: str) -> str | None:
    """Where "chat with us" leads without JavaScript: the KB's contact article, if any."""
    for section in cat.sections.get(lang, []):
        for group in section.groups:
            if group.reason.endswith("contact-channels") and group.articles:
                return group.articles[0].url
    return None


def _index_page(request: Request, lang: str, cat: Catalogue, **extra: Any) -> HTMLResponse:
    t = texts.section(lang, "help")
    return render(request, "index.html", lang, title=t["index_title"], description=t["index_description"],
                  sections=cat.sections.get(lang, []), path=f"/help/{lang}",
                  alternates={code: f"/help/{code}" for code in LANGS},
                  contact_url=_contact_url(cat, lang), **extra)


# ---- feedback form protection -------------------------------------------------------------------
def _form_key(secret: str) -> bytes:
    """The key of the feedback tokens and vote digests: derived from SURVEY_SECRET (set in
    production and shared by `make run`'s workers), else a random key of this process."""
    if not secret:
        return _PROCESS_KEY
    return hmac.new(secret.encode(), b"help-feedback-form", hashlib.sha256).digest()


def _sign(article: Article, issued: int, secret: str) -> str:
    message = f"help-feedback:{article.lang}/{article.id}:{issued}".encode()
    digest = hmac.new(_form_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def feedback_token(article: Article, secret: str, now: float | None = None) -> str:
    """What the entry page's form sends back: when it was issued and a signature of that and
    the entry, so it works from any cache or gateway for TOKEN_TTL_S and for this entry only."""
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_sign(article, issued, secret)}"


def valid_token(article: Article, token: str, secret: str, now: float | None = None) -> bool:
    """Issued by us for this entry, less than TOKEN_TTL_S ago (a forged or replayed-late form is not)."""
    issued_text, _, signature = token.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued, now = int(issued_text), time.time() if now is None else now
    if not now - TOKEN_TTL_S <= issued <= now + TOKEN_SKEW_S:
        return False
    return hmac.compare_digest(signature.encode(), _sign(article, issued, secret).encode())


def _visitor(request: Request) -> str:
    """Who votes: the client address (an IPv6 host owns its whole /64, so it counts once)."""
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ip.ipv4_mapped or ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def vote_key(request: Request, article: Article, day: str, secret: str) -> str:
    """Keyed digest, so Redis holds no recoverable address (the IPv4 space is small)."""
    digest = hmac.new(_form_key(secret), f"{_visitor(request)}|{article.id}|{day}".encode(), hashlib.sha256)
    return HELP_VOTE.format(digest=digest.hexdigest()[:32])


def _feedback_refused(request: Request, lang: str, article: Article) -> HTMLResponse:
    t = texts.section(lang, "help")
    return render(request, "message.html", lang, status=403, cache="no-store", robots="noindex",
                  title=t["feedback_error_title"], description=t["feedback_refused_p"],
                  message=t["feedback_refused_p"], path=article.url, back=(article.url, t["back_article"]))


# ---- routes -------------------------------------------------------------------------------------
@router.get("/help", include_in_schema=False)
async def help_home(request: Request) -> Response:
    lang = preferred_lang(request)
    service = get_state(request).index.faq()
    if service is None:
        return loading(request, lang)
    response = _index_page(request, lang, catalogue(service), home=True)
    response.headers["Vary"] = "Accept-Language"
    return response


@router.get("/help/{lang}", include_in_schema=False)
async def help_index(request: Request, lang: str) -> Response:
    service = _serving(request, lang)
    if isinstance(service, Response):
        return service
    return _index_page(request, lang, catalogue(service), home=False)


@router.get("/help/{lang}/search", include_in_schema=False)
async def help_search(request: Request, lang: str) -> Response:
    service = _serving(request, lang)
    if isinstance(service, Response):
        return service
    cat = catalogue(service)
    t = texts.section(lang, "help")
    raw = request.query_params.get("q", "")
    page: dict[str, Any] = {
        "title": t["search_title"], "description": t["index_description"], "robots": "noindex",
        "crumbs": [(t["site"], f"/help/{lang}")], "contact_url": _contact_url(cat, lang),
        "path": f"/help/{lang}/search", "alternates": {code: f"/help/{code}/search" for code in LANGS},
    }
    if len(raw) > MAX_QUERY_CHARS:
        # the shopper's text is neither echoed back nor searched (it is not cut silently either)
        log.info("help search refused", extra={"q_len": len(raw), "lang_hint": lang})
        return render(request, "search.html", lang, status=422, cache="no-store", state="too_long",
                      message=t["search_too_long"].format(max=MAX_QUERY_CHARS), **page)
    query = " ".join(raw.split())
    if not query:
        return render(request, "search.html", lang, cache="no-store", state="empty",
                      message=t["search_empty"], **page)
    result = await run_in_threadpool(service.search, query, lang, RESULTS)
    shown = [h for h in result.hits if h.band != "none" and h.id in cat.articles]
    hits = [{"article": cat.articles[h.id], "band": h.band, "excerpt": excerpt(h.answer),
             "group": label(h.reason, lang)} for h in shown]
    band = result.band if hits else "none"
    log.info("help search", extra={
        "q_len": len(raw), "lang_hint": lang, "query_lang": result.query_lang, "lang": result.lang,
        "band": band, "top_id": hits[0]["article"].id if hits else None, "fallback": result.fallback,
    })  # fmt: skip
    page["title"] = f"{t['search_results_title']} · {query[:80]}"
    return render(request, "search.html", lang, cache="private, no-store", state=band, q=query,
                  hits=hits, message=t[f"band_{band}"], **page)


@router.get("/help/{lang}/{entry_id}", include_in_schema=False)
async def help_entry(request: Request, lang: str, entry_id: str) -> Response:
    service = _serving(request, lang)
    if isinstance(service, Response):
        return service
    cat = catalogue(service)
    article = cat.articles.get(entry_id)
    if article is None or article.lang not in LANGS:
        return not_found(request, lang)
    if article.lang != lang:  # one stable URL per entry: the one in its own language
        return RedirectResponse(article.url, status_code=301)
    t = texts.section(lang, "help")
    group = cat.group_of(article)
    alternates = {lang: article.url}
    for code in LANGS:
        other = cat.counterpart(article, code)
        if other is not None:
            alternates[code] = other.url
    crumbs = [(t["site"], f"/help/{lang}")]
    if group is not None:
        crumbs.append((label(article.category, lang), f"/help/{lang}#topic-{anchor(article.category)}"))
    return render(
        request, "entry.html", lang, title=article.title, description=excerpt(article.answer),
        article=article, answer_html=Markup(markdown_html(article.answer)),  # sanitised by nh3
        group=group, related=cat.related(article), crumbs=crumbs, alternates=alternates,
        thanks=request.query_params.get("feedback") == "thanks", path=article.url,
        contact_url=_contact_url(cat, lang),
        feedback_token=feedback_token(article, get_state(request).settings.survey_secret),
    )


@router.post("/help/{lang}/{entry_id}/feedback", include_in_schema=False)
async def help_feedback(request: Request, lang: str, entry_id: str) -> Response:
    service = _serving(request, lang)
    if isinstance(service, Response):
        return service
    state = get_state(request)
    article = catalogue(service).articles.get(entry_id)
    if article is None or article.lang != lang:
        return not_found(request, lang)
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    fetch_site = request.headers.get("sec-fetch-site")
    secret = get_state(request).settings.survey_secret
    if (fetch_site is not None and fetch_site not in CROSS_SITE_OK) or \
            not valid_token(article, (form.get("token") or [""])[0], secret):
        log.info("help feedback refused", extra={"entry": article.id, "fetch_site": fetch_site})
        return _feedback_refused(request, lang, article)
    answer = (form.get("helpful") or [""])[0]
    if answer not in ("yes", "no"):
        t = texts.section(lang, "help")
        return render(request, "message.html", lang, status=422, cache="no-store", robots="noindex",
                      title=t["feedback_error_title"], description=t["feedback_error_p"],
                      message=t["feedback_error_p"], path=article.url, back=(article.url, t["back_article"]))
    now = state.clock() if state.clock is not None else datetime.now(UTC)
    fields = {"entry": article.id, "lang": lang, "helpful": "1" if answer == "yes" else "0",
              "at": now.isoformat()}
    vote = vote_key(request, article, now.date().isoformat(), secret)
    try:
        if state.redis is None:
            raise RedisError("no Redis client")
        if not await state.redis.set(vote, "1", nx=True, ex=VOTE_TTL_S):
            log.info("help feedback repeated", extra={"entry": article.id})  # thanked, not counted
            return RedirectResponse(f"{article.url}?feedback=thanks#feedback", status_code=303)
        try:
            await state.redis.xadd(HELP_FEEDBACK, fields, maxlen=FEEDBACK_MAXLEN, approximate=True)
        except (RedisError, OSError):
            await state.redis.delete(vote)  # not counted: the visitor may try again
            raise
    except (RedisError, OSError):
        log.exception("help feedback not stored", extra={"entry": article.id})
        t = texts.section(lang, "help")
        return render(request, "message.html", lang, status=503, cache="no-store", robots="noindex",
                      headers={"Retry-After": "5"}, title=t["feedback_error_title"],
                      description=t["feedback_error_p"], message=t["feedback_error_p"], path=article.url,
                      back=(article.url, t["back_article"]))
    log.info("help feedback", extra={"entry": article.id, "lang": lang, "helpful": answer == "yes"})
    return RedirectResponse(f"{article.url}?feedback=thanks#feedback", status_code=303)
