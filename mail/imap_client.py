"""One IMAP connection for the mailbox reader, over aioimaplib, with only the commands it needs.

What it adds to the library: every call fails at once when the server drops the connection
(aioimaplib alone would wait out its timeout), errors are `ImapError`s without the password,
LOGIN's debug log hides the password as sent, the mailbox is opened read-only (EXAMINE: no
\\Seen set, no \\Recent taken from the shop's own mail clients), and untagged EXISTS are counted
whichever command they arrive with, so mail reported between two commands is never missed.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import aioimaplib
from aioimaplib import SELECTED, Command, IMAP4ClientProtocol, Response, change_state, quoted

from mail.imap_settings import ImapSettings

T = TypeVar("T")

_EXISTS = re.compile(rb"\* \d+ EXISTS")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_FETCH = re.compile(rb"\d+ FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_NUMBERS = re.compile(rb"[0-9 ]*")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


async def settle(aw: Awaitable[T], timeout: float | None = None) -> T:
    """Await `aw` in a task of its own, so that cancelling the caller always works: on Python 3.11
    `asyncio.wait_for` (which redis-py uses inside) may swallow a cancellation that lands as the
    call completes (gh-86296), and a reader that cannot be stopped holds its lease forever.
    TimeoutError after `timeout`; either way the call itself is cancelled."""
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        raise TimeoutError
    return task.result()


def _abandon(task: asyncio.Future[Any]) -> None:
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())   # no "never retrieved" warning


class ImapError(Exception):
    """The server refused a command, or the connection failed (the message is password-free)."""


class IdleUnavailable(ImapError):
    """The server has no IDLE or refused it: the reader polls instead."""


@dataclass(frozen=True)
class Mailbox:
    uidvalidity: int
    uidnext: int | None


class _Protocol(IMAP4ClientProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.lost = asyncio.Event()
        self.exists_seen = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()
        super().connection_lost(exc)

    def _untagged_response(self, line: bytes) -> Command:
        if _EXISTS.match(line):
            self.exists_seen += 1
        return super()._untagged_response(line)

    @change_state
    async def login(self, user: str, password: str) -> Response:
        secret = quoted(password)    # scrubbed as sent (the library scrubs the unquoted form)
        response = await self.execute(Command("LOGIN", self.new_tag(), quoted(user), secret, loop=self.loop),
                                      scrub=secret)
        if response.result == "OK":
            self.state = aioimaplib.AUTH
        return response

    @change_state
    async def examine(self, mailbox: str) -> Response:
        response = await self.execute(Command("EXAMINE", self.new_tag(), quoted(mailbox), loop=self.loop))
        if response.result == "OK":
            self.state = SELECTED     # read-only, but a selected mailbox for UID SEARCH and FETCH
        return response


class _Client(aioimaplib.IMAP4):
    def create_client(self, host: str, port: int, loop: asyncio.AbstractEventLoop | None,
                      conn_lost_cb: Any = None, ssl_context: ssl.SSLContext | None = None) -> None:
        loop = loop or asyncio.get_running_loop()
        self.protocol = _Protocol(loop)
        self._client_task = loop.create_task(
            loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context))


class ImapConnection:
    """Connect with `open()`, then search and fetch by UID; `close()` always."""

    def __init__(self, settings: ImapSettings) -> None:
        self._s = settings
        self._client: _Client | None = None
        self.opened = False

    @property
    def _proto(self) -> _Protocol:
        assert self._client is not None, "open() first"
        return self._client.protocol  # type: ignore[return-value]

    @property
    def supports_idle(self) -> bool:
        return "IDLE" in self._proto.capabilities

    @property
    def exists_seen(self) -> int:
        """How many EXISTS the server sent so far: a change means mail may have arrived."""
        return self._proto.exists_seen

    async def open(self) -> Mailbox:
        """Connect, STARTTLS when configured or offered, log in, EXAMINE the mailbox."""
        s = self._s
        context = ssl.create_default_context() if s.use_tls or s.start_tls is not False else None
        self._client = _Client(s.host, s.port, timeout=s.timeout_s,
                               ssl_context=context if s.use_tls else None)
        await self._call(self._client.wait_hello_from_server(), "connect")
        if not s.use_tls and s.start_tls is not False:
            if "STARTTLS" in self._proto.capabilities:
                assert context is not None
                await self._starttls(context)
            elif s.start_tls:
                raise ImapError("the server does not offer STARTTLS (IMAP_URL has starttls=1)")
        login = await self._timed(self._proto.login(s.username, s.password), "LOGIN")
        self._ok(login, f"login as {s.username}")
        await self._timed(self._proto.capability(), "CAPABILITY")   # they may change once logged in
        examine = await self._timed(self._proto.examine(s.mailbox), "EXAMINE")
        response = self._ok(examine, f"EXAMINE {s.mailbox}")
        text = b"\n".join(line for line in response.lines if isinstance(line, bytes))
        validity, uidnext = _UIDVALIDITY.search(text), _UIDNEXT.search(text)
        if validity is None:
            raise ImapError(f"EXAMINE {s.mailbox}: the server sent no UIDVALIDITY")
        self.opened = True
        return Mailbox(int(validity.group(1)), int(uidnext.group(1)) if uidnext else None)

    async def _starttls(self, context: ssl.SSLContext) -> None:
        proto = self._proto
        self._ok(await self._timed(proto.execute(Command("STARTTLS", proto.new_tag(), loop=proto.loop)),
                                   "STARTTLS"), "STARTTLS")
        loop = asyncio.get_running_loop()
        proto.transport = await self._call(
            asyncio.wait_for(loop.start_tls(proto.transport, proto, context, server_hostname=self._s.host),
                             self._s.timeout_s), "TLS handshake")
        await self._timed(proto.capability(), "CAPABILITY")   # RFC 3501: forget the plain-text ones

    async def close(self) -> None:
        """LOGOUT when the connection is idle and healthy, then close the socket (never raises)."""
        if self._client is None:
            return
        proto = self._proto
        try:
            if (proto.transport is not None and not proto.lost.is_set()
                    and proto.pending_sync_command is None and not proto.pending_async_commands):
                await settle(proto.logout(), 2)
        except Exception:  # noqa: BLE001 - best effort, the socket closes below anyway
            pass
        finally:
            if proto.transport is not None:
                proto.transport.close()

    async def uids_after(self, last: int) -> list[int]:
        """UIDs above `last`, ascending. `UID SEARCH UID last+1:*` also returns the highest UID when
        it is <= last (RFC 3501: `*` is the largest UID in use), hence the filter."""
        return [uid for uid in await self._search("UID", f"{last + 1}:*") if uid > last]

    async def uids_since(self, day: date) -> list[int]:
        """UIDs of the messages received (INTERNALDATE) on or after `day`."""
        return await self._search("SINCE", f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}")

    async def _search(self, *criteria: str) -> list[int]:
        response = self._ok(await self._timed(self._proto.search(*criteria, charset=None, by_uid=True),
                                              "UID SEARCH"), "UID SEARCH")
        lines = [line for line in response.lines[:-1] if isinstance(line, bytes) and _NUMBERS.fullmatch(line)]
        return sorted({int(n) for line in lines for n in line.split()})

    async def size(self, uid: int) -> int | None:
        """RFC822.SIZE of a message, None when it is gone (expunged since the search)."""
        for header, _literal, tail in self._fetched(await self._fetch(uid, "(UID RFC822.SIZE)")):
            found_uid, size = _UID.search(header + tail), _SIZE.search(header)
            if found_uid and int(found_uid.group(1)) == uid and size:
                return int(size.group(1))
        return None

    async def fetch(self, uid: int, section: str = "BODY.PEEK[]") -> bytes | None:
        """A message's raw bytes (or a `section` of it), None when it is gone. PEEK: no \\Seen."""
        for header, literal, tail in self._fetched(await self._fetch(uid, f"(UID {section})")):
            found_uid = _UID.search(header + tail)
            if literal is not None and found_uid and int(found_uid.group(1)) == uid:
                return literal
        return None

    async def _fetch(self, uid: int, items: str) -> Response:
        # the library times a FETCH between two reads (a 40 MB body may take longer than timeout_s)
        fetching = self._proto.fetch(str(uid), items, by_uid=True, timeout=self._s.timeout_s)
        response = await self._call(fetching, "UID FETCH")
        return self._ok(response, "UID FETCH")

    @staticmethod
    def _fetched(response: Response) -> list[tuple[bytes, bytes | None, bytes]]:
        """(`n FETCH (...` line, its literal or None, the line after the literal) per message."""
        lines, out = response.lines, []
        for i, line in enumerate(lines):
            if isinstance(line, bytes) and _FETCH.match(line):
                literal = lines[i + 1] if i + 1 < len(lines) and isinstance(lines[i + 1], bytearray) else None
                tail = lines[i + 2] if literal is not None and i + 2 < len(lines) else b""
                out.append((line, bytes(literal) if literal is not None else None,
                            tail if isinstance(tail, bytes) else b""))
        return out

    async def noop(self) -> None:
        """Lets the server report new mail (polling) and keeps the connection alive."""
        self._ok(await self._timed(self._proto.simple_command("NOOP"), "NOOP"), "NOOP")

    async def idle(self, renew_s: float) -> None:
        """IDLE until the server reports new mail (EXISTS) or `renew_s` passed, then DONE.
        IdleUnavailable if the server has no IDLE or refuses it; ImapError if the connection fails."""
        proto = self._proto
        if not self.supports_idle:
            raise IdleUnavailable("the server has no IDLE capability")
        while not proto.idle_queue.empty():   # pushes of an earlier IDLE, already synced
            proto.idle_queue.get_nowait()
        idle = asyncio.ensure_future(proto.idle())
        ack = asyncio.ensure_future(proto.wait_for_idle_response())
        try:
            await self._call(asyncio.wait({idle, ack}, timeout=self._s.timeout_s,
                                          return_when=asyncio.FIRST_COMPLETED), "IDLE")
        except BaseException:
            idle.cancel()
            raise
        finally:
            ack.cancel()
        if not proto.has_pending_idle_command() or not ack.done() or ack.cancelled():
            if idle.done() and not idle.cancelled() and idle.exception() is None:
                raise IdleUnavailable(f"the server refused IDLE: {self._text(idle.result())}")
            idle.cancel()
            raise ImapError("IDLE: the server did not answer")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + renew_s
        while (remaining := deadline - loop.time()) > 0:
            push = asyncio.ensure_future(proto.idle_queue.get())
            done, _ = await self._race({push, idle}, remaining, "IDLE")
            if push not in done:
                push.cancel()
            if idle in done:     # the server ended IDLE by itself: sync, then IDLE again
                self._ok(idle.result(), "IDLE")
                return
            if push not in done:
                break            # time to renew
            if any(isinstance(line, bytes) and line.endswith(b"EXISTS") for line in push.result()):
                break
        proto.idle_done()
        self._ok(await self._call(asyncio.wait_for(idle, self._s.timeout_s), "IDLE DONE"), "IDLE")

    async def _race(self, tasks: set[asyncio.Future[Any]], timeout: float, what: str
                    ) -> tuple[set[asyncio.Future[Any]], set[asyncio.Future[Any]]]:
        """asyncio.wait on `tasks` and the connection's end: ImapError if the connection ended first."""
        lost = asyncio.ensure_future(self._proto.lost.wait())
        try:
            done, pending = await asyncio.wait(tasks | {lost}, timeout=timeout,
                                               return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        finally:
            lost.cancel()
        if lost in done and not (done - {lost}):
            for task in tasks:
                task.cancel()
            raise ImapError(f"{what}: the server closed the connection")
        return done - {lost}, pending - {lost}

    async def _call(self, aw: Awaitable[T], what: str) -> T:
        """Await an IMAP call, or fail as soon as the connection ends; library errors -> ImapError."""
        task = asyncio.ensure_future(aw)
        done, _ = await self._race({task}, None, what)  # type: ignore[arg-type]
        try:
            return task.result()
        except (aioimaplib.AioImapException, OSError, TimeoutError, ssl.SSLError) as exc:
            detail = self._s.scrub(str(exc)) or type(exc).__name__
            raise ImapError(f"{what}: {detail}") from None

    async def _timed(self, aw: Awaitable[T], what: str) -> T:
        return await self._call(asyncio.wait_for(aw, self._s.timeout_s), what)

    def _ok(self, response: Response, what: str) -> Response:
        if response.result != "OK":
            raise ImapError(f"{what} refused: {response.result} {self._text(response)}".strip())
        return response

    def _text(self, response: Response) -> str:
        last = response.lines[-1] if response.lines else b""
        return self._s.scrub(bytes(last).decode("utf-8", "replace"))[:300]
