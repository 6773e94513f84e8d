"""`python -m bench.mail` (part of `make bench`): the e-mail channel under a burst.

Debian's Dovecot holds the support mailbox, a gateway process reads it by IMAP IDLE (as `make
run` would with IMAP_URL), and its SMTP goes to a local sink that notes when each automatic
reply arrives (its In-Reply-To names the mail it answers). `--mails` mails from as many senders
are appended as fast as IMAP APPEND goes; then every one must be taken in (a conversation and a
ticket each) and answered once. Figures: mails per second from the first APPEND to the last
reply, and the time from a mail's APPEND to its automatic reply (p50, p95).

Prints a markdown section and, last, one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import numpy as np
import redis

from ops.ports import free_port
from ops.redis_server import RedisServer
from tests.dovecot import HOST, Dovecot
from tests.stack import REPO, gateway

SUPPORT, PASSWORD = "support@atelier-lumen.fr", "bench-imap-secret"
QUESTIONS = ("Bonjour, quels sont les délais de livraison ?", "Comment retourner un article ?",
             "Quels moyens de paiement acceptez-vous ?", "Livrez-vous en Belgique ?",
             "Hello, how long does a refund take?", "My promo code does not work, why?")


class Sink:
    """An SMTP server noting when the reply to each Message-ID arrives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.replies: dict[str, float] = {}
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[attr-defined]
        with self.lock:
            self.count += 1
            self.replies.setdefault(str(msg["In-Reply-To"] or ""), time.time())
        return "250 OK"


def mail(i: int) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"], msg["To"] = f"client{i}@lumen-client.fr", SUPPORT
    msg["Subject"] = f"Question {i}"
    msg["Message-ID"] = mid = f"<bench-{i}-{secrets.token_hex(4)}@lumen-client.fr>"
    msg.set_content(QUESTIONS[i % len(QUESTIONS)])
    return bytes(msg), mid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mails", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for every reply")
    args = p.parse_args(argv)
    from aiosmtpd.controller import Controller

    tmp = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    sink = Sink()
    controller = Controller(sink, hostname=HOST, port=sink.port)
    controller.start()
    with Dovecot({SUPPORT: PASSWORD}) as imap, \
            RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as rs:
        env = {"IMAP_URL": f"imap://{quote(SUPPORT)}:{PASSWORD}@{HOST}:{imap.port}/INBOX",
               "SMTP_URL": f"smtp://{HOST}:{sink.port}", "SMTP_FROM": SUPPORT,
               "MAIL_SECRET": secrets.token_hex(16), "MAIL_DIR": str(tmp / "mail"),
               "MAIL_AUTO_REPLIES_PER_DAY": "5", "LOG_LEVEL": "WARNING"}
        r = redis.Redis.from_url(rs.url, decode_responses=True)
        with gateway(rs.url, tmp, shop_config=REPO / "config" / "shop.yml", extra_env=env):
            deadline = time.monotonic() + 60
            while not r.keys("support:mail:imap:*:lease") and time.monotonic() < deadline:
                time.sleep(0.1)
            appended: dict[str, float] = {}
            with imap.client(SUPPORT) as c:     # one IMAP session, as a mail server would deliver
                for i in range(args.mails):
                    raw, mid = mail(i)
                    appended[mid] = time.time()
                    c.append("INBOX", None, None, raw)
            appended_s = time.time() - min(appended.values())
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline and len(set(appended) & set(sink.replies)) < args.mails:
                time.sleep(0.2)
            time.sleep(2)                            # a late duplicate would show up now
            answered = set(appended) & set(sink.replies)
            tickets = r.zcard("support:tickets:all")
            conversations = r.zcard("support:conversations")
    controller.stop()
    waits = [sink.replies[m] - appended[m] for m in answered]
    span = max(sink.replies[m] for m in answered) - min(appended.values()) if answered else float("nan")
    rate = len(answered) / span if answered else 0.0
    figures = {"mails": args.mails, "answered": len(answered), "replies_sent": sink.count,
               "tickets": tickets, "conversations": conversations, "append_s": round(appended_s, 1),
               "mails_per_s": round(rate, 1),
               "p50_s": round(float(np.percentile(waits, 50)), 2) if waits else None,
               "p95_s": round(float(np.percentile(waits, 95)), 2) if waits else None}
    print(f"## E-mail channel: {args.mails} mails appended to the support mailbox (IMAP IDLE, 1 gateway)\n")
    print("| mails | taken in (tickets) | answered once | replies sent | mails/s | APPEND -> reply p50 "
          "| p95 |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.mails} | {tickets} | {len(answered)} | {sink.count} | {figures['mails_per_s']} | "
          f"{figures['p50_s']} s | {figures['p95_s']} s |\n")
    print(f"(APPEND of all {args.mails} took {figures['append_s']} s; the mails/s figure runs from the first "
          "APPEND to the last reply.)\n")
    print(json.dumps(figures), flush=True)
    ok = len(answered) == args.mails == sink.count == tickets
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
