"""mail.parse on real-looking messages: bodies, charsets, replies, addresses, ids, attachments."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from mail.parse import MailLimits, MailUnreadable, parse

SUPPORT = "Support <support@shop.test>"


def message(body: str = "Bonjour", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Alice Martin <alice@Example.FR>")
    msg["To"] = headers.pop("To", "support@shop.test")
    msg["Subject"] = headers.pop("Subject", "Ma commande")
    msg["Message-ID"] = headers.pop("Message_ID", "<m1@example.fr>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def with_files(count: int, size: int = 100, name: str = "photo{}.jpg") -> EmailMessage:
    msg = message("Voici les photos du colis.")
    for i in range(count):
        msg.add_attachment(bytes([i % 256]) * size, maintype="image", subtype="jpeg",
                           filename=name.format(i))
    return msg


# -- bodies and replies --------------------------------------------------------------------


def test_french_html_only_latin1_reply_keeps_the_new_part() -> None:
    html = ("<html><head><style>p { color: red }</style><script>alert('x')</script></head><body>"
            "<p>Bonjour,</p><p>Mon colis n'est toujours pas arrivé, pouvez-vous vérifier ? "
            "Voir <a href=\"https://shop.test/suivi/123\">le suivi</a>.</p>"
            "<div>Le lun. 1 déc. 2026 à 10:00, Support &lt;support@shop.test&gt; a écrit :<br></div>"
            "<blockquote><p>Votre commande a été expédiée.</p></blockquote></body></html>")
    msg = message()
    msg.set_content(html, subtype="html", charset="iso-8859-1", cte="quoted-printable")
    raw = msg.as_bytes()
    assert b"arriv=E9" in raw                                  # really Latin-1 on the wire

    mail = parse(raw)

    assert "arrivé, pouvez-vous vérifier ?" in mail.text
    assert "Votre commande a été expédiée." in mail.text        # the whole body stays in text
    assert "[le suivi](https://shop.test/suivi/123)" in mail.text
    assert "alert" not in mail.text and "color" not in mail.text
    assert "<" not in mail.text.replace("<support@shop.test>", "")
    assert mail.reply_text.startswith("Bonjour,")
    assert "vérifier ?" in mail.reply_text
    assert "a écrit" not in mail.reply_text and "expédiée" not in mail.reply_text


def test_english_gmail_reply_prefers_text_plain() -> None:
    msg = message("Hi,\n\nWhere is my order #123?\n\n"
                  "On Mon, Dec 1, 2026 at 10:00 AM Support <support@shop.test> wrote:\n"
                  "> Your order has shipped.\n> Support\n")
    msg.add_alternative("<p>Hi, HTML VERSION</p>", subtype="html")
    mail = parse(msg.as_bytes())
    assert "HTML VERSION" not in mail.text
    assert mail.reply_text == "Hi,\n\nWhere is my order #123?"
    assert "> Your order has shipped." in mail.text


def test_gmail_header_wrapped_over_two_lines() -> None:
    mail = parse(message("Any news?\n\nOn Mon, Dec 1, 2026 at 10:00 AM Support <\nsupport@shop.test> wrote:\n"
                         "> Your order has shipped.\n").as_bytes())
    assert mail.reply_text == "Any news?"


@pytest.mark.parametrize("quote", [
    "-----Original Message-----\nFrom: Support <support@shop.test>\nSent: Monday, December 1, 2026 10:00\n"
    "To: bob@example.com\nSubject: RE: order\n\nHello Bob",
    "De : Support <support@shop.test>\nEnvoyé : lundi 1 décembre 2026 10:00\nÀ : bob@example.fr\n"
    "Objet : RE: commande\n\nBonjour Bob",
    "-----Original Message-----\nDe : Support <support@shop.test>\nEnvoyé : lundi 1 décembre 2026 10:00\n"
    "Objet : RE: commande\n\nBonjour Bob",
])
def test_outlook_quote_is_stripped(quote: str) -> None:
    mail = parse(message(f"Bonjour,\nle colis est arrivé abîmé.\n\n{quote}\n").as_bytes())
    assert mail.reply_text == "Bonjour,\nle colis est arrivé abîmé."


def test_signature_after_dash_dash_space_is_stripped() -> None:
    mail = parse(message("Bonjour,\nje voudrais changer d'adresse.\n- rue A\n- rue B\n-- \n"
                         "Alice Martin\n06 12 34 56 78\n").as_bytes())
    assert mail.reply_text == "Bonjour,\nje voudrais changer d'adresse.\n- rue A\n- rue B"
    assert "06 12 34 56 78" in mail.text


def test_reply_text_falls_back_to_text_when_nothing_would_be_left() -> None:
    body = "On Mon, Dec 1, 2026 at 10:00 AM Support <support@shop.test> wrote:\n> Your order has shipped."
    mail = parse(message(body).as_bytes())
    assert mail.reply_text == mail.text != ""


def test_very_long_lines_are_kept_in_the_reply_and_fast() -> None:
    long_line = "On " + "blah " * 2000
    mail = parse(message(f"Hello\n{long_line}\nthanks for nothing\n").as_bytes())
    assert long_line.strip() in mail.reply_text


def test_declared_utf8_but_latin1_bytes_is_read_and_reported() -> None:
    raw = (b"From: bob@example.fr\r\nMessage-ID: <x@y>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"Merci pour la r\xe9ponse, \xe0 bient\xf4t \x80 10\r\n")
    mail = parse(raw)
    assert mail.text == "Merci pour la réponse, à bientôt € 10"
    assert "charset utf-8 does not match the bytes" in mail.problems


def test_unknown_and_latin1_charsets() -> None:
    head = b"From: bob@example.fr\r\nContent-Type: text/plain; charset="
    unknown = parse(head + b"x-martian\r\n\r\nd\xc3\xa9j\xc3\xa0")
    assert unknown.text == "déjà" and "unknown charset x-martian" in unknown.problems
    # ISO-8859-1 labels are Windows-1252 in practice: curly quote and euro sign survive
    latin = parse(head + b"iso-8859-1\r\n\r\nl\x92\xe9t\xe9 \x80")
    assert latin.text == "l\u2019été €" and not latin.problems[1:]


def test_rfc2047_subject_and_sender_name() -> None:
    raw = (b"From: =?UTF-8?Q?Ren=C3=A9e_Fran=C3=A7ois?= <Renee.Francois@Example.FR>\r\n"
           b"To: \"Dupont, Jean\" <jean@shop.test>, support@Shop.Test\r\n"
           b"Cc: =?iso-8859-1?q?Z=E9lie?= <zelie@example.fr>, not an address\r\n"
           b"Subject: =?ISO-8859-1?Q?Re=3A_Colis_ab=EEm=E9?= =?UTF-8?B?IOKAkyBuwrAxMjM=?=\r\n"
           b"  \x01suite\r\n"
           b"Reply-To: <Renee@Example.FR>\r\n"
           b"Date: Mon, 01 Dec 2026 10:00:00 +0100\r\n\r\nBonjour")
    mail = parse(raw)
    assert mail.sender == "Renee.Francois@example.fr"
    assert mail.sender_name == "Renée François"
    assert mail.subject == "Re: Colis abîmé – n°123 suite"
    assert mail.to == ("jean@shop.test", "support@shop.test")
    assert mail.cc == ("zelie@example.fr",)
    assert mail.reply_to == "Renee@example.fr"
    assert mail.date == 1796115600.0


def test_raw_utf8_in_headers_and_bad_date() -> None:
    raw = "From: Zoé <zoe@example.fr>\r\nSubject: Déjà livré ?\r\nDate: demain\r\n\r\nok".encode()
    mail = parse(raw)
    assert (mail.sender_name, mail.subject, mail.date) == ("Zoé", "Déjà livré ?", None)
    assert "unreadable date" in mail.problems


def test_unusable_sender_is_empty() -> None:
    for value in ("", "undisclosed-recipients:;", "<>", "bob", "bob@", "a b@c.d", "x@-.."):
        mail = parse(f"From: {value}\r\n\r\nhello".encode())
        assert mail.sender == "", value


# -- identifiers -----------------------------------------------------------------------------


def test_missing_message_id_gets_a_stable_synthetic_one() -> None:
    raw = b"From: bob@example.fr\r\nSubject: hi\r\n\r\nbody"
    first, again, other = parse(raw), parse(raw), parse(raw + b"!")
    assert first.message_id == again.message_id != other.message_id
    assert first.message_id.startswith("<") and first.message_id.endswith("@synthetic.invalid>")
    assert "no message-id" in first.problems


def test_message_id_references_in_reply_to_are_normalised() -> None:
    raw = (b"From: bob@example.fr\r\n"
           b"Message-ID:   <abc.123@example.fr> (comment)\r\n"
           b"In-Reply-To: <reply-1@shop.test> garbage\r\n"
           b"References: <root@example.fr>\r\n"
           b"\t<reply-1@shop.test> junk ,; <\r\n"
           b" <second@shop.test>\r\n"
           b"  <root@example.fr>\r\n\r\nbody")
    mail = parse(raw)
    assert mail.message_id == "<abc.123@example.fr>"
    assert mail.in_reply_to == ("<reply-1@shop.test>",)
    assert mail.references == ("<root@example.fr>", "<reply-1@shop.test>", "<second@shop.test>")
    bare = parse(b"From: bob@example.fr\r\nMessage-ID: no-brackets@example.fr\r\n\r\nx")
    assert bare.message_id == "<no-brackets@example.fr>"


def test_ids_folded_into_encoded_words_are_read() -> None:
    """Python's email (and so any tool built on it) folds a header at 78 columns and writes an id
    longer than that as RFC 2047 encoded words: the ids are still the thread's."""
    long_id = "<m.mmwuu3lcgi4xm3k2o5hfeucsjrsegrs2hbmvmwlxpgzzvw7g3rye3ma.829141c64f209780@shop.example>"
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "bob@example.fr", "Re", "<x1@example.fr>"
    msg["In-Reply-To"], msg["References"] = long_id, f"<root@example.fr> {long_id}"
    msg.set_content("Merci")
    raw = bytes(msg)
    assert b"=?utf-8?q?" in raw                                          # what such a writer sends
    mail = parse(raw)
    assert mail.in_reply_to == (long_id,) and mail.references == ("<root@example.fr>", long_id)


def test_references_keep_the_root_and_the_latest() -> None:
    refs = "\r\n ".join(f"<r{i}@x>" for i in range(3000))          # 24 KB: over max_header_chars too
    mail = parse(f"From: b@x.fr\r\nReferences: {refs}\r\n\r\nx".encode())
    assert len(mail.references) == 100
    assert mail.references[0] == "<r0@x>" and mail.references[-1] == "<r2999@x>"


# -- attachments -----------------------------------------------------------------------------


def test_twelve_attachments_ten_kept_two_dropped() -> None:
    mail = parse(with_files(12).as_bytes())
    assert [a.name for a in mail.attachments] == [f"photo{i}.jpg" for i in range(10)]
    assert [(d.name, d.reason) for d in mail.dropped] == [("photo10.jpg", "too_many"),
                                                           ("photo11.jpg", "too_many")]
    assert mail.attachments[3].data == b"\x03" * 100 and mail.attachments[3].size == 100
    assert mail.attachments[0].content_type == "image/jpeg"
    assert mail.text == "Voici les photos du colis."


def test_eleven_megabyte_attachment_is_dropped_the_rest_kept() -> None:
    msg = with_files(2)
    msg.add_attachment(b"\0" * (11 * 1024 * 1024), maintype="application", subtype="pdf", filename="scan.pdf")
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="facture.pdf")
    mail = parse(msg.as_bytes())
    assert [a.name for a in mail.attachments] == ["photo0.jpg", "photo1.jpg", "facture.pdf"]
    assert mail.dropped[0].name == "scan.pdf" and mail.dropped[0].reason == "too_large"
    assert mail.dropped[0].size == 11 * 1024 * 1024


def test_total_too_large() -> None:
    limits = MailLimits(max_attachment_bytes=1000, max_total_bytes=2500)
    mail = parse(with_files(4, size=1000).as_bytes(), limits)
    assert len(mail.attachments) == 2
    assert [d.reason for d in mail.dropped] == ["total_too_large", "total_too_large"]


@pytest.mark.parametrize("name, bomb", [
    ("42.zip", True), ("ZBSM.ZIP", True), ("photos.zip.zip", True), ("a.tar.gz.7z", True),
    ("x.rar.zip", True), ("photos.zip", False), ("backup.tar.gz", False), ("facture.pdf", False),
    ("v1.2.zip", False),
])
def test_archive_bomb_names(name: str, bomb: bool) -> None:
    msg = message("Voir pièce jointe")
    msg.add_attachment(b"PK\x03\x04", maintype="application", subtype="zip", filename=name)
    mail = parse(msg.as_bytes())
    if bomb:
        assert [(d.name, d.reason) for d in mail.dropped] == [(name, "archive_bomb_name")]
        assert not mail.attachments
    else:
        assert [a.name for a in mail.attachments] == [name] and not mail.dropped


def test_inline_image_forwarded_mail_and_odd_names() -> None:
    msg = message("Regardez l'image")
    msg.add_alternative("<p>Regardez <img src=\"cid:img1\"></p>", subtype="html")
    msg.get_payload()[1].add_related(b"\x89PNG", maintype="image", subtype="png", cid="<img1>")
    forwarded = message("Texte d'origine", Subject="Commande 42", Message_ID="<fwd@example.fr>")
    msg.add_attachment(forwarded)
    msg.add_attachment(b"x", maintype="application", subtype="octet-stream",
                       filename="../../etc/=?utf-8?q?r=C3=A9sum=C3=A9?=.txt")
    mail = parse(msg.as_bytes())
    names = [a.name for a in mail.attachments]
    assert names == ["attachment.png", "forwarded.eml", "résumé.txt"]
    eml = mail.attachments[1]
    assert eml.content_type == "message/rfc822"
    assert b"Subject: Commande 42" in eml.data and b"Texte d'origine" in eml.data
    assert parse(eml.data).message_id == "<fwd@example.fr>"
    assert mail.text == "Regardez l'image"


def test_multipart_report_is_detected() -> None:
    raw = (b"From: MAILER-DAEMON@mx.example.fr\r\nReturn-Path: <>\r\nSubject: Undelivered Mail\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
           b"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
           b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.fr\r\n\r\n"
           b"Final-Recipient: rfc822; nobody@example.fr\r\nAction: failed\r\nStatus: 5.1.1\r\n"
           b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@shop.test\r\n"
           b"--B--\r\n")
    mail = parse(raw)
    assert mail.content_type == "multipart/report"
    assert mail.return_path == ""
    assert mail.text == "Your message could not be delivered."
    assert [a.name for a in mail.attachments] == ["delivery-status.txt", "attachment.bin"]
    assert b"Status: 5.1.1" in mail.attachments[0].data


def test_rule_headers_are_read() -> None:
    mail = parse(message(Auto_Submitted="auto-replied; owner-email=x@y", Precedence=" Bulk ",
                         X_Autoreply="yes", X_Loop="support@shop.test", List_Id="<news.shop.test>",
                         List_Unsubscribe="<mailto:u@shop.test>", Return_Path="<Bounce@MX.test>",
                         X_Auto_Response_Suppress="DR, OOF").as_bytes())
    assert mail.auto_submitted == "auto-replied; owner-email=x@y"
    assert mail.precedence == "Bulk" and mail.x_autoreply and mail.x_loop == "support@shop.test"
    assert mail.list_id == "<news.shop.test>" and mail.list_unsubscribe == "<mailto:u@shop.test>"
    assert mail.return_path == "Bounce@mx.test" and mail.auto_response_suppress == "DR, OOF"
    plain = parse(message().as_bytes())
    assert (plain.auto_submitted, plain.precedence, plain.x_autoreply, plain.return_path) == (
        None, None, False, None)
    assert plain.content_type == "text/plain" and plain.raw_size == len(message().as_bytes())


# -- limits and refusals ---------------------------------------------------------------------


def test_text_is_capped_and_reported() -> None:
    mail = parse(message("mot " * 10_000).as_bytes(), MailLimits(max_text_chars=1000))
    assert len(mail.text) <= 1000 and "text cut at 1000 characters" in mail.problems


def test_only_non_bytes_and_oversized_input_raise() -> None:
    with pytest.raises(MailUnreadable):
        parse("From: a@b.c\r\n\r\nx")  # type: ignore[arg-type]
    with pytest.raises(MailUnreadable):
        parse(b"x" * 2000, MailLimits(max_raw_bytes=1000))
    assert parse(bytearray(b"From: a@b.c\r\n\r\nx")).sender == "a@b.c"
    empty = parse(b"")
    assert empty.sender == "" and empty.text == "" and empty.message_id.endswith("@synthetic.invalid>")


def test_a_body_opening_with_thanks_is_not_taken_for_a_signature() -> None:
    head = b"From: helene@example.fr\r\nTo: support@shop.test\r\nSubject: colis\r\nMessage-ID: <t1@x>\r\n\r\n"
    quote = b"\r\n\r\nOn Mon, Dec 1, 2026 at 10:00 AM Support <support@shop.test> wrote:\r\n> Shipped.\r\n"
    body = (b"Hi,\r\nThanks, but my parcel never came. I ordered on Monday\r\n"
            b"and the tracking says nothing.\r\nHelene")
    mail = parse(head + body + quote)
    assert "my parcel never came" in mail.reply_text and "Shipped" not in mail.reply_text
    signed = b"Where is my parcel?\r\n\r\nBest regards,\r\nHelene Martin"
    assert parse(head + signed + quote).reply_text == "Where is my parcel?"
