"""`make run`'s terminal: third-party warnings go to a log file, errors stay visible."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from ops.output import Console

CHILD = r'''
import sys, warnings
print("starting the server", flush=True)
print("  indented line of the child's own output", flush=True)
warnings.warn("pkg_resources is deprecated as an API", DeprecationWarning, stacklevel=1)
warnings.warn("datetime.utcnow() is deprecated", UserWarning, stacklevel=1)
print("a line of the child's own", flush=True)
print("Traceback (most recent call last):", flush=True)
print("ValueError: a real error", flush=True)
print("ready on port 5005", flush=True)
'''


def _run(console: Console) -> None:
    child = subprocess.Popen([sys.executable, "-W", "always", "-c", CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    assert child.stdout is not None
    console.pump("rasa", child.stdout).join(timeout=30)
    child.wait(timeout=30)


def test_warnings_go_to_the_log_and_the_rest_to_the_terminal(tmp_path: Path) -> None:
    out = io.StringIO()
    _run(Console(out, log_dir=tmp_path / "log"))
    shown = out.getvalue()
    assert "starting the server" in shown and "ready on port 5005" in shown
    assert "ValueError: a real error" in shown and "Traceback" in shown
    assert "indented line of the child's own output" in shown   # not part of a warning block
    assert "a line of the child's own" in shown                 # held, then shown
    assert "Warning" not in shown.replace("warnings are written to", "")
    assert "deprecated" not in shown
    assert shown.count("warnings are written to") == 1 and str(tmp_path / "log" / "rasa.log") in shown
    logged = (tmp_path / "log" / "rasa.log").read_text()
    assert "DeprecationWarning: pkg_resources is deprecated" in logged
    assert "UserWarning: datetime.utcnow() is deprecated" in logged
    assert "ready on port 5005" in logged


def test_without_a_log_folder_everything_is_shown(tmp_path: Path) -> None:
    out = io.StringIO()
    _run(Console(out))
    assert "DeprecationWarning" in out.getvalue() and "ready on port 5005" in out.getvalue()


def test_the_source_line_of_a_warning_goes_with_it(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text("import warnings\nprint('up', flush=True)\n"
                      "warnings.warn('old API', DeprecationWarning)\nprint('  still mine', flush=True)\n")
    out = io.StringIO()
    console = Console(out, log_dir=tmp_path / "log")
    child = subprocess.Popen([sys.executable, "-W", "always", str(script)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    assert child.stdout is not None
    console.pump("train", child.stdout).join(timeout=30)
    child.wait(timeout=30)
    assert "warnings.warn('old API'" in (tmp_path / "log" / "train.log").read_text()
    assert "warnings.warn" not in out.getvalue() and "  still mine" in out.getvalue()


def test_a_warning_message_on_several_lines_stays_out_of_the_terminal(tmp_path: Path) -> None:
    """As Rasa prints pkg_resources' namespace warnings: the message's second line is not
    indented, the source line follows."""
    from ops.output import WarningFilter

    lines = [
        "/x/pkg_resources/__init__.py:3117: DeprecationWarning: Deprecated call to `declare_namespace`.",
        "Implementing implicit namespace packages (as specified in PEP 420) is preferred.",
        "  declare_namespace(pkg)",
        "2026-12-05 00:40:24 INFO     root  - Starting Rasa server on http://127.0.0.1:5005",
        "/x/a.py:1: UserWarning: no source line follows",
        "2026-12-05 00:40:29 INFO     root  - Rasa server is up and running.",
        "/x/b.py:2: FutureWarning: one more",
        "Traceback (most recent call last):",
    ]
    lines += ["/x/c.py:3: UserWarning: last one, no source line", "the program's own last words"]
    noise = WarningFilter()
    shown = [out for line in lines for out in noise.feed(line)] + noise.flush()
    assert shown == [lines[3], lines[5], lines[7], lines[9]]
