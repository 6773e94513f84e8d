"""Raw RFC 822 bytes -> `InboundMail`: what the channel needs of a shopper's e-mail, and nothing
that a hostile or broken message can turn into an exception, a hang or a silent loss.

- the stdlib parser with `email.policy.default`, hardened (`_Policy`): header values are capped
  when read, and the MIME headers (Content-Type/-Disposition/-Transfer-Encoding) stay plain
  strings, read by `Message`'s own string methods: the structured parser is quadratic on them
  (a 500 KB Content-Type takes 28 s) and recurses on nested comments (RecursionError);
- a message with more than 5 x `max_parts` lines starting with "--" (MIME delimiters) is read up
  to that line: the parser costs ~0.2 ms a part, and 40 MB hold 800,000 empty parts;
- the body as plain text: text/plain preferred, else HTML through inscriptis (scripts and styles
  dropped, links kept as `[text](url)`); charsets decoded as declared, else UTF-8, Windows-1252,
  Latin-1 (ISO-8859-1 is read as Windows-1252, as browsers do);
- the new part of a reply (`reply_text`) through mail-parser-reply (French and English quote
  headers, Outlook's "-----Original Message-----" / "De : ... Envoyé : ...", signatures);
- every attachment kept within `MailLimits` or listed in `dropped` with its reason; inline
  images count; a forwarded message (message/rfc822) is kept whole as `forwarded.eml`, not
  parsed again; archives named like zip bombs (`_bomb_name`) are dropped unopened;
- `problems`: what was malformed, for the agent and the logs.

Only `MailUnreadable` is raised: the input is not bytes, or is over `max_raw_bytes`.
"""

from __future__ import annotations

import codecs
import datetime
import email
import hashlib
import html
import io
import mimetypes
import re
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from mailparser_reply.parser import EmailMessage as _ReplyParser

from conversation.message import clean_text

MiB = 1024 * 1024


@dataclass(frozen=True)
class MailLimits:
    """What one message may cost us: beyond, parts are dropped or cut, and `problems` says so."""

    max_raw_bytes: int = 40 * MiB            # beyond: MailUnreadable (the caller quarantines it)
    max_attachments: int = 10
    max_attachment_bytes: int = 10 * MiB
    max_total_bytes: int = 25 * MiB          # all kept attachments together
    max_text_chars: int = 20_000
    max_html_chars: int = 1_000_000          # HTML read before conversion (~0.2 s)
    max_header_bytes: int = 64 * 1024        # the top header section; beyond is only a problem
    max_header_chars: int = 16 * 1024        # one header value; beyond is cut
    max_subject_chars: int = 500
    max_parts: int = 200                     # MIME parts read
    max_depth: int = 50                      # multipart nesting read
    max_references: int = 100


class MailUnreadable(ValueError):
    """Not a message we can even start to read: quarantine it."""


@dataclass(frozen=True)
class MailAttachment:
    name: str
    content_type: str        # as declared (not sniffed)
    data: bytes
    size: int


@dataclass(frozen=True)
class DroppedAttachment:
    name: str
    content_type: str
    size: int
    reason: str              # too_many, too_large, total_too_large, archive_bomb_name, unreadable


@dataclass(frozen=True)
class InboundMail:
    """One received message as the channel reads it (the raw bytes stay with the caller)."""

    message_id: str                                   # "<...>"; synthetic from the bytes when absent
    sender: str                                       # addr-spec, domain lowercased; "" if unusable
    sender_name: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: str = ""                                # the first usable Reply-To address
    subject: str = ""
    date: float | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    text: str = ""                                    # the whole body as plain text
    reply_text: str = ""                              # its new part (quotes, signature stripped)
    attachments: tuple[MailAttachment, ...] = ()
    dropped: tuple[DroppedAttachment, ...] = ()
    # what mail.rules reads (None: header absent)
    auto_submitted: str | None = None
    precedence: str | None = None
    x_autoreply: bool = False                         # X-Autoreply, X-Autorespond, X-AutoReply-From...
    auto_response_suppress: str | None = None         # Microsoft's X-Auto-Response-Suppress
    x_loop: str | None = None
    list_id: str | None = None
    list_unsubscribe: str | None = None
    return_path: str | None = None                    # "" for the null path <>
    content_type: str = "text/plain"                  # of the top part (multipart/report: a bounce)
    raw_size: int = 0
    problems: tuple[str, ...] = ()                    # what was malformed, short texts


# -- the hardened policy -----------------------------------------------------------------------

_MIME_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
_MIME_HEADER_CHARS = 2000    # Message.get_param is ~quadratic in ';' x length


class _Policy(EmailPolicy):
    """policy.default whose header reads cannot hang or raise (see the module docstring)."""

    max_header_chars: int = 16 * 1024

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        lowered = name.lower()
        cap = _MIME_HEADER_CHARS if lowered in _MIME_HEADERS else self.max_header_chars
        if lowered == "references" and len(value) > cap:          # the thread's root and latest ids
            return name, f"{value[:cap // 4]} {value[-(cap - cap // 4):]}"
        return name[:200], value[:cap]

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name"):
            return value
        if name.lower() in _MIME_HEADERS:
            return "".join(value.splitlines())
        try:
            return super().header_fetch_parse(name, value)
        except Exception:
            return "".join(value.splitlines())


@lru_cache(maxsize=8)
def _policy(max_header_chars: int) -> _Policy:
    return _Policy(max_header_chars=max_header_chars)


class _Problems(list):
    """Distinct problems, at most 50."""

    def add(self, problem: str) -> None:
        if problem not in self and len(self) < 50:
            self.append(problem)


# -- headers -----------------------------------------------------------------------------------

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_SPACES = re.compile(r"\s+")
_ID = re.compile(r"<([^<>\s]{1,900})>")
_BARE_ID = re.compile(r"[^<>\s]{1,900}@[^<>\s]{1,900}")
_ATOM = re.compile(r"[^\s@<>()\[\]\\,;:\"]+")


def _fix_8bit(value: str) -> str:
    """Raw 8-bit header bytes (kept by the parser as surrogate escapes) decoded as UTF-8 or cp1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _one_line(value: str, cap: int) -> str:
    """A header text for display: one line, no control or invisible characters, capped."""
    return _SPACES.sub(" ", clean_text(_CONTROLS.sub(" ", value))).strip()[:cap]


_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,40})\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)\s+(?==\?)")


def _decode_word(match: re.Match[str]) -> str:
    try:
        [(data, charset)] = decode_header(match.group())
    except Exception:
        return match.group()
    return _decode_text(data, charset, _Problems()) if isinstance(data, bytes) else str(data)


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded wherever they are (a display name, a file name such as
    `=?utf-8?q?r=C3=A9sum=C3=A9?=.txt`), each alone: a broken one stays as it is."""
    value = _fix_8bit(value)
    if "=?" not in value:
        return value
    return _ENCODED_WORD.sub(_decode_word, _BETWEEN_WORDS.sub("", value))


def addr_spec(value: str) -> str:
    """`local@domain` with the domain lowercased, or "" for anything not usable as an address."""
    local, at, domain = value.strip().strip("<>").rpartition("@")
    if not at or len(local) > 64 or len(domain) > 253 or not _ATOM.fullmatch(local) \
            or not _ATOM.fullmatch(domain) or domain.startswith(".") or domain.endswith(".") \
            or ".." in domain:
        return ""
    return f"{local}@{domain.lower()}"


class _Headers:
    """The raw header values of one message (first occurrence first), read without raising."""

    def __init__(self, msg: Message, problems: _Problems, budget: int) -> None:
        self.msg = msg
        self.problems = problems
        self.values: dict[str, list[str]] = {}
        used: dict[str, int] = {}
        for name, value in msg.raw_items():
            name, value = str(name).lower(), str(value)
            used[name] = used.get(name, 0) + len(value)
            if used[name] > budget and name in self.values:     # 200 x 16 KB of To: 2.4 s
                problems.add(f"header {name[:40]} repeated beyond {budget} characters: the rest not read")
                continue
            self.values.setdefault(name, []).append(value)

    def first(self, name: str) -> str | None:
        found = self.values.get(name)
        return "".join(found[0].splitlines()) if found else None

    def text(self, name: str, cap: int = 998) -> str | None:
        raw = self.first(name)
        return None if raw is None else _one_line(_fix_8bit(raw), cap)

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(display name, addr-spec) of every usable address in every such header."""
        out = []
        for raw in self.values.get(name, ()):
            try:
                pairs = getaddresses([_fix_8bit("".join(raw.splitlines()))])
            except Exception:
                self.problems.add(f"unreadable {name}")
                continue
            for display, addr in pairs:
                spec = addr_spec(addr)
                if spec:
                    out.append((_one_line(_decode_words(display), 200), spec))
        return out

    def subject(self, cap: int) -> str:
        if "subject" not in self.values:
            return ""
        try:
            value = str(self.msg["subject"])
        except Exception:
            value = _decode_words(self.first("subject") or "")
        return _one_line(_fix_8bit(value), cap)

    def ids(self, name: str) -> list[str]:
        """The `<id>`s in every such header, in order, deduplicated; garbage between them skipped."""
        out: dict[str, None] = {}
        for raw in self.values.get(name, ()):
            # encoded words have no place here, but writers that fold at 78 (Python's email)
            # produce them for any id longer than a line: read the ids they hold
            value = _decode_words("".join(raw.splitlines()))
            found = [f"<{i}>" for i in _ID.findall(value)]
            if not found:
                found = [f"<{i.strip('<>')}>" for i in _BARE_ID.findall(value)][:1]
            out.update(dict.fromkeys(found))
        return list(out)

    def date(self) -> float | None:
        raw = self.first("date")
        if raw is None:
            return None
        try:
            parsed = parsedate_to_datetime(_fix_8bit(raw).strip())
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.UTC)
            return parsed.timestamp()
        except Exception:
            self.problems.add("unreadable date")
            return None

    def return_path(self) -> str | None:
        raw = self.first("return-path")
        if raw is None:
            return None
        value = raw.strip()
        if value.replace(" ", "") in ("", "<>"):
            return ""
        return addr_spec(parseaddr(value)[1]) or _one_line(value, 300)


# -- bodies ------------------------------------------------------------------------------------

_UNSAFE_CODECS = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape"})
_HTML_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], display_links=True, display_images=False)
_TAGS = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING = re.compile(r"[ \t]+\n")


def _codec(charset: str) -> str | None:
    """Python's codec for a declared charset, None if unknown or not meant for mail text."""
    try:
        name = codecs.lookup(charset.strip().strip("\"'")[:64]).name
    except (LookupError, ValueError, TypeError):
        return None
    return None if name in _UNSAFE_CODECS else name


def _decode_text(data: bytes, charset: str | None, problems: _Problems) -> str:
    """Bytes as the declared charset says, else UTF-8, cp1252, Latin-1: never an exception."""
    if charset:
        codec = _codec(charset)
        if codec is None:
            problems.add(f"unknown charset {_one_line(charset, 40)}")
        else:
            for candidate in (("cp1252", codec) if codec == "iso8859-1" else (codec,)):
                try:
                    return data.decode(candidate)
                except (UnicodeError, LookupError):
                    pass
            problems.add(f"charset {_one_line(charset, 40)} does not match the bytes")
    for candidate in ("utf-8", "cp1252"):
        try:
            return data.decode(candidate)
        except UnicodeError:
            pass
    return data.decode("latin-1")


def _html_to_text(markup: str, problems: _Problems, max_chars: int) -> str:
    """Readable text of an HTML body: scripts and styles dropped, links kept as [text](url)."""
    if len(markup) > max_chars:
        markup = markup[:max_chars]
        problems.add(f"html cut at {max_chars} characters")
    try:
        return get_text(markup.replace("\x00", ""), _HTML_CONFIG)
    except Exception:
        problems.add("unreadable html")
        return html.unescape(_TAGS.sub(" ", markup))


def _tidy(text: str) -> str:
    text = _TRAILING.sub("\n", clean_text(text))
    return _BLANK_LINES.sub("\n\n", text).strip()


_LONG_LINE = re.compile(r"^[^\n]{500,}$", re.MULTILINE)
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")


def reply_part(text: str) -> str:
    """The new part of a reply: quoted messages (French, English, Outlook headers) and the
    signature stripped by mail-parser-reply; the whole text if that would leave nothing.

    Lines of 500+ characters are set aside while it runs: its "On ... wrote:" pattern is
    quadratic in a line's length (8,000 characters: 1.2 s), and no quote header is that long."""
    if not text.strip():
        return text
    long_lines: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        long_lines.append(match.group())
        return f"\ue000{len(long_lines) - 1}\ue001"

    prepared = _LONG_LINE.sub(set_aside, text.replace("\ue000", "").replace("\ue001", ""))
    prepared = prepared.replace("\u00a0", " ").replace("\u202f", " ")   # French "a écrit :"
    try:
        parsed = _ReplyParser(text=prepared, languages=["fr", "en"], keep_hyphen_lists=True).read()
        first = parsed.replies[0] if parsed.replies else None
        body = ""
        if first is not None and not first.headers:   # headers: all quoted
            body = first.body if _looks_like_signature(first.signatures or "") else first.content
    except Exception:
        return text
    body = _PLACEHOLDER.sub(lambda m: long_lines[int(m.group(1))], body).strip()
    return body or text


SIGN_OFF_CHARS = 40      # "Cordialement,", "Best regards," - not "Thanks, but my parcel never came..."
SIGNATURE_LINES = 8


def _looks_like_signature(block: str) -> bool:
    """mail-parser-reply starts a signature at any line opening with "Thanks," or "Best": a sign-off
    is short and so is what follows; a longer block is the shopper's own text, kept."""
    lines = [line for line in block.strip().splitlines() if line.strip()]
    return not lines or (len(lines[0].strip()) <= SIGN_OFF_CHARS and len(lines) <= SIGNATURE_LINES)


# -- attachments -------------------------------------------------------------------------------

_ARCHIVES = frozenset({"zip", "rar", "7z", "tar", "gz", "tgz", "bz2", "tbz", "tbz2", "xz", "txz", "zst",
                       "lz", "lzma", "z", "cab", "arj", "lzh", "ace", "jar", "iso", "cpio"})
_COMPRESSED = frozenset({"gz", "bz2", "xz", "zst", "lz", "lzma", "z"})
_KNOWN_BOMBS = frozenset({"42.zip", "zbsm.zip", "zblg.zip", "zbxl.zip", "r.zip", "droste.zip", "overlap.zip"})


def _bomb_name(name: str) -> bool:
    """A zip bomb by its name alone (archives are never opened here): a published bomb
    (42.zip, zbsm.zip, droste.zip...) or an archive inside an archive (x.zip.zip, a.tar.gz.7z;
    tar.gz and the like count as one archive)."""
    lowered = name.lower().strip()
    if lowered in _KNOWN_BOMBS:
        return True
    suffixes = lowered.split(".")[1:]
    count = 0
    while suffixes and suffixes[-1] in _ARCHIVES:
        ext = suffixes.pop()
        if not (ext in _COMPRESSED and suffixes and suffixes[-1] == "tar"):
            count += 1
    return count >= 2


def _clean_name(name: str) -> str:
    base = re.split(r"[/\\]", _decode_words(name))[-1]
    return _one_line(base, 255).strip(". ")


def _default_name(ctype: str) -> str:
    if ctype == "message/rfc822":
        return "forwarded.eml"
    if ctype.startswith("message/"):
        return f"{ctype.split('/', 1)[1]}.txt"
    return "attachment" + (mimetypes.guess_extension(ctype) or ".bin")


def _serialized(part: Message, policy: _Policy) -> bytes:
    """A message/* part's payload as bytes, headers as received (no refolding, no re-parsing)."""
    buf = io.BytesIO()
    generator = BytesGenerator(buf, mangle_from_=False, policy=policy.clone(refold_source="none"))
    for sub in part.get_payload() if part.is_multipart() else []:    # a list: nothing decoded
        generator.flatten(sub)
    return buf.getvalue()


# -- the message -------------------------------------------------------------------------------


def _walk(msg: Message, limits: MailLimits, problems: _Problems) -> list[Message]:
    """Leaf parts in order, depth-first without recursion; forwarded messages stay leaves."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > limits.max_parts:
            problems.add(f"more than {limits.max_parts} MIME parts: the rest not read")
            break
        for defect in getattr(part, "defects", ()):
            problems.add(f"defect {type(defect).__name__}")
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            if depth >= limits.max_depth:
                problems.add(f"multipart nested deeper than {limits.max_depth}: not read")
                continue
            stack.extend((child, depth + 1) for child in reversed(part.get_payload()))
        else:
            leaves.append(part)
    return leaves


class _Body:
    """Texts and attachments of a message's leaf parts, within the limits."""

    def __init__(self, limits: MailLimits, problems: _Problems, policy: _Policy) -> None:
        self.limits, self.problems, self.policy = limits, problems, policy
        self.plain: list[str] = []
        self.html: list[str] = []
        self.kept: list[MailAttachment] = []
        self.dropped: list[DroppedAttachment] = []
        self.total = 0
        self.truncated = False

    def add(self, part: Message) -> None:
        ctype = part.get_content_type()
        try:
            disposition = part.get_content_disposition()
            filename = part.get_filename()
        except Exception:
            disposition, filename = None, None
            self.problems.add("unreadable content-disposition")
        if part.get_content_maintype() == "multipart" or (
                ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename):
            self._text(part, ctype)
        else:
            self._attachment(part, ctype, _clean_name(str(filename or "")) or _default_name(ctype))

    def _text(self, part: Message, ctype: str) -> None:
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return
        try:
            charset = part.get_content_charset()
        except Exception:
            charset = None
        text = _decode_text(data, charset, self.problems)
        cap = 2 * self.limits.max_text_chars       # HTML is cut before its conversion
        if len(text) > cap and ctype != "text/html":
            text, self.truncated = text[:cap], True
        (self.html if ctype == "text/html" else self.plain).append(text)

    def _attachment(self, part: Message, ctype: str, name: str) -> None:
        limits = self.limits
        try:
            # message/rfc822, message/delivery-status... hold parsed messages: written back as bytes
            data = _serialized(part, self.policy) if part.is_multipart() else part.get_payload(decode=True)
            if not isinstance(data, bytes):
                raise ValueError("no payload")
        except Exception:
            self.dropped.append(DroppedAttachment(name, ctype, 0, "unreadable"))
            return
        size = len(data)
        if _bomb_name(name):
            reason = "archive_bomb_name"
        elif len(self.kept) >= limits.max_attachments:
            reason = "too_many"
        elif size > limits.max_attachment_bytes:
            reason = "too_large"
        elif self.total + size > limits.max_total_bytes:
            reason = "total_too_large"
        else:
            self.kept.append(MailAttachment(name, ctype, data, size))
            self.total += size
            return
        self.dropped.append(DroppedAttachment(name, ctype, size, reason))

    def text(self) -> str:
        plain = _tidy("\n\n".join(self.plain))
        if plain:
            text = plain
        else:
            converted = [_html_to_text(h, self.problems, self.limits.max_html_chars) for h in self.html]
            text = _tidy("\n\n".join(converted))
        if self.truncated or len(text) > self.limits.max_text_chars:
            self.problems.add(f"text cut at {self.limits.max_text_chars} characters")
            text = text[:self.limits.max_text_chars].rstrip()
        return text


def _read_cut(raw: bytes, limits: MailLimits, problems: _Problems) -> bytes:
    """The bytes the parser gets: up to the (5 x max_parts)th line starting with "--"."""
    pos = 0
    for _ in range(5 * limits.max_parts):
        pos = raw.find(b"\n--", pos)
        if pos < 0:
            return raw
        pos += 3
    problems.add(f"more than {5 * limits.max_parts} MIME delimiter lines: read the first {pos} bytes")
    return raw[:pos - 3]


def _message(raw: bytes, policy: _Policy, problems: _Problems) -> tuple[Message | None, bool]:
    """The parsed message and whether its body was read (else headers only)."""
    try:
        return email.message_from_bytes(raw, policy=policy), True
    except Exception as exc:
        problems.add(f"unparsable body ({type(exc).__name__})")
    try:
        return BytesParser(policy=policy).parsebytes(raw, headersonly=True), False
    except Exception as exc:
        problems.add(f"unparsable headers ({type(exc).__name__})")
        return None, False


def parse(raw: bytes, limits: MailLimits = MailLimits()) -> InboundMail:
    """Read one received message; never raises on malformed content (see the module docstring)."""
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise MailUnreadable(f"a message is bytes, not {type(raw).__name__}")
    if len(raw) > limits.max_raw_bytes:
        raise MailUnreadable(f"message of {len(raw)} bytes (limit {limits.max_raw_bytes})")
    problems = _Problems()
    synthetic = f"<{hashlib.sha256(raw).hexdigest()[:32]}@synthetic.invalid>"
    end = re.search(rb"\r?\n\r?\n", raw)
    if (end.start() if end else len(raw)) > limits.max_header_bytes:
        problems.add(f"header section over {limits.max_header_bytes} bytes")
    policy = _policy(limits.max_header_chars)
    msg, body_read = _message(_read_cut(raw, limits, problems), policy, problems)
    if msg is None:
        return InboundMail(message_id=synthetic, sender="", raw_size=len(raw), problems=tuple(problems))

    headers = _Headers(msg, problems, limits.max_header_bytes)
    for name, values in headers.values.items():
        if any(len(v) >= (_MIME_HEADER_CHARS if name in _MIME_HEADERS else limits.max_header_chars)
               for v in values):
            problems.add(f"header {name[:40]} cut")
    ids = headers.ids("message-id")
    if not ids:
        problems.add("no message-id")
    senders = headers.addresses("from")
    if not senders:
        problems.add("no usable from")
    reply_to = headers.addresses("reply-to")
    references = headers.ids("references")
    if len(references) > limits.max_references:
        references = references[:1] + references[1 - limits.max_references:]   # root + latest

    body = _Body(limits, problems, policy)
    if body_read:
        for part in _walk(msg, limits, problems):
            try:
                body.add(part)
            except Exception as exc:    # a part we did not foresee: noted, the rest still read
                problems.add(f"unreadable part ({type(exc).__name__})")
    text = body.text()
    try:
        content_type = msg.get_content_type()
    except Exception:
        content_type = "text/plain"

    return InboundMail(
        message_id=ids[0] if ids else synthetic,
        sender=senders[0][1] if senders else "",
        sender_name=senders[0][0] if senders else "",
        to=tuple(dict.fromkeys(a for _, a in headers.addresses("to"))),
        cc=tuple(dict.fromkeys(a for _, a in headers.addresses("cc"))),
        reply_to=reply_to[0][1] if reply_to else "",
        subject=headers.subject(limits.max_subject_chars),
        date=headers.date(),
        in_reply_to=tuple(headers.ids("in-reply-to")[:limits.max_references]),
        references=tuple(references),
        text=text,
        reply_text=reply_part(text),
        attachments=tuple(body.kept),
        dropped=tuple(body.dropped),
        auto_submitted=headers.text("auto-submitted"),
        precedence=headers.text("precedence"),
        x_autoreply=any(h in headers.values for h in
                        ("x-autoreply", "x-autorespond", "x-autoreply-from", "x-mail-autoreply")),
        auto_response_suppress=headers.text("x-auto-response-suppress"),
        x_loop=headers.text("x-loop"),
        list_id=headers.text("list-id"),
        list_unsubscribe=headers.text("list-unsubscribe"),
        return_path=headers.return_path(),
        content_type=content_type,
        raw_size=len(raw),
        problems=tuple(problems),
    )
