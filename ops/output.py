"""One console shared by the supervisor and its children: `name | line`, never interleaved."""

from __future__ import annotations

import sys
import threading
from typing import IO, TextIO

SELF = "ops"


class Console:
    """Thread-safe line writer; each child's output is pumped through it with its name."""

    def __init__(self, stream: TextIO | None = None, width: int = 8) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.width = width

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

        def run() -> None:
            with pipe:
                for raw in iter(pipe.readline, b""):
                    self.line(source, raw.decode("utf-8", "replace").rstrip("\r\n"))

        thread = threading.Thread(target=run, name=f"pump-{source}", daemon=True)
        thread.start()
        return thread
