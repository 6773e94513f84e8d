"""The support mailbox reader against a real IMAP server (Dovecot) and a real Redis: IDLE,
polling, restarts of the reader and of the server, retries and poison mail, the lease between
gateways, the UIDVALIDITY cursor, and IMAP_URL parsing with the password kept out of sight."""

from __future__ import annotations

import asyncio
import contextlib
import email
import logging
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import redis.asyncio as aioredis

from kit.keys import IMAP_CURSOR, IMAP_LEASE
from mail.imap_client import ImapConnection
from mail.imap_reader import ImapConfigError, ImapReader, ImapSettings, MessageTooLarge
from ops.ports import free_port
from ops.redis_server import RedisServer
from tests.dovecot import HOST, Dovecot

pytestmark = pytest.mark.timeout(60)

PASSWORD = 'pw"Xq7\\Zt9'       # a quote and a backslash: escaped in LOGIN, still never logged
WRONG = 'wr"Kp4\\Jm2'
SECRETS = ("Xq7", "Zt9", "Kp4", "Jm2")   # fragments of either that must never be shown
USERS = ["idle", "renew", "stop", "restart", "server", "retry", "lease", "poll", "large", "cursor", "secret"]


@pytest.fixture(scope="module")
def imap() -> Iterator[Dovecot]:
    """One Dovecot for the module, one mailbox (user) per test."""
    with Dovecot({f"{user}@shop.test": PASSWORD for user in USERS}) as server:
        yield server


@pytest.fixture
def db(redis_server: RedisServer, redis_client: redis.Redis) -> redis.Redis:
    """The session Redis, flushed (its sync client, to look at the cursor)."""
    return redis_client


def settings(imap: Dovecot, user: str, **tuning: object) -> ImapSettings:
    tuning = {"lease_s": 2.0, "backoff_s": 0.05, "backoff_cap_s": 0.5, "timeout_s": 5.0,
              "poll_interval_s": 3600.0, **tuning}
    login = f"{quote(user + '@shop.test', safe='')}:{quote(PASSWORD, safe='')}"
    url = f"imap://{login}@127.0.0.1:{imap.port}/INBOX"
    return ImapSettings.from_url(url, **tuning)


def mail(tag: str, n: int, body: bytes = b"Hello\r\n") -> bytes:
    return (f"From: shopper{n}@example.com\r\nTo: support@shop.test\r\nSubject: order {n}\r\n"
            f"Message-ID: <{tag}-{n}@example.com>\r\n\r\n").encode() + body


def message_id(raw: bytes) -> str:
    return str(email.message_from_bytes(raw)["Message-ID"]).strip("<>").split("@")[0]


@dataclass
class Inbox:
    """What the callbacks received, and a way to wait for it."""
    delivered: list[tuple[int, int, str]] = field(default_factory=list)   # uid, uidvalidity, id
    poisoned: list[tuple[int, bytes, BaseException]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    fail: Callable[[str, int], bool] = lambda mid, call: False
    delay: float = 0.0

    async def on_message(self, uid: int, uidvalidity: int, raw: bytes) -> None:
        mid = message_id(raw)
        self.calls[mid] = self.calls.get(mid, 0) + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail(mid, self.calls[mid]):
            raise RuntimeError(f"ingest failed on {mid}")
        self.delivered.append((uid, uidvalidity, mid))

    async def on_poison(self, uid: int, raw: bytes, error: BaseException) -> None:
        self.poisoned.append((uid, raw, error))

    @property
    def ids(self) -> list[str]:
        return [mid for _, _, mid in self.delivered]


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> float:
    """Wait for `check()` (no fixed sleeps); returns the seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def append(imap: Dovecot, user: str, *raws: bytes) -> None:
    """IMAP APPEND, like a mail server delivering: one connection for a burst."""
    def deliver() -> None:
        with imap.client(f"{user}@shop.test") as c:
            for raw in raws:
                typ, data = c.append("INBOX", None, None, raw)
                assert typ == "OK", data
    await asyncio.to_thread(deliver)


@contextlib.asynccontextmanager
async def running(reader: ImapReader) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(reader.run())
    try:
        yield task
    finally:
        await reader.stop()


def reading(reader: ImapReader, mode: str = "idle") -> Callable[[], bool]:
    return lambda: reader.status.role == "holder" and reader.status.connected and reader.status.mode == mode


def scenario(redis_server: RedisServer, body: Callable[[aioredis.Redis], Awaitable[None]]) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            await body(client)
        finally:
            await client.aclose()
    asyncio.run(main())


def test_mail_arrives_through_idle_without_polling(imap: Dovecot, redis_server: RedisServer,
                                                   db: redis.Redis) -> None:
    inbox = Inbox()

    async def body(r: aioredis.Redis) -> None:
        reader = ImapReader(r, settings(imap, "idle"), inbox.on_message)   # polling: once an hour
        async with running(reader):
            await until(reading(reader), what="the reader in IDLE")
            await append(imap, "idle", mail("idle", 1))
            took = await until(lambda: inbox.ids == ["idle-1"], timeout=3, what="the IDLE push")
            assert took < 3
            # the status moves once the cursor is saved in Redis, a round trip after the hand-over
            await until(lambda: reader.status.last_uid == inbox.delivered[0][0], timeout=3,
                        what="the reader's status to name the UID it handed over")

    scenario(redis_server, body)
    with imap.client("idle@shop.test") as c:        # never marked \Seen: the shop's people read it too
        c.select("INBOX", readonly=True)
        _, flags = c.fetch("1", "(FLAGS)")
        assert b"\\Seen" not in flags[0]


def test_reader_restarts_deliver_every_message_once_in_order(imap: Dovecot, redis_server: RedisServer,
                                                             db: redis.Redis) -> None:
    inbox = Inbox(delay=0.02)
    expected = [f"burst-{n}" for n in range(30)]

    async def body(r: aioredis.Redis) -> None:
        conf = settings(imap, "restart")
        for burst in range(3):
            reader = ImapReader(r, conf, inbox.on_message)
            async with running(reader):
                if burst == 0:     # the first start leaves existing mail alone: start it first
                    await until(reading(reader), what="the first reader")
                seen = len(inbox.delivered)
                await append(imap, "restart", *(mail("burst", n) for n in range(burst * 10, burst * 10 + 10)))
                if burst < 2:      # stopped mid-stream; the next burst arrives while nobody reads
                    await until(lambda seen=seen: len(inbox.delivered) >= seen + 3, what="a few deliveries")
                else:              # the sentinel comes last: every earlier message is handled before it
                    await append(imap, "restart", mail("sentinel", 0))
                    await until(lambda: "sentinel-0" in inbox.ids, timeout=20, what="the sentinel")

    scenario(redis_server, body)
    assert inbox.ids == expected + ["sentinel-0"]
    uids = [uid for uid, _, _ in inbox.delivered]
    assert uids == sorted(set(uids))


def test_reader_reconnects_after_the_server_restarts(imap: Dovecot, redis_server: RedisServer,
                                                     db: redis.Redis,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox()

    async def body(r: aioredis.Redis) -> None:
        reader = ImapReader(r, settings(imap, "server"), inbox.on_message)
        async with running(reader):
            await until(reading(reader), what="the reader in IDLE")
            await append(imap, "server", mail("server", 1))
            await until(lambda: inbox.ids == ["server-1"], what="the first message")
            with caplog.at_level(logging.INFO, logger="mail.imap_reader"):
                # imap.restart() in two steps, from this thread (Dovecot dies with the thread that
                # started it), with an outage long enough for several failed reconnections
                imap.stop()
                await until(lambda: reader.status.last_error is not None, what="the disconnection")
                await asyncio.sleep(0.5)
                imap.start()
                await append(imap, "server", mail("server", 2))
                await until(lambda: inbox.ids == ["server-1", "server-2"], timeout=15,
                            what="mail after the restart")
                await until(lambda: any("works again" in r.getMessage() for r in caplog.records),
                            what="the recovery logged")
            assert "connect" in (reader.status.last_error or "")

    scenario(redis_server, body)
    warnings = [r for r in caplog.records if r.name == "mail.imap_reader" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]        # once per outage


def test_failing_callback_is_retried_then_poisoned(imap: Dovecot, redis_server: RedisServer,
                                                   db: redis.Redis) -> None:
    inbox = Inbox(fail=lambda mid, call: (mid == "flaky-1" and call <= 2) or mid == "bad-2")
    conf = settings(imap, "retry")
    cursor_key = IMAP_CURSOR.format(account=conf.account)

    async def body(r: aioredis.Redis) -> None:
        reader = ImapReader(r, conf, inbox.on_message, on_poison=inbox.on_poison)
        async with running(reader):
            await until(reading(reader), what="the reader in IDLE")
            await append(imap, "retry", mail("flaky", 1))
            await until(lambda: inbox.ids == ["flaky-1"], what="the third attempt")
            assert inbox.calls["flaky-1"] == 3 and not inbox.poisoned
            cursor = db.hgetall(cursor_key)
            assert cursor["uid"] == str(inbox.delivered[0][0]) and "attempts" not in cursor
            await append(imap, "retry", mail("bad", 2), mail("after", 3))
            await until(lambda: "after-3" in inbox.ids, what="the message after the poison")

    scenario(redis_server, body)
    assert inbox.calls["bad-2"] == 3
    [(uid, raw, error)] = inbox.poisoned
    assert message_id(raw) == "bad-2" and isinstance(error, RuntimeError)
    assert inbox.ids == ["flaky-1", "after-3"]
    assert int(db.hget(cursor_key, "uid")) == inbox.delivered[-1][0] == uid + 1


def test_one_reader_holds_the_lease_and_a_standby_takes_over(imap: Dovecot, redis_server: RedisServer,
                                                             db: redis.Redis) -> None:
    inboxes = [Inbox(), Inbox()]
    conf = settings(imap, "lease")

    async def body(r: aioredis.Redis) -> None:
        readers = [ImapReader(r, conf, inbox.on_message) for inbox in inboxes]
        tasks = [asyncio.create_task(reader.run()) for reader in readers]
        try:
            await until(lambda: any(reading(x)() for x in readers), what="a holder")
            holder = next(i for i, x in enumerate(readers) if x.status.role == "holder")
            other = readers[1 - holder]
            await until(lambda: other.status.role == "standby", what="a standby")
            await append(imap, "lease", *(mail("lease", n) for n in range(5)))
            await until(lambda: len(inboxes[holder].delivered) == 5, what="the holder's deliveries")
            assert not inboxes[1 - holder].delivered and not other.status.connected

            async def crashed() -> None:     # a killed process never releases its lease
                pass
            readers[holder]._lease.release = crashed  # type: ignore[method-assign]
            tasks[holder].cancel()
            killed = time.monotonic()
            await append(imap, "lease", *(mail("lease", n) for n in range(5, 10)))
            await until(lambda: other.status.role == "holder", timeout=conf.lease_s + 2, what="the takeover")
            assert time.monotonic() - killed <= conf.lease_s + 1.5
            await until(lambda: len(inboxes[1 - holder].delivered) == 5, what="the new holder's deliveries")
            assert db.get(IMAP_LEASE.format(account=conf.account)) == readers[1 - holder]._lease.token
        finally:
            for reader in readers:
                await reader.stop()
            await asyncio.gather(*tasks, return_exceptions=True)

    scenario(redis_server, body)
    everything = sorted(inboxes[0].delivered + inboxes[1].delivered)
    assert [mid for _, _, mid in everything] == [f"lease-{n}" for n in range(10)]


def test_idle_is_renewed(imap: Dovecot, redis_server: RedisServer, db: redis.Redis,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = Inbox()
    idles = []
    original = ImapConnection.idle

    async def counted(self: ImapConnection, renew_s: float) -> None:
        idles.append(renew_s)
        await original(self, renew_s)
    monkeypatch.setattr(ImapConnection, "idle", counted)

    async def body(r: aioredis.Redis) -> None:
        reader = ImapReader(r, settings(imap, "renew", idle_renew_s=0.2), inbox.on_message)
        async with running(reader):
            await until(lambda: len(idles) >= 4, what="IDLE re-issued")
            await append(imap, "renew", mail("renew", 1))
            await until(lambda: inbox.ids == ["renew-1"], timeout=3, what="mail after renewals")

    scenario(redis_server, body)


def test_stop_releases_the_lease_even_if_the_callback_ignores_cancellation(
        imap: Dovecot, redis_server: RedisServer, db: redis.Redis) -> None:
    started = asyncio.Event()
    conf = settings(imap, "stop")

    async def stubborn(uid: int, uidvalidity: int, raw: bytes) -> None:
        started.set()
        for _ in range(2):     # like a client library swallowing a cancellation (Python 3.11's wait_for)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(5)

    async def body(r: aioredis.Redis) -> None:
        reader = ImapReader(r, conf, stubborn)
        task = asyncio.create_task(reader.run())
        await until(reading(reader), what="the reader in IDLE")
        await append(imap, "stop", mail("stop", 1))
        await asyncio.wait_for(started.wait(), 5)
        begun = time.monotonic()
        await reader.stop()
        assert task.done() and not task.cancelled() and time.monotonic() - begun < 2
        assert reader.status.role == "stopped"
        assert await r.get(IMAP_LEASE.format(account=conf.account)) is None    # a standby may take over
        assert await r.hget(IMAP_CURSOR.format(account=conf.account), "attempts") in (None, b"0")

    scenario(redis_server, body)


def test_polling_when_idle_is_off(imap: Dovecot, redis_server: RedisServer, db: redis.Redis) -> None:
    inbox = Inbox()

    async def body(r: aioredis.Redis) -> None:
        reader = ImapReader(r, settings(imap, "poll", idle=False, poll_interval_s=0.3), inbox.on_message)
        async with running(reader):
            await until(reading(reader, "poll"), what="the reader polling")
            await append(imap, "poll", mail("poll", 1), mail("poll", 2))
            await until(lambda: inbox.ids == ["poll-1", "poll-2"], timeout=5, what="the polled mail")
            assert reader.status.mode == "poll"

    scenario(redis_server, body)


def test_oversized_mail_goes_to_poison_without_being_fetched(imap: Dovecot, redis_server: RedisServer,
                                                            db: redis.Redis) -> None:
    inbox = Inbox()
    huge = mail("large", 1, body=(b"x" * 76 + b"\r\n") * 100)

    async def body(r: aioredis.Redis) -> None:
        conf = settings(imap, "large", max_message_bytes=2000)
        reader = ImapReader(r, conf, inbox.on_message, on_poison=inbox.on_poison)
        async with running(reader):
            await until(reading(reader), what="the reader in IDLE")
            await append(imap, "large", huge, mail("small", 2))
            await until(lambda: inbox.ids == ["small-2"] and len(inbox.poisoned) == 1, what="both messages")

    scenario(redis_server, body)
    [(_, header, error)] = inbox.poisoned
    assert isinstance(error, MessageTooLarge) and str(len(huge)) in str(error)
    assert header.startswith(b"From: shopper1@") and b"Message-ID: <large-1@" in header
    assert b"xxxx" not in header and len(header) < 500          # the header only


def test_cursor_first_start_and_uidvalidity_change(imap: Dovecot, redis_server: RedisServer,
                                                   db: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox()
    conf = settings(imap, "cursor")
    cursor_key = IMAP_CURSOR.format(account=conf.account)
    imap.append("cursor@shop.test", mail("old", 1))     # there before the reader ever ran

    async def body(r: aioredis.Redis) -> None:
        reader = ImapReader(r, conf, inbox.on_message)
        async with running(reader):
            await until(reading(reader), what="the first start")
            await append(imap, "cursor", mail("new", 2))
            await until(lambda: inbox.ids == ["new-2"], what="the new mail only")
        # the mailbox was recreated: the cursor's UIDVALIDITY no longer matches
        await r.hset(cursor_key, "uidvalidity", "12345")
        with caplog.at_level(logging.WARNING, logger="mail.imap_reader"):
            reader = ImapReader(r, conf, inbox.on_message)
            async with running(reader):
                await until(lambda: len(inbox.ids) == 3, what="today's mail handed over again")
                await until(reading(reader), what="IDLE")

    scenario(redis_server, body)
    assert inbox.ids == ["new-2", "old-1", "new-2"]     # the ingest drops the repeat by Message-ID
    assert "UIDVALIDITY" in caplog.text and "12345" in caplog.text
    assert db.hget(cursor_key, "uidvalidity") != "12345"


# -- IMAP_URL ------------------------------------------------------------------------------------


def test_imap_url_parsing() -> None:
    s = ImapSettings.from_url("imaps://support%40shop.example:p%40ss%3Aw@mail.example.com/Support%20Desk")
    assert (s.host, s.port, s.username, s.password, s.mailbox, s.use_tls, s.start_tls) == (
        "mail.example.com", 993, "support@shop.example", "p@ss:w", "Support Desk", True, False)
    s = ImapSettings.from_url("imap://u:p@mail.example.com?starttls=1")
    assert (s.port, s.mailbox, s.use_tls, s.start_tls) == (143, "INBOX", False, True)
    assert ImapSettings.from_url("imap://u:p@h:1143/").port == 1143
    assert ImapSettings.from_url("imap://u:p@h").start_tls is None          # upgrades when offered
    assert not ImapSettings.from_env({"IMAP_URL": ""}).enabled
    s = ImapSettings.from_env({"IMAP_URL": "imap://u:p@h", "IMAP_IDLE": "0", "IMAP_POLL_S": "15",
                               "IMAP_MAX_MESSAGE_MB": "10", "IMAP_LEASE_S": "45"})
    assert (s.idle, s.poll_interval_s, s.max_message_bytes, s.lease_s, s.idle_renew_s, s.max_attempts) == (
        False, 15, 10 * 1024 * 1024, 45, 25 * 60, 3)

    for url, hint in [
        ("http://u:s3cr3t@h/INBOX", "imap:// or imaps://"),
        ("imap://u:s3cr3t@/INBOX", "no host"),
        ("imap://mail.example.com/INBOX", "user and a password"),
        ("imap://u:s3cr3t@h:99999/INBOX", "not a valid URL"),
        ("imap://u:s3/cr3t@h/INBOX", "not a valid URL"),        # an unescaped / in the password
        ("imap://u:s3cr3t@h/INBOX?idle=1", "unknown option"),
        ("imap://u:s3cr3t@h/INBOX?starttls=maybe", "starttls must be"),
        ("imaps://u:s3cr3t@h/INBOX?starttls=1", "already TLS"),
        ("imap://u:s3cr3t@h/Bo%C3%AEte", "printable ASCII"),
    ]:
        with pytest.raises(ImapConfigError, match=hint) as caught:
            ImapSettings.from_env({"IMAP_URL": url})
        assert "IMAP_URL" in str(caught.value) and "s3cr3t" not in str(caught.value) \
            and "cr3t" not in str(caught.value), str(caught.value)
    for env, name in [({"IMAP_IDLE_RENEW_S": "1800"}, "IMAP_IDLE_RENEW_S"),
                      ({"IMAP_POLL_S": "soon"}, "IMAP_POLL_S"), ({"IMAP_IDLE": "maybe"}, "IMAP_IDLE")]:
        with pytest.raises(ImapConfigError, match=name):
            ImapSettings.from_env({"IMAP_URL": "imap://u:p@h", **env})


def test_password_never_shown(imap: Dovecot, redis_server: RedisServer, db: redis.Redis,
                              caplog: pytest.LogCaptureFixture) -> None:
    good = settings(imap, "secret")
    shown = [repr(good), str(good), good.describe()]
    assert not [text for text in shown for secret in SECRETS if secret in text], shown
    assert good.describe() == f"imap://secret@shop.test:***@127.0.0.1:{imap.port}/INBOX"

    async def body(r: aioredis.Redis) -> None:
        with caplog.at_level(logging.DEBUG):          # aioimaplib logs every command sent at DEBUG
            reader = ImapReader(r, good, Inbox().on_message)
            async with running(reader):
                await until(reading(reader), what="a login with the password")
            tuning = {k: getattr(good, k) for k in ("backoff_s", "timeout_s", "lease_s")}
            wrong = ImapSettings.from_url(good.describe().replace("***", quote(WRONG, safe="")), **tuning)
            reader = ImapReader(r, wrong, Inbox().on_message)
            async with running(reader):
                await until(lambda: reader.status.last_error is not None, what="the refused login")
            error = reader.status.last_error
            assert "login" in error and not [secret for secret in SECRETS if secret in error], error

    scenario(redis_server, body)
    assert 'LOGIN "secret@shop.test" ***' in caplog.text and "refused" in caplog.text
    assert not [secret for secret in SECRETS if secret in caplog.text]


# -- TLS ----------------------------------------------------------------------------------------


class TlsDovecot(Dovecot):
    """The same Dovecot with a self-signed certificate: STARTTLS on its port, implicit TLS on tls_port."""

    def __init__(self, users: dict[str, str], cert: Path, key: Path) -> None:
        super().__init__(users)
        self.tls_port, self.cert, self.key = free_port(), cert, key

    def _config(self) -> str:
        ssl = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.key}"
        imaps = "inet_listener imaps {\n    port = 0\n  }"
        listener = f"inet_listener imaps {{\n    address = {HOST}\n    port = {self.tls_port}\n  }}"
        config = super()._config()
        assert "ssl = no" in config and imaps in config
        return config.replace("ssl = no", ssl).replace(imaps, listener)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_and_starttls(redis_server: RedisServer, db: redis.Redis, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    os.chmod(tmp_path, 0o755)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))          # the reader trusts this certificate only
    inbox = Inbox()
    user = quote("tls@shop.test", safe="")
    with TlsDovecot({"tls@shop.test": "pw"}, cert, key) as imap:
        urls = [f"imaps://{user}:pw@{HOST}:{imap.tls_port}/INBOX",
                f"imap://{user}:pw@{HOST}:{imap.port}/INBOX?starttls=1"]

        async def body(r: aioredis.Redis) -> None:
            for n, url in enumerate(urls):
                conf = ImapSettings.from_url(url, lease_s=2.0, timeout_s=5.0)
                reader = ImapReader(r, conf, inbox.on_message)
                async with running(reader):
                    await until(reading(reader), what=f"the reader on {url}")
                    await append(imap, "tls", mail("tls", n))
                    await until(lambda n=n: len(inbox.ids) == n + 1, what=f"mail over {url}")
                assert reader.status.last_error is None

        scenario(redis_server, body)
    assert inbox.ids == ["tls-0", "tls-1"]
