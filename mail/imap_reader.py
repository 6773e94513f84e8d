"""Reads the shop's support mailbox over IMAP and hands each new message's raw RFC 822 bytes to a
callback, one at a time in UID order. Runs as a background task in every gateway process; a Redis
lease lets one of them read while the others stand by and take over when it dies.

- One long-lived connection in IDLE, re-issued every `idle_renew_s` (servers drop an IDLE client
  after 30 minutes); polling every `poll_interval_s` when the server has no IDLE or refuses it.
- Connection trouble: reconnect with exponential backoff, logged once per outage; never stops.
- Only a cursor in Redis (UIDVALIDITY + the last UID handed over) records progress: messages are
  never flagged \\Seen nor moved (the shop's people read the mailbox too). It advances after the
  callback returned, so delivery is at-least-once: the callback gets (uid, uidvalidity, raw) and
  the ingest drops a Message-ID it already has.
- A failing callback is retried with backoff; after `max_attempts` (a crash mid-callback counts)
  the message goes to `on_poison(uid, raw, error)` and the cursor moves on. A message over
  `max_message_bytes` (RFC822.SIZE, checked first) goes there with only its header (64 KB at most).
- First start (no cursor): mail already in the mailbox is left alone; reading starts at UIDNEXT.
- UIDVALIDITY changed (the mailbox was recreated or migrated, old UIDs mean nothing): the messages
  received since the day of the cursor's last move are handed over again, which the ingest
  deduplicates by Message-ID; logged as a warning. Neither the whole mailbox (a migration may
  bring years of mail, each of which could get an automatic reply) nor nothing (mail received
  while the mailbox was being moved would be lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kit.backoff import exponential
from mail.imap_client import IdleUnavailable, ImapConnection, ImapError, Mailbox, settle
from mail.imap_settings import ImapConfigError, ImapSettings
from mail.imap_state import Cursor, Lease, LeaseLost

__all__ = ["ImapConfigError", "ImapReader", "ImapSettings", "MessageTooLarge", "ReaderStatus"]

log = logging.getLogger(__name__)

OnMessage = Callable[[int, int, bytes], Awaitable[None]]
OnPoison = Callable[[int, bytes, BaseException], Awaitable[None]]
HEADER_LIMIT = 64 * 1024          # what on_poison gets of a message too large to fetch


class MessageTooLarge(Exception):
    """Passed to on_poison: the message is over `max_message_bytes`; `raw` is its header only."""


class GaveUp(Exception):
    """Passed to on_poison when the attempts were used up without an exception to show
    (the process stopped mid-callback each time: a crash, an out-of-memory kill...)."""


class _DeliveryError(Exception):
    """on_poison failed: the message stays next in line, retried after a backoff."""


@dataclass(frozen=True)
class ReaderStatus:
    """For a health endpoint; `last_error` never holds the password."""
    role: str = "stopped"             # stopped | standby | holder (this process reads the mailbox)
    connected: bool = False
    mode: str | None = None           # "idle" or "poll" while connected
    uidvalidity: int | None = None
    last_uid: int | None = None       # the last UID handed over (or given up)
    last_error: str | None = None
    last_error_at: float | None = None   # epoch s


class ImapReader:
    """`asyncio.create_task(reader.run())`, and `await reader.stop()` at shutdown (releases the lease)."""

    def __init__(self, redis: Redis, settings: ImapSettings, on_message: OnMessage, *,
                 on_poison: OnPoison | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if not settings.enabled:
            raise ValueError("IMAP_URL is empty: e-mail reading is disabled")
        self.settings = settings
        self._on_message = on_message
        self._on_poison = on_poison
        self._clock = clock
        self._lease = Lease(redis, settings.account, settings.lease_s)
        self._cursor = Cursor(redis, settings.account, self._lease)
        self._status = ReaderStatus()
        self._task: asyncio.Task[Any] | None = None
        self._stopping = False
        self._outage = False          # an error was logged: the next one is not, the recovery is
        self._healthy = False         # the current IMAP session has synced once
        self._last_uid = 0

    @property
    def status(self) -> ReaderStatus:
        return self._status

    async def run(self) -> None:
        """Read (or stand by) until cancelled or `stop()`ped; errors are logged, never raised."""
        if self._task is not None and not self._task.done():
            raise RuntimeError("this ImapReader is already running")
        self._task, self._stopping = asyncio.current_task(), False
        log.info("IMAP reader for %s started", self.settings.describe())
        try:
            await self._contend()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task = asyncio.current_task()
            while task is not None and task.cancelling():   # stop() may have cancelled more than once
                task.uncancel()
        finally:
            self._set(role="stopped", connected=False, mode=None)
            with contextlib.suppress(Exception):
                await settle(self._lease.release(), 2)

    async def stop(self) -> None:
        """Stop reading, release the lease (a standby gateway takes over at once), return when done."""
        task = self._task
        if task is None or task.done():
            return
        self._stopping = True
        while not task.done():     # again if a callback swallowed the cancellation
            task.cancel()
            await asyncio.wait({task}, timeout=1)

    # -- the lease ------------------------------------------------------------------------------

    async def _contend(self) -> None:
        tick = self.settings.lease_s / 5
        while True:
            try:
                held = await settle(self._lease.acquire(), tick)
            except Exception as exc:  # Redis unreachable (or a bug): stand by, never stop
                self._trouble(f"Redis: {exc or type(exc).__name__}")
                await asyncio.sleep(tick)
                continue
            self._recovered()
            if not held:
                self._set(role="standby")
                await asyncio.sleep(tick)
                continue
            log.info("IMAP reader: this process now reads %s", self.settings.describe())
            self._set(role="holder")
            await self._hold()
            self._set(role="standby", connected=False, mode=None)

    async def _hold(self) -> None:
        """Read while renewing the lease; return when the lease is lost."""
        reading = asyncio.create_task(self._read())
        keeping = asyncio.create_task(self._keep_lease())
        try:
            await asyncio.wait({reading, keeping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            while not (reading.done() and keeping.done()):   # again if a cancellation was swallowed
                reading.cancel()
                keeping.cancel()
                await asyncio.wait({reading, keeping}, timeout=1)
        for task in (reading, keeping):
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.warning("IMAP reader: lease on %s lost (%s); standing by", self.settings.describe(),
                            self.settings.scrub(str(exc)))

    async def _keep_lease(self) -> None:
        """Renew every third of the lease; give up (return) when it is gone or unprovable."""
        s = self.settings
        last_ok = self._clock()
        while True:
            await asyncio.sleep(s.lease_s / 3)
            try:
                if not await settle(self._lease.renew(), s.lease_s / 3):
                    log.warning("IMAP reader: another gateway took the lease on %s; standing by",
                                s.describe())
                    return
                last_ok = self._clock()
            except (RedisError, OSError, TimeoutError) as exc:
                if self._clock() - last_ok >= s.lease_s * 2 / 3:
                    log.warning("IMAP reader: cannot renew the lease on %s (%s); standing by",
                                s.describe(), exc or type(exc).__name__)
                    return

    # -- reading --------------------------------------------------------------------------------

    async def _read(self) -> None:
        """Sessions one after the other, with backoff between failures; returns only on LeaseLost."""
        failures = 0
        while True:
            conn = ImapConnection(self.settings)
            self._healthy = False
            try:
                await self._session(conn)
            except LeaseLost:
                raise
            except (ImapError, _DeliveryError, RedisError, OSError, TimeoutError) as exc:
                self._trouble(self.settings.scrub(str(exc)) or type(exc).__name__)
            except Exception as exc:  # a bug: log it, and keep reading all the same
                self._trouble(f"unexpected {type(exc).__name__}: {self.settings.scrub(str(exc))}")
                log.debug("IMAP reader: traceback", exc_info=True)
            finally:
                await conn.close()
                self._set(connected=False, mode=None)
            failures = 1 if self._healthy else failures + 1
            await asyncio.sleep(exponential(failures, self.settings.backoff_s, self.settings.backoff_cap_s))

    async def _session(self, conn: ImapConnection) -> None:
        s = self.settings
        box = await conn.open()
        self._set(connected=True, uidvalidity=box.uidvalidity)
        await self._start(conn, box)
        idle = s.idle and conn.supports_idle
        if s.idle and not idle:
            log.info("IMAP reader: %s has no IDLE; polling every %g s", s.describe(), s.poll_interval_s)
        while True:
            self._set(mode="idle" if idle else "poll")
            await self._sync(conn, box.uidvalidity)
            if not self._healthy:
                self._healthy = True
                self._recovered()
            if idle:
                try:
                    await conn.idle(s.idle_renew_s)
                    continue
                except IdleUnavailable as exc:
                    log.warning("IMAP reader: IDLE on %s failed (%s); polling every %g s on this connection",
                                s.describe(), exc, s.poll_interval_s)
                    idle = False
                    continue
            await asyncio.sleep(s.poll_interval_s)
            await conn.noop()

    async def _start(self, conn: ImapConnection, box: Mailbox) -> None:
        """Where this session starts: the cursor, or UIDNEXT - 1 the first time, or a re-read
        window when UIDVALIDITY changed (see the module docstring)."""
        saved = await settle(self._cursor.load())
        if saved is not None and saved.uidvalidity == box.uidvalidity:
            self._moved(saved.uid)
            return
        uidnext = box.uidnext if box.uidnext is not None else max(await conn.uids_after(0), default=0) + 1
        if saved is None:
            log.info("IMAP reader: first start on %s; the %s message(s) already there are left alone, "
                     "reading starts at UID %d", self.settings.describe(), uidnext - 1 or "no", uidnext)
            start = uidnext - 1
        else:
            since = datetime.fromtimestamp(saved.at if saved.at is not None else time.time(), UTC).date()
            again = await conn.uids_since(since)
            start = (again[0] - 1) if again else uidnext - 1
            log.warning("IMAP reader: UIDVALIDITY of %s changed (%d -> %d): the mailbox was recreated. "
                        "Handing over again the %d message(s) received since %s (the ingest drops those "
                        "it already has by Message-ID); older ones are left alone", self.settings.describe(),
                        saved.uidvalidity, box.uidvalidity, len(again), since.isoformat())
        await settle(self._cursor.advance(box.uidvalidity, start))
        self._moved(start)

    async def _sync(self, conn: ImapConnection, uidvalidity: int) -> None:
        """Hand over everything after the cursor; search again while that finds mail, and once more
        if the server reported new mail (EXISTS) during the last, empty search."""
        recheck = True
        while True:
            mark = conn.exists_seen
            uids = await conn.uids_after(self._last_uid)
            for uid in uids:
                await self._deliver(conn, uidvalidity, uid)
            if not uids:
                if conn.exists_seen == mark or not recheck:
                    return
                recheck = False

    async def _deliver(self, conn: ImapConnection, uidvalidity: int, uid: int) -> None:
        s = self.settings
        size = await conn.size(uid)
        raw = None
        if size is not None and size > s.max_message_bytes:
            header = await conn.fetch(uid, f"BODY.PEEK[HEADER]<0.{HEADER_LIMIT}>") or b""
            await self._poison(uid, header, MessageTooLarge(
                f"message UID {uid} has {size} bytes, over the {s.max_message_bytes} of IMAP_MAX_MESSAGE_MB"))
        elif size is not None and (raw := await conn.fetch(uid)) is not None:
            await self._hand_over(uidvalidity, uid, raw)
        else:
            log.info("IMAP reader: UID %d of %s was deleted before it could be read", uid, s.describe())
        await settle(self._cursor.advance(uidvalidity, uid))
        self._moved(uid)

    async def _hand_over(self, uidvalidity: int, uid: int, raw: bytes) -> None:
        """The callback, retried with backoff; on_poison once the attempts are used up."""
        s = self.settings
        while True:
            attempt = await settle(self._cursor.attempt(uidvalidity, uid))
            if attempt > s.max_attempts:     # earlier attempts ended with the process, or on_poison failed
                await self._poison(uid, raw, GaveUp(f"message UID {uid}: {s.max_attempts} attempts used up"))
                return
            try:
                await settle(self._on_message(uid, uidvalidity, raw))
                return
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await settle(self._cursor.forget_attempt(uidvalidity, uid), 1)
                raise
            except Exception as exc:
                log.warning("IMAP reader: the callback failed on UID %d of %s (attempt %d of %d)", uid,
                            s.describe(), attempt, s.max_attempts, exc_info=True)
                if attempt >= s.max_attempts:
                    await self._poison(uid, raw, exc)
                    return
            await asyncio.sleep(exponential(attempt, s.backoff_s, s.backoff_cap_s))

    async def _poison(self, uid: int, raw: bytes, error: BaseException) -> None:
        log.error("IMAP reader: gave up on UID %d of %s (%s); it stays in the mailbox",
                  uid, self.settings.describe(), error)
        if self._on_poison is None:
            return
        try:
            await settle(self._on_poison(uid, raw, error))
        except Exception as exc:
            raise _DeliveryError(f"on_poison failed for UID {uid}: {type(exc).__name__}: {exc}") from exc

    # -- status ---------------------------------------------------------------------------------

    def _moved(self, uid: int) -> None:
        self._last_uid = uid
        self._set(last_uid=uid)

    def _recovered(self) -> None:
        if self._outage:
            self._outage = False
            log.info("IMAP reader: %s works again", self.settings.describe())

    def _trouble(self, error: str) -> None:
        """Record an error; log it once per outage (the next success logs the recovery)."""
        self._set(last_error=error, last_error_at=time.time())
        if self._outage:
            log.debug("IMAP reader: still failing: %s", error)
            return
        self._outage = True
        log.warning("IMAP reader: %s failed (%s); retrying with backoff (logged again once it works)",
                    self.settings.describe(), error)

    def _set(self, **changes: Any) -> None:
        self._status = replace(self._status, **changes)
