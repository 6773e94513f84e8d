"""The pages and static front-end the gateway serves: the widget script, the demo shop page,
the agent console and the files under widget/ (no build step: served as written).

Pages that show customers' data get a strict Content-Security-Policy (scripts and styles
only from this origin, no inline code), so an injected string can never run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

WIDGET_DIR = Path(__file__).resolve().parents[1] / "widget"
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'none'; "
              "form-action 'self'; frame-ancestors 'none'")
router = APIRouter()


def page(path: Path, *, csp: str | None = STRICT_CSP, max_age: int = 60) -> Response:
    if not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": f"public, max-age={max_age}"}
    if csp:
        headers["Content-Security-Policy"] = csp
    return FileResponse(path, headers=headers)


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> Response:
    """The one script a shop embeds; it may run on any page of the shop (no CSP of ours)."""
    return page(WIDGET_DIR / "widget.js", csp=None, max_age=300)


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


def mount_static(app: FastAPI) -> None:
    """widget/<folder>/<file> at /static/<folder>/<file> (console scripts, styles, demo assets)."""
    app.mount("/static", StaticFiles(directory=WIDGET_DIR, check_dir=False), name="static")
