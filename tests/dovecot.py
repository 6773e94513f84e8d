"""A real IMAP server for tests and benchmarks: Debian's Dovecot, as a local process on a free
loopback port, with a generated config for the installed version (`make test` installs the
`dovecot-imapd` package like Chromium; nothing is started system-wide).

Run as root (CI), Dovecot's login and internal processes drop to the package's `dovenull` and
`dovecot` users and the mailboxes belong to `dovecot`; run as anyone else it is a rootless
install where every process is that user. One passwd-file account per mailbox, plain-text
login (loopback only, never a production setting).
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from ops import proc
from ops.ports import free_port

HOST = "127.0.0.1"
DOVECOT = "/usr/sbin/dovecot"


class DovecotError(RuntimeError):
    """Dovecot is missing or did not start; the message says what to do or shows its log."""


class Dovecot:
    """`with Dovecot(users={"support@shop.test": "secret"}) as imap:` then imap.port, imap.append()."""

    def __init__(self, users: dict[str, str], port: int = 0) -> None:
        if not os.access(DOVECOT, os.X_OK):
            raise DovecotError("Dovecot is not installed: `apt-get install dovecot-imapd` (make test does)")
        self.users = dict(users)
        self.port = port or free_port()
        # world-traversable (Dovecot's own users read below it as root drops privileges)
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.root.chmod(0o755)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def _config(self) -> str:
        if os.getuid() == 0:   # Dovecot's processes refuse root: the package's own users
            internal = internal_group = mail_user = mail_group = "dovecot"
            login = "dovenull"
        else:
            internal = login = mail_user = pwd.getpwuid(os.getuid()).pw_name
            internal_group = mail_group = grp.getgrgid(os.getgid()).gr_name
        r = self.root
        return f"""\
protocols = imap
listen = {HOST}
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{r}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={r}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""

    def start(self) -> Dovecot:
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(exist_ok=True)
        (self.root / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self.users.items()),
                                         encoding="utf-8")
        (self.root / "dovecot.conf").write_text(self._config(), encoding="utf-8")
        if os.getuid() == 0:
            for sub in ("mail", "home"):
                shutil.chown(self.root / sub, "dovecot", "dovecot")
        self._proc = proc.spawn([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise DovecotError(f"Dovecot exited at start:\n{self.log[-2000:]}")
            try:
                with imaplib.IMAP4(HOST, self.port, timeout=2) as probe:
                    probe.noop()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise DovecotError(f"Dovecot did not listen on {HOST}:{self.port} within 20 s:\n{self.log[-2000:]}")

    def stop(self) -> None:
        if self._proc is not None:
            proc.terminate(self._proc)
            self._proc = None

    def restart(self) -> None:
        """Stop and start on the same port with the same mailboxes (a server going away)."""
        self.stop()
        self.start()

    def client(self, user: str) -> imaplib.IMAP4:
        """A logged-in stdlib client (the tests' own view of a mailbox)."""
        c = imaplib.IMAP4(HOST, self.port, timeout=10)
        c.login(user, self.users[user])
        return c

    def append(self, user: str, raw: bytes, mailbox: str = "INBOX") -> None:
        """Deliver one message the way a mail server would: IMAP APPEND."""
        with self.client(user) as c:
            typ, data = c.append(mailbox, None, None, raw)
            if typ != "OK":
                raise DovecotError(f"APPEND refused: {data!r}")

    def messages(self, user: str, mailbox: str = "INBOX") -> list[bytes]:
        """Every message of a mailbox, raw, in UID order."""
        with self.client(user) as c:
            c.select(mailbox, readonly=True)
            typ, data = c.uid("SEARCH", None, "ALL")
            out = []
            for uid in (data[0] or b"").split():
                typ, parts = c.uid("FETCH", uid, "(BODY.PEEK[])")
                out.extend(p[1] for p in parts if isinstance(p, tuple))
            return out

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class LocalMta:
    """An SMTP server (aiosmtpd) that delivers into a Dovecot's mailboxes: what the product sends
    lands in the shopper's IMAP inbox, as through a real mail server. Recipients without a
    mailbox are kept in `undelivered`. `with LocalMta(imap) as mta:` then `mta.url`."""

    def __init__(self, imap: Dovecot) -> None:
        self.imap = imap
        self.port = free_port()
        self.undelivered: list[tuple[str, bytes]] = []
        self._controller: object | None = None

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        data: bytes = envelope.original_content or envelope.content  # type: ignore[attr-defined]
        for rcpt in envelope.rcpt_tos:  # type: ignore[attr-defined]
            user = rcpt.lower()
            if user in self.imap.users:
                self.imap.append(user, data)
            else:
                self.undelivered.append((rcpt, data))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def __enter__(self) -> LocalMta:
        from aiosmtpd.controller import Controller

        controller = Controller(self, hostname=HOST, port=self.port)
        controller.start()
        self._controller = controller
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()  # type: ignore[attr-defined]
