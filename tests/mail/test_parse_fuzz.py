"""mail.parse never raises (but MailUnreadable over the cap) and never hangs, whatever the bytes:
random bytes, mutated real messages, and hand-made monsters (1 MB headers, 10 MB bodies,
deep nesting, tens of thousands of parts, broken base64, bomb names)."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mail.parse import InboundMail, MailLimits, MailUnreadable, parse

MB = 1024 * 1024
DEFAULTS = MailLimits()


def _samples() -> list[bytes]:
    plain = EmailMessage()
    plain["From"] = "=?utf-8?q?Ren=C3=A9e?= <renee@example.fr>"
    plain["To"] = "support@shop.test"
    plain["Subject"] = "Où est ma commande ?"
    plain["Message-ID"] = "<a1@example.fr>"
    plain["References"] = "<r1@shop.test> <r2@shop.test>"
    plain.set_content("Bonjour,\n\nLe lun. 1 déc. 2026 à 10:00, Support <s@shop.test> a écrit :\n> Bonjour")
    rich = EmailMessage()
    rich["From"] = "bob@example.com"
    rich.set_content("Hi")
    rich.add_alternative("<p>Hi <a href='https://x.test'>there</a></p><script>x()</script>", subtype="html")
    rich.add_attachment(b"%PDF-1.4 data", maintype="application", subtype="pdf", filename="facture.pdf")
    rich.add_attachment(b"PK\x03\x04", maintype="application", subtype="zip", filename="42.zip")
    rich.add_attachment(plain)
    latin = (b"From: x@y.fr\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>d=E9j=E0 arriv=E9</p>\r\n")
    report = (b"From: MAILER-DAEMON@mx.test\r\nReturn-Path: <>\r\n"
              b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
              b"--B\r\n\r\nfailed\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n"
              b"--B--\r\n")
    return [plain.as_bytes(), rich.as_bytes(), latin, report]


SAMPLES = _samples()
CHARSETS = ["utf-8", "utf-16", "utf-32", "utf-7", "iso-8859-1", "shift_jis", "punycode", "idna", "rot13",
            "base64", "unicode_escape", "x-unknown", "", '"', "utf-8\x00", "a" * 500, "gb18030", "cp037"]


def check(raw: bytes, limits: MailLimits = DEFAULTS, seconds: float = 5.0) -> InboundMail:
    start = time.perf_counter()
    mail = parse(raw, limits)
    assert isinstance(mail, InboundMail)
    assert time.perf_counter() - start < seconds
    assert mail.message_id.startswith("<") and mail.message_id.endswith(">")
    assert len(mail.text) <= limits.max_text_chars and len(mail.subject) <= limits.max_subject_chars
    assert len(mail.attachments) <= limits.max_attachments
    assert sum(a.size for a in mail.attachments) <= limits.max_total_bytes
    return mail


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "nul", "charset", "insert", "header", "boundary"]))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "truncate":
            del raw[at:]
        elif op == "flip" and raw:
            raw[at] ^= draw(st.integers(1, 255))
        elif op == "nul":
            raw[at:at] = b"\x00" * draw(st.integers(1, 8))
        elif op == "charset":
            raw[at:at] = b"\r\nContent-Type: text/plain; charset=" + draw(st.sampled_from(CHARSETS)).encode()
        elif op == "insert":
            raw[at:at] = draw(st.binary(max_size=64))
        elif op == "header":
            raw[0:0] = draw(st.sampled_from([b"Subject", b"From", b"Content-Type", b"References", b"Date"])) \
                + b": " + draw(st.binary(max_size=200)).replace(b"\n", b" ") + b"\r\n"
        else:
            raw[at:at] = b"\r\n--" + draw(st.sampled_from([b"B", b"", b"=", b"\x00"])) + b"\r\n"
    return bytes(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages(raw: bytes) -> None:
    check(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(CHARSETS), st.binary(max_size=300))
def test_random_text_in_headers_and_bodies(text: str, charset: str, body: bytes) -> None:
    head = "".join(f"{name}: {text}\r\n" for name in ("From", "To", "Subject", "Message-ID", "Date",
                                                      "Content-Disposition"))
    content_type = f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode()
    check(head.encode("utf-8", "surrogatepass") + content_type + body)


def _nested(depth: int) -> bytes:
    head, tail = b"", b""
    for i in range(depth):
        head += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        tail = b"\r\n--b%d--\r\n" % i + tail
    return b"From: a@b.test\r\n" + head + b"Content-Type: text/plain\r\n\r\nhello deep" + tail


def _parts(count: int) -> bytes:
    parts = b"".join(b"--B\r\nContent-Type: application/octet-stream\r\n"
                     b'Content-Disposition: attachment; filename="f%d.bin"\r\n\r\nxx\r\n' % i
                     for i in range(count))
    return b'From: a@b.test\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n' + parts + b"--B--\r\n"


def _with_header(name: str, value: bytes) -> bytes:
    return b"From: a@b.test\r\n" + name.encode() + b": " + value + b"\r\n\r\nbody"


MONSTERS = {
    "1 MB subject": _with_header("Subject", b"a " * (MB // 2)),
    "1 MB folded subject": _with_header("Subject", b"word\r\n " * (MB // 7)),
    "1 MB content-type": _with_header("Content-Type", b"text/plain; " + b"a=b; " * (MB // 5)),
    "1 MB unterminated quote": _with_header("Content-Type", b'text/plain; charset="' + b"a" * MB),
    "nested comments": _with_header("Content-Type", b"text/plain; " + b"(" * 50_000),
    "nested comments in from": b"From: " + b"(" * 50_000 + b"\r\n\r\nx",
    "1 MB from": b"From: " + b"a@b.test, " * (MB // 10) + b"\r\n\r\nx",
    "1 MB references": _with_header("References", b"<a@b> junk " * (MB // 11)),
    "1 MB date": _with_header("Date", b"1" * MB),
    "200 x 16 KB of To": b"From: a@b.test\r\n" + (b"To: " + b"a@b.test, " * 1600 + b"\r\n") * 200 + b"\r\nx",
    "100k headers": b"".join(b"X-H%d: v\r\n" % i for i in range(100_000)) + b"\r\nbody",
    "10 MB text": b"From: a@b.test\r\n\r\n" + b"line of text\r\n" * (10 * MB // 14),
    "10 MB one line": b"From: a@b.test\r\n\r\n" + b"On " + b"x " * (5 * MB),
    "10 MB html": b"From: a@b.test\r\nContent-Type: text/html\r\n\r\n" + b"<td>cell</td>" * (10 * MB // 13),
    "10 MB base64 garbage": b"From: a@b.test\r\nContent-Type: application/pdf\r\n"
                            b"Content-Transfer-Encoding: base64\r\n\r\n" + b"!@#$%^&*=\r\n" * (MB + MB // 9),
    "deep html": b"From: a@b.test\r\nContent-Type: text/html\r\n\r\n" + b"<div>" * 100_000,
    "200 levels": _nested(200),
    "2000 levels": _nested(2000),
    "50k parts": _parts(50_000),
    "forwarded chain": b"From: a@b.test\r\n" + b"Content-Type: message/rfc822\r\n\r\n" * 3000 + b"x",
    "no boundary": b"From: a@b.test\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhello\r\n--x--",
    "bomb names": b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" + b"".join(
        b"--B\r\nContent-Disposition: attachment; filename=%s\r\n\r\nPK\r\n" % n
        for n in (b"42.zip", b"a.zip.zip.zip", b"x.tar.gz.rar", b"../../42.zip", b"=?utf-8?q?42.zip?="))
    + b"--B--",
}


@pytest.mark.parametrize("name", list(MONSTERS))
def test_monsters(name: str) -> None:
    mail = check(MONSTERS[name])
    if name == "200 levels":       # read down to max_depth (50), the rest reported
        assert mail.text == "" and "multipart nested deeper than 50: not read" in mail.problems
        assert check(MONSTERS[name], MailLimits(max_depth=250, max_parts=300)).text == "hello deep"
    if name == "bomb names":
        assert [d.reason for d in mail.dropped] == ["archive_bomb_name"] * 5


def test_over_the_cap_is_unreadable() -> None:
    with pytest.raises(MailUnreadable):
        parse(b"x" * (40 * MB + 1))
