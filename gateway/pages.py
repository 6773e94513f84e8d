"""The pages and static front-end the gateway serves: the widget script, the demo shop page,
the agent console, the dashboard, the FAQ studio and the files under widget/ (no build step:
served as written).

Pages that show customers' data get a strict Content-Security-Policy (scripts and styles
only from this origin, no inline code), so an injected string can never run.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from kit import texts

WIDGET_DIR = Path(__file__).resolve().parents[1] / "widget"
# blob: images: the console shows shoppers' files from blob: URLs of authenticated fetches
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
              "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'none'; "
              "form-action 'self'; frame-ancestors 'none'")
router = APIRouter()
WIDGET_TEXTS = "/*@widget-texts@*/{fr: {}, en: {}}"   # the marker widget.js carries


def page(path: Path, *, csp: str | None = STRICT_CSP, max_age: int = 60) -> Response:
    if not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": f"public, max-age={max_age}"}
    if csp:
        headers["Content-Security-Policy"] = csp
    return FileResponse(path, headers=headers)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def cacheable(request: Request, body: bytes, etag: str, media_type: str, max_age: int) -> Response:
    """A public, cacheable response; 304 when the client already holds this ETag."""
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@cache
def widget_script() -> tuple[bytes, str]:
    """widget.js with its texts (locales' `widget` section, both languages) in place of the
    marker, and its ETag: built once per process, one request for the shop's page as before."""
    source = (WIDGET_DIR / "widget.js").read_text(encoding="utf-8")
    data = {lang: texts.section(lang, "widget") for lang in texts.LANGS}
    # JSON is a JS literal; "<" escaped so no text can close a surrounding <script>
    literal = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    literal = literal.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if WIDGET_TEXTS not in source:
        raise RuntimeError("widget.js lost its texts marker " + WIDGET_TEXTS)
    body = source.replace(WIDGET_TEXTS, literal).encode()
    return body, etag_of(body)


@router.get("/widget.js", include_in_schema=False)
async def widget_js(request: Request) -> Response:
    """The one script a shop embeds; it may run on any page of the shop (no CSP of ours)."""
    return cacheable(request, *widget_script(), media_type="text/javascript; charset=utf-8", max_age=300)


@router.get("/demo", include_in_schema=False)
async def demo() -> Response:
    """A demo shop page embedding the widget exactly as a shop would."""
    return page(WIDGET_DIR / "demo" / "index.html", csp=None)


@router.get("/console", include_in_schema=False)
async def console() -> Response:
    return page(WIDGET_DIR / "console" / "index.html")


@router.get("/dashboard", include_in_schema=False)
async def dashboard() -> Response:
    """The manager's numbers (admin login; the data comes from /api/admin/analytics)."""
    return page(WIDGET_DIR / "dashboard" / "index.html")


@router.get("/studio", include_in_schema=False)
async def studio() -> Response:
    """The FAQ studio (editor or admin login; the data comes from /api/editor)."""
    return page(WIDGET_DIR / "studio" / "index.html")


def mount_static(app: FastAPI) -> None:
    """widget/<folder>/<file> at /static/<folder>/<file> (console scripts, styles, demo assets)."""
    app.mount("/static", StaticFiles(directory=WIDGET_DIR, check_dir=False), name="static")
