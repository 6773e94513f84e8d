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


# what starts a line that is surely not the rest of a warning's message: a log record
# (timestamp, level, JSON), a traceback or an error
RECORD_RE = re.compile(r"^(\d{4}-\d\d-\d\d|\{|\[|Traceback|(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b|\w+Error\b)")


class WarningFilter:
    """Tells a warning from the rest: its `file:line: XWarning: message` line, the indented
    source line `warnings` prints after it, and between them the further lines of a multi-line
    message. A line after a warning that may be either is held until the next line says which
    (an indented source line: it was the message), or until `flush()`."""

    def __init__(self) -> None:
        self.inside = False
        self.held: str | None = None
        self.count = 0

    def feed(self, line: str) -> list[str]:
        """The lines to show now."""
        if WARNING_RE.search(line):
            self.count += 1
            self.inside, self.held = True, None
            return []
        if not self.inside:
            return [line]
        if line[:1].isspace():            # the source line closes the warning (and its message)
            self.inside, self.held = False, None
            return []
        if self.held is None and line.strip() and not RECORD_RE.match(line):
            self.held = line              # the message's next line, or the program's own?
            return []
        out = [self.held, line] if self.held is not None else [line]
        self.inside, self.held = False, None
        return out

    def flush(self) -> list[str]:
        held, self.held, self.inside = self.held, None, False
        return [held] if held is not None else []


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
                    for shown in noise.feed(line):
                        self.line(source, shown)
                    if noise.count and not announced:
                        announced.append(True)
                        self.line(source, f"(warnings are written to {self.log_dir / (source + '.log')})")
            if log is not None:
                for shown in noise.flush():
                    self.line(source, shown)
                log.close()

        thread = threading.Thread(target=run, name=f"pump-{source}", daemon=True)
        thread.start()
        return thread
