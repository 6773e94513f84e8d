"""Files shoppers send (a photo of a damaged parcel, an invoice as PDF), kept on disk under
`var/attachments/` with their metadata in Redis.

What a file is, is read from its bytes, never from its name or the client's Content-Type:
JPEG, PNG, WebP, GIF and PDF by their magic numbers; anything else (SVG and HTML included,
which a browser could run as a page) is refused. Images are then decoded with Pillow, within
a pixel budget, so a truncated file, a polyglot or a decompression bomb is refused before
anyone opens it. The file is stored under a random name (the shopper's file name is kept,
cleaned, for display only: it never becomes a path), and its metadata and the conversation's
count and byte total are written in one Redis script, so two uploads at once cannot both
squeeze under the limits. An image is kept without its metadata: a phone photo's EXIF says
where and when it was taken and with what, which an agent looking at a damaged parcel does not
need (GDPR's data minimisation); only its pixels, turned upright, and its colour profile stay.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import secrets
import time
import unicodedata
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from kit.keys import ATTACHMENT, ATTACHMENT_BYTES, ATTACHMENTS
from kit.redis import decoded, text

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
TYPES = (*IMAGE_TYPES, "application/pdf")
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
              "application/pdf": "pdf"}
_ID = re.compile(r"^a-[0-9a-f]{32}$")
# what an image keeps of its own information when written again: what it takes to draw it
_DRAWING = ("icc_profile", "transparency", "duration", "loop", "background", "disposal", "dpi")
_ORIENTATION = 0x0112   # EXIF's Orientation tag
MAX_NAME_CHARS = 100
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"
                          r"<>:\"/\\|?*;]")

# KEYS: the conversation's zset of ids, its byte total, the file's metadata hash
# ARGV: id, now, size, max count, max total bytes, then the hash's field/value pairs
_ADMIT = """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
if total + tonumber(ARGV[3]) > tonumber(ARGV[5]) then return -2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('INCRBY', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[3], unpack(ARGV, 6))
return 1
"""


@dataclass(frozen=True)
class Limits:
    """Per file, per conversation; images also by their decoded size (decompression bombs)."""

    max_bytes: int = 5 * 1024 * 1024
    max_count: int = 10
    max_total_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000          # a 40 MP photo; a bomb declares far more
    max_side: int = 12_000


class AttachmentRefused(ValueError):
    """A file we will not keep: `status` is the HTTP answer (413 too big, 415 not a type we
    take, 422 unreadable, 409 the conversation's limits), `code` a stable name for clients."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Attachment:
    id: str
    conversation_id: str
    name: str                 # the shopper's file name, cleaned: display only
    type: str                 # sniffed MIME type
    size: int
    sha256: str
    created_at: float
    by: str                   # who sent it: "shopper", or the channel ("messenger", "whatsapp")
    width: int = 0
    height: int = 0

    def public(self) -> dict[str, Any]:
        """What a message carries about it (no hash, no path)."""
        return {"id": self.id, "name": self.name, "type": self.type, "size": self.size,
                "width": self.width, "height": self.height}

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Attachment:
        return cls(id=data["id"], conversation_id=data["conversation_id"], name=data.get("name", ""),
                   type=data["type"], size=int(data.get("size") or 0), sha256=data.get("sha256", ""),
                   created_at=float(data.get("created_at") or 0), by=data.get("by", ""),
                   width=int(data.get("width") or 0), height=int(data.get("height") or 0))


def sniff(data: bytes) -> str | None:
    """The type of a file from its first bytes, among those we accept; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def clean_name(raw: str, kind: str) -> str:
    """A file name fit for display and a Content-Disposition: its last path segment, without
    control, bidi or path characters, at most MAX_NAME_CHARS, with the extension of its real
    type (a PDF called photo.jpg is shown as photo.pdf)."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().lstrip(".").strip()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[:MAX_NAME_CHARS - 6].strip() or "file"
    return f"{stem}.{EXTENSIONS[kind]}"


def check_image(data: bytes, kind: str, limits: Limits) -> tuple[bytes, int, int]:
    """(the image without its metadata, width, height) once it decodes as the type its magic
    number says, within the pixel budget; AttachmentRefused otherwise."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format != PILLOW_FORMATS[kind]:
                    raise AttachmentRefused(415, "bad_type", "the file is not the image its header says")
                width, height = img.size
                if width < 1 or height < 1 or width > limits.max_side or height > limits.max_side \
                        or width * height > limits.max_pixels:
                    raise AttachmentRefused(413, "too_many_pixels",
                                            f"images are limited to {limits.max_pixels} pixels")
                img.load()   # the whole first frame: a truncated or corrupt file fails here
                if getattr(img, "n_frames", 1) * width * height > limits.max_pixels:
                    # writing an animation again decodes every frame: the budget covers them all
                    raise AttachmentRefused(413, "too_many_pixels", "animations are limited to "
                                            f"{limits.max_pixels} pixels over all their frames")
                return without_metadata(img, kind)
    except AttachmentRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AttachmentRefused(413, "too_many_pixels", f"images are limited to {limits.max_pixels} "
                                "pixels") from exc
    except Exception as exc:   # noqa: BLE001  (Pillow raises OSError, SyntaxError, ValueError...)
        raise AttachmentRefused(422, "unreadable", "the image could not be read") from exc


def without_metadata(img: Any, kind: str) -> tuple[bytes, int, int]:
    """The image written again with nothing but what draws it: EXIF (GPS position, camera,
    date), XMP and comments are left out. EXIF's orientation is applied to the pixels first, so
    a photo taken sideways still shows upright. A JPEG that needs no turn is written with its
    own quantisation tables (no visible loss); animated GIF, PNG and WebP keep their frames."""
    from PIL import ImageOps

    drawing = {key: img.info[key] for key in _DRAWING if key in img.info}
    orientation = img.getexif().get(_ORIENTATION, 1)
    img.info = {}            # the encoders fall back on img.info for comments: nothing to find
    options: dict[str, Any] = {**drawing, "comment": b""}
    animated = getattr(img, "n_frames", 1) > 1
    if animated:
        options["save_all"] = True
    elif orientation not in (None, 1):
        img = ImageOps.exif_transpose(img)
        img.info = {}
    fmt = PILLOW_FORMATS[kind]
    if fmt == "JPEG":
        options["quality"] = "keep" if orientation in (None, 1) else 92
    elif fmt == "WEBP":
        options["quality"] = 90
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue(), img.width, img.height


def inspect(data: bytes, limits: Limits) -> tuple[str, bytes, int, int]:
    """(type, the bytes to keep, width, height) of a file we accept, else AttachmentRefused;
    CPU-bound (images are decoded and written again without their metadata)."""
    if not data:
        raise AttachmentRefused(422, "empty", "the file is empty")
    if len(data) > limits.max_bytes:
        raise AttachmentRefused(413, "too_big", f"files are limited to {limits.max_bytes} bytes")
    kind = sniff(data)
    if kind is None:
        raise AttachmentRefused(415, "bad_type",
                                "only images (JPEG, PNG, WebP, GIF) and PDF files are accepted")
    width = height = 0
    if kind in IMAGE_TYPES:
        data, width, height = check_image(data, kind, limits)
    return kind, data, width, height


def default_root() -> Path:
    """ATTACHMENTS_DIR, else var/attachments (the gateway's settings read the same variable)."""
    return Path(os.environ.get("ATTACHMENTS_DIR", "").strip() or "var/attachments")


def valid_id(aid: str) -> bool:
    return bool(_ID.fullmatch(aid or ""))


class AttachmentStore:
    """The files of conversations: checked, stored, listed, read back and erased."""

    def __init__(self, redis: aioredis.Redis, root: Path | str, limits: Limits | None = None) -> None:
        self.redis = redis
        self.root = Path(root)
        self.limits = limits or Limits()
        self._admit = redis.register_script(_ADMIT)

    def path_of(self, aid: str) -> Path:
        """Where a file lives: named by its random id only (checked), never by anything sent."""
        if not valid_id(aid):
            raise ValueError("not an attachment id")
        return self.root / aid[2:4] / aid

    async def save(self, cid: str, data: bytes, name: str, *, by: str) -> Attachment:
        """Check and keep one file of conversation `cid`; AttachmentRefused when it is not one
        we take or the conversation has reached its limits."""
        kind, data, width, height = await asyncio.to_thread(inspect, data, self.limits)
        aid = "a-" + secrets.token_hex(16)
        attachment = Attachment(id=aid, conversation_id=cid, name=clean_name(name, kind), type=kind,
                                size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                created_at=time.time(), by=by, width=width, height=height)
        path = self.path_of(aid)
        await asyncio.to_thread(_write, path, data)
        fields: list[Any] = []
        for key, value in asdict(attachment).items():
            fields += [key, str(value)]
        try:
            admitted = await self._admit(
                keys=[ATTACHMENTS.format(cid=cid), ATTACHMENT_BYTES.format(cid=cid),
                      ATTACHMENT.format(aid=aid)],
                args=[aid, attachment.created_at, attachment.size, self.limits.max_count,
                      self.limits.max_total_bytes, *fields])
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if admitted != 1:
            path.unlink(missing_ok=True)
            if admitted == -1:
                raise AttachmentRefused(409, "too_many",
                                        f"at most {self.limits.max_count} files per conversation")
            raise AttachmentRefused(409, "quota", f"at most {self.limits.max_total_bytes} bytes of files "
                                    "per conversation")
        return attachment

    async def get(self, aid: str) -> Attachment | None:
        if not valid_id(aid):
            return None
        data = decoded(await self.redis.hgetall(ATTACHMENT.format(aid=aid)))
        return Attachment.from_hash(data) if data else None

    async def read(self, attachment: Attachment) -> bytes | None:
        """The file's bytes, or None when it is gone from the disk."""
        try:
            return await asyncio.to_thread(self.path_of(attachment.id).read_bytes)
        except FileNotFoundError:
            return None

    async def of_conversation(self, cid: str) -> list[Attachment]:
        ids = [text(a) for a in await self.redis.zrange(ATTACHMENTS.format(cid=cid), 0, -1)]
        found = [await self.get(aid) for aid in ids]
        return [a for a in found if a is not None]

    async def erase_conversation(self, cid: str) -> int:
        """Delete the files of a conversation and their metadata (GDPR erase, retention);
        returns how many files were removed."""
        ids = [text(a) for a in await self.redis.zrange(ATTACHMENTS.format(cid=cid), 0, -1)]
        removed = 0
        for aid in ids:
            if valid_id(aid):
                removed += await asyncio.to_thread(_unlink, self.path_of(aid))
        keys = [ATTACHMENTS.format(cid=cid), ATTACHMENT_BYTES.format(cid=cid),
                *(ATTACHMENT.format(aid=aid) for aid in ids)]
        await self.redis.delete(*keys)
        return removed


def _write(path: Path, data: bytes) -> None:
    """Written beside, then renamed: a reader never sees half a file. Owner-only permissions."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def export_entry(attachment: Attachment) -> dict[str, Any]:
    """An attachment in a GDPR export: its metadata (the file itself is served to the admin
    by its id)."""
    return json.loads(json.dumps(asdict(attachment)))
