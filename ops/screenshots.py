"""Refresh the screenshots committed under docs/screenshots from the browser tests.

The browser tests write every screenshot to var/screenshots/ on each run (tests/browser/conftest.py,
`screenshot`); the README shows copies kept in docs/screenshots/. This runs the tests that take
the named screenshots and copies the fresh files over:

    .venv/bin/python -m ops.screenshots                 # dashboard-fr (the default)
    .venv/bin/python -m ops.screenshots dashboard-fr dashboard-en

Needs what the browser tests need (Debian's chromium, the trained bot model).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "var" / "screenshots"
DOCS = REPO / "docs" / "screenshots"
# screenshot name -> the browser test that writes it
WRITTEN_BY = {
    "dashboard-fr": "tests/browser/test_dashboard_i18n.py",
    "dashboard-en": "tests/browser/test_dashboard_i18n.py",
    "dashboard": "tests/browser/test_dashboard.py",
    "studio-fr": "tests/browser/test_studio.py",
}


def publish(names: list[str]) -> list[Path]:
    """Run the tests behind `names`, then copy their screenshots to docs/screenshots."""
    unknown = sorted(set(names) - set(WRITTEN_BY))
    if unknown:
        raise SystemExit(f"no test writes {', '.join(unknown)} (known: {', '.join(sorted(WRITTEN_BY))})")
    tests = sorted({WRITTEN_BY[n] for n in names})
    started = {n: (OUTPUT / f"{n}.png").stat().st_mtime if (OUTPUT / f"{n}.png").exists() else 0.0
               for n in names}
    subprocess.run([sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider"], cwd=REPO,
                   check=True)
    copied = []
    for name in names:
        fresh = OUTPUT / f"{name}.png"
        if not fresh.exists() or fresh.stat().st_mtime <= started[name]:
            raise SystemExit(f"{fresh} was not written by {WRITTEN_BY[name]}")
        DOCS.mkdir(parents=True, exist_ok=True)
        copied.append(Path(shutil.copyfile(fresh, DOCS / f"{name}.png")))
    return copied


def main(argv: list[str] | None = None) -> None:
    for path in publish(list(argv if argv is not None else sys.argv[1:]) or ["dashboard-fr"]):
        print(path.relative_to(REPO))


if __name__ == "__main__":
    main()
