"""Every received e-mail, byte for byte: agents read the whole of it (the transcript keeps only
the new part, without quotes and signature), GDPR exports and erases it.

One file per mail, `<MAIL_DIR>/originals/<conversation>/<message key>.eml`. The key is the id of
the mail's message in the transcript (`message_key`), so the console asks for the original of a
message it shows, and a path is only ever built from two checked ids: a request cannot leave the
folder, nor reach another conversation's mail.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

KEY = re.compile(r"mail-[0-9a-f]{32}")
_CID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def message_key(message_id: str) -> str:
    """Our message id for a mail: a digest of its Message-ID (stable, and plain enough for every
    id built from it: analytics events, delivery status keys, file names)."""
    return "mail-" + hashlib.sha256(message_id.strip().lower().encode()).hexdigest()[:32]


class MailOriginals:
    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, cid: str, key: str) -> Path | None:
        """Where that mail is kept; None for ids that are not ours (no path is built from them)."""
        folder = self._folder(cid)
        if folder is None or not KEY.fullmatch(key or ""):
            return None
        return folder / f"{key}.eml"

    def keep(self, cid: str, message_id: str, raw: bytes) -> str:
        """Store it once (a second pass of the same mail keeps the first copy); returns its key."""
        key = message_key(message_id)
        path = self.path(cid, key)
        if path is None:
            raise ValueError(f"not a conversation id: {cid!r}")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(raw)
            tmp.replace(path)
        return key

    def _folder(self, cid: str) -> Path | None:
        return self.folder / cid if _CID.fullmatch(cid or "") else None

    def of_conversation(self, cid: str) -> list[tuple[str, bytes]]:
        """(file name, bytes) of every mail kept for the conversation (GDPR export)."""
        folder = self._folder(cid)
        if folder is None or not folder.is_dir():
            return []
        return [(f.name, f.read_bytes()) for f in sorted(folder.glob("*.eml"))]

    def erase(self, cid: str) -> None:
        """Every mail kept for the conversation (GDPR erase)."""
        folder = self._folder(cid)
        if folder is not None and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)

    def read(self, cid: str, key: str) -> bytes | None:
        path = self.path(cid, key)
        if path is None or not path.is_file():
            return None
        return path.read_bytes()
