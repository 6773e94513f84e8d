"""One console shared by the supervisor and its children: `name | line`, never interleaved.

Third-party warnings (Rasa's training and start-up print ~40 lines of SQLAlchemy,
pkg_resources, jax and matplotlib deprecations) are not what a shop owner needs to read:
with a log folder, every line of a child goes to `<log_dir>/<child>.log`, and Python warning
blocks stay out of the terminal (one line says where they went). Errors and tracebacks
still show.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import IO, TextIO

SELF = "ops"
# `path/to/module.py:123: SomeWarning: text` (warnings.showwarning), or logging's
# `... WARNING py.warnings - ...DeprecationWarning...`
WARNING_RE = re.compile(r"^\S+:\d+: \w*Warning\b|\bpy\.warnings\b|\b\w+(Deprecation|Future|User)Warning: ")


class WarningFilter:
    """Tells a warning (its line, and the indented source line `warnings` prints after it)
    from the rest."""

    def __init__(self) -> None:
        self.inside = False
        self.count = 0

    def is_noise(self, line: str) -> bool:
        if WARNING_RE.search(line):
            self.inside = True
            self.count += 1
            return True
        source_line = self.inside and line[:1].isspace()
        self.inside = False
        return source_line


class Console:
    """Thread-safe line writer; each child's output is pumped through it with its name."""

    def __init__(self, stream: TextIO | None = None, width: int = 8, log_dir: Path | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.width = width
        self.log_dir = log_dir

    def fit(self, names: list[str]) -> None:
        """Widen the name column so all prefixes align."""
        self.width = max([self.width, *map(len, names)])

    def write(self, text: str) -> None:
        """Write text as-is (banners); a closed stdout must not crash the supervisor."""
        stream = self._stream or sys.stdout
        with self._lock:
            try:
                stream.write(text if text.endswith("\n") else text + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass

    def line(self, source: str, text: str) -> None:
        self.write(f"{source:<{self.width}} | {text}")

    def say(self, text: str) -> None:
        """A message from the supervisor itself."""
        self.line(SELF, text)

    def pump(self, source: str, pipe: IO[bytes]) -> threading.Thread:
        """Copy a child's output to the console, line by line, until EOF."""

        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = (self.log_dir / f"{source}.log").open("a", encoding="utf-8")
        noise = WarningFilter()
        announced: list[bool] = []

        def run() -> None:
            with pipe:
                for raw in iter(pipe.readline, b""):
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if log is None:
                        self.line(source, line)
                        continue
                    log.write(line + "\n")
                    log.flush()
                    if not noise.is_noise(line):
                        self.line(source, line)
                    elif noise.count == 1 and not announced:
                        announced.append(True)
                        self.line(source, f"(warnings are written to {self.log_dir / (source + '.log')})")
            if log is not None:
                log.close()

        thread = threading.Thread(target=run, name=f"pump-{source}", daemon=True)
        thread.start()
        return thread
