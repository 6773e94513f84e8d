"""Ticket replies by e-mail, delivered to a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from handoff.mailer import (
    MAX_REFERENCES,
    MailConfigError,
    MailDisabled,
    Mailer,
    MailError,
    MailSettings,
    Thread,
)
from ops.ports import free_port

BODY = "Bonjour Hélène,\n\nVotre colis n°42 est arrivé à Besançon. Ça vous convient ?\n\n— L'équipe\n"
SUBJECT = "Votre commande n°42 — livrée à Besançon"


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.raw.append(envelope.content)  # type: ignore[attr-defined]
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[attr-defined]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"

    def authenticate(self, server: object, session: object, envelope: object, mechanism: str,
                     auth_data: object) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"p@ss:word", handled=False)


def _serve(inbox: Inbox, **kwargs: object) -> Iterator[int]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A plain SMTP server without AUTH, like a local relay."""
    inbox = Inbox()
    for port in _serve(inbox):
        yield inbox, port


@pytest.fixture
def smtp_auth() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server that requires AUTH (allowed without TLS: loopback test only)."""
    inbox = Inbox()
    for port in _serve(inbox, authenticator=inbox.authenticate, auth_required=True, auth_require_tls=False):
        yield inbox, port


def mailer(url: str, sender: str = "") -> Mailer:
    return Mailer(MailSettings.from_env({"SMTP_URL": url, "SMTP_FROM": sender}))


def test_a_reply_reaches_the_server_intact(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    m = mailer(f"smtp://127.0.0.1:{port}", sender="Boutique Éclair <support@boutique.example>")
    message_id = asyncio.run(m.send("Helene@Example.fr", SUBJECT, BODY, reply_to="agent@boutique.example",
                                    message_id_hint="T-000042"))

    (mail_from, rcpt_tos, msg), = inbox.messages
    assert mail_from == "support@boutique.example" and rcpt_tos == ["Helene@example.fr"]
    assert msg["From"].addresses[0].display_name == "Boutique Éclair"
    assert msg["From"].addresses[0].addr_spec == "support@boutique.example"
    assert msg["To"] == "Helene@example.fr"
    assert msg["Subject"] == SUBJECT
    assert msg["Reply-To"] == "agent@boutique.example"
    assert msg["Message-ID"].strip() == message_id  # the long header may be folded
    assert message_id.startswith("<") and "T-000042" in message_id
    assert message_id.endswith("@boutique.example>")
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == BODY  # SMTP sends CRLF line ends


def test_the_default_sender_is_support_at_localhost(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    asyncio.run(mailer(f"smtp://127.0.0.1:{port}").send("client@example.fr", "Bonjour", "Merci"))
    (mail_from, _, msg), = inbox.messages
    assert mail_from == "support@localhost" and msg["From"] == "support@localhost"


@pytest.mark.parametrize(("to", "subject", "reply_to"), [
    ("client@example.fr", "Hello\r\nBcc: victim@example.org", None),
    ("client@example.fr", "Hello\nBcc: victim@example.org", None),
    ("client@example.fr\r\nBcc: victim@example.org", "Hello", None),
    ("client@example.fr", "Hello", "agent@example.fr\nBcc: victim@example.org"),
    ("client@example.fr, victim@example.org", "Hello", None),
])
def test_header_injection_is_rejected(smtp: tuple[Inbox, int], to: str, subject: str,
                                      reply_to: str | None) -> None:
    inbox, port = smtp
    with pytest.raises(ValueError):
        asyncio.run(mailer(f"smtp://127.0.0.1:{port}").send(to, subject, "body", reply_to=reply_to))
    assert inbox.messages == []


def test_a_threaded_automatic_reply_carries_its_headers(smtp: tuple[Inbox, int]) -> None:
    """The e-mail channel's replies (issue 21): our Message-ID, In-Reply-To, the References chain
    (the newest MAX_REFERENCES), and Auto-Submitted so auto-responders never answer them."""
    inbox, port = smtp
    refs = tuple(f"<r{i}@client.example>" for i in range(25))
    thread = Thread(message_id="<m.abc.1@boutique.example>", in_reply_to="<r24@client.example>",
                    references=refs, auto_submitted=True)
    sent = asyncio.run(mailer(f"smtp://127.0.0.1:{port}").send("client@example.fr", "Re: colis", "Bonjour",
                                                               thread=thread))
    (_, _, msg), = inbox.messages
    assert sent == msg["Message-ID"].strip() == "<m.abc.1@boutique.example>"
    assert msg["In-Reply-To"] == "<r24@client.example>"
    assert msg["References"].split() == list(refs[-MAX_REFERENCES:])
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Auto-Response-Suppress"] == "All"
    # an agent's reply is not automatic; a malformed id (a shopper's header, an injection) is refused
    asyncio.run(mailer(f"smtp://127.0.0.1:{port}").send("client@example.fr", "Re", "x",
                                                        thread=Thread(in_reply_to="<r1@client.example>")))
    assert "Auto-Submitted" not in inbox.messages[-1][2]
    for bad in ("r1@client.example", "<r1@x>\r\nBcc: victim@example.org", "<a b@c>", "<x@y> <z@w>"):
        with pytest.raises(ValueError):
            Mailer(MailSettings.from_env({"SMTP_URL": "smtp://h"})).compose(
                "client@example.fr", "Re", "x", thread=Thread(in_reply_to=bad))
    assert len(inbox.messages) == 2


def test_mail_is_disabled_without_smtp_url() -> None:
    m = Mailer(MailSettings.from_env({"SMTP_URL": "  "}))
    assert not m.enabled
    with pytest.raises(MailDisabled, match="SMTP_URL"):
        asyncio.run(m.send("client@example.fr", "Bonjour", "Merci"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_credentials_from_the_url_are_used_and_never_shown(smtp_auth: tuple[Inbox, int]) -> None:
    inbox, port = smtp_auth
    settings = MailSettings.from_env({"SMTP_URL": f"smtp://shop%40mail:p%40ss%3Aword@127.0.0.1:{port}"})
    assert settings.username == "shop@mail" and settings.password == "p@ss:word"
    asyncio.run(Mailer(settings).send("client@example.fr", "Bonjour", "Merci"))
    assert inbox.logins == [(b"shop@mail", b"p@ss:word")] and len(inbox.messages) == 1
    for shown in (repr(settings), settings.describe(), str(settings)):
        assert "p@ss" not in shown and "p%40ss" not in shown

    wrong = MailSettings.from_env({"SMTP_URL": f"smtp://shop:wrong-secret@127.0.0.1:{port}"})
    with pytest.raises(MailError) as failed:
        asyncio.run(Mailer(wrong).send("client@example.fr", "Bonjour", "Merci"))
    assert "wrong-secret" not in str(failed.value) and "***" in str(failed.value)


def test_an_unreachable_server_is_a_mail_error_without_the_password() -> None:
    m = mailer(f"smtp://user:s3cret-pw@127.0.0.1:{free_port()}")
    with pytest.raises(MailError) as failed:
        asyncio.run(m.send("client@example.fr", "Bonjour", "Merci"))
    assert "s3cret-pw" not in str(failed.value) and "127.0.0.1" in str(failed.value)


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.com", ("mail.example.com", 25, False, None)),
    ("smtp://mail.example.com?starttls=1", ("mail.example.com", 587, False, True)),
    ("smtp://mail.example.com:2525?starttls=0", ("mail.example.com", 2525, False, False)),
    ("smtps://u:p@mail.example.com", ("mail.example.com", 465, True, False)),
])
def test_smtp_url_forms(url: str, expected: tuple) -> None:
    s = MailSettings.from_env({"SMTP_URL": url})
    assert (s.host, s.port, s.use_tls, s.start_tls) == expected


@pytest.mark.parametrize(("env", "message"), [
    ({"SMTP_URL": "http://u:hunter2@mail.example.com"}, "smtp:// or smtps://"),
    ({"SMTP_URL": "smtp://u:hunter2@mail.example.com?starttls=maybe"}, "starttls must be 1 or 0"),
    ({"SMTP_URL": "smtp://u:hunter2@mail.example.com?tls=1"}, "unknown option"),
    ({"SMTP_URL": "smtps://u:hunter2@mail.example.com?starttls=1"}, "already TLS"),
    ({"SMTP_URL": "smtp://u:hunter2@mail.example.com:notaport"}, "not a valid URL"),
    ({"SMTP_URL": "", "SMTP_FROM": "nobody"}, "SMTP_FROM"),
])
def test_invalid_settings_are_explained_without_the_password(env: dict[str, str], message: str) -> None:
    with pytest.raises(MailConfigError, match=message) as failed:
        MailSettings.from_env(env)
    assert "hunter2" not in str(failed.value)


def test_long_message_ids_travel_verbatim(smtp: tuple[Inbox, int]) -> None:
    """Our signed Message-IDs (about 90 characters) and Gmail's are longer than a 78-character
    line: folded the standard way they became RFC 2047 encoded words (`=?utf-8?q?=3Cm=2E...`),
    which no mail client decodes in In-Reply-To or References, so threading broke. They must
    leave as written, folded only between ids."""
    inbox, port = smtp
    long_ids = tuple(f"<m.{'a' * 70}{i}.829141c64f209780@boutique.example>" for i in range(3))
    thread = Thread(message_id=long_ids[0], in_reply_to=long_ids[2], references=long_ids)
    asyncio.run(mailer(f"smtp://127.0.0.1:{port}").send("client@example.fr", "Re: colis cassé", BODY,
                                                        thread=thread))
    (raw,) = inbox.raw
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = head.replace("\r\n ", " ")
    assert f"In-Reply-To: {long_ids[2]}" in unfolded and f"Message-ID: {long_ids[0]}" in unfolded
    assert f"References: {' '.join(long_ids)}" in unfolded
    assert all(len(line) <= 998 for line in head.split("\r\n"))
    (_, _, msg), = inbox.messages
    assert msg.get_content().replace("\r\n", "\n") == BODY and str(msg["Subject"]) == "Re: colis cassé"
