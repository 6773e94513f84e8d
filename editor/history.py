"""Who changed which entry, when, and every earlier text of it, so any version can be read and
restored.

When the KB folder is in a git work tree, each publication is a git commit of that one file
with the editor as its author (the shop's reviews and history stay in git); otherwise each
version is kept as a file under `var/kb-versions/<entry id>/`, the text before the first
studio edit included. Version ids come back from callers: they are checked against a strict
format before any command or path is built from them.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from .entry_file import version_of, write_atomically

_SHA = re.compile(r"[0-9a-f]{40}")
_FOLDER_VERSION = re.compile(r"[0-9]{13}-[0-9a-f]{12}")
_ENTRY_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class Version:
    id: str
    author: str
    at: float
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class History(Protocol):
    kind: str

    def record(self, entry_id: str, path: Path, before: str | None, author: str, email: str,
               message: str) -> str: ...

    def versions(self, entry_id: str, path: Path) -> list[Version]: ...

    def text(self, entry_id: str, path: Path, version: str) -> str | None: ...


def git_root(folder: Path) -> Path | None:
    """The work tree holding `folder`, if git is installed and it is one."""
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


class GitHistory:
    kind = "git"

    def __init__(self, root: Path):
        self.root = root

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, text=True,
                              timeout=30, check=check)

    def _rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def record(self, entry_id: str, path: Path, before: str | None, author: str, email: str,
               message: str) -> str:
        rel = self._rel(path)
        self._git("add", "--", rel)
        # only this file, whatever else is staged; the committer is the studio, the author the editor
        self._git("-c", "user.name=FAQ studio", "-c", f"user.email={email}", "commit", "--quiet",
                  "--author", f"{author} <{email}>", "-m", message, "--only", "--", rel)
        return self._git("rev-parse", "HEAD").stdout.strip()

    def versions(self, entry_id: str, path: Path) -> list[Version]:
        done = self._git("log", "--follow", "--format=%H%x1f%an%x1f%at%x1f%s", "--", self._rel(path),
                         check=False)
        out = []
        for line in done.stdout.splitlines():
            sha, author, at, subject = (line.split("\x1f") + ["", "", "", ""])[:4]
            if _SHA.fullmatch(sha):
                out.append(Version(sha, author, float(at or 0), subject))
        return out

    def text(self, entry_id: str, path: Path, version: str) -> str | None:
        if not _SHA.fullmatch(version):
            return None
        done = self._git("show", f"{version}:{self._rel(path)}", check=False)
        return done.stdout if done.returncode == 0 else None


class FolderHistory:
    kind = "folder"

    def __init__(self, folder: Path):
        self.folder = folder

    def _dir(self, entry_id: str) -> Path:
        if not _ENTRY_ID.fullmatch(entry_id):
            raise ValueError(f"not an entry id: {entry_id!r}")
        return self.folder / entry_id

    def _keep(self, entry_id: str, text: str, author: str, message: str) -> str:
        version = f"{time.time_ns() // 1_000_000:013d}-{version_of(text.encode())[:12]}"
        folder = self._dir(entry_id)
        write_atomically(folder / f"{version}.md", text)
        write_atomically(folder / f"{version}.json", json.dumps(
            {"author": author, "at": time.time(), "message": message}, ensure_ascii=False))
        return version

    def record(self, entry_id: str, path: Path, before: str | None, author: str, email: str,
               message: str) -> str:
        if before is not None and not self.versions(entry_id, path):
            self._keep(entry_id, before, "", "before the studio")   # the first edit can be undone
            time.sleep(0.002)                                        # distinct, ordered ids
        return self._keep(entry_id, path.read_text(encoding="utf-8"), author, message)

    def versions(self, entry_id: str, path: Path) -> list[Version]:
        folder = self._dir(entry_id)
        out = []
        for meta in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
            try:
                info = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            out.append(Version(meta.stem, str(info.get("author", "")), float(info.get("at", 0)),
                               str(info.get("message", ""))))
        return out

    def text(self, entry_id: str, path: Path, version: str) -> str | None:
        if not _FOLDER_VERSION.fullmatch(version):
            return None
        file = self._dir(entry_id) / f"{version}.md"
        return file.read_text(encoding="utf-8") if file.is_file() else None


def history_for(kb_dir: Path, versions_dir: Path) -> History:
    root = git_root(kb_dir)
    return GitHistory(root) if root is not None else FolderHistory(versions_dir)
