"""Chats opened outside the calendar: a manager says "open now, until 19:00" for today.

The exception is recorded in Redis (one entry per day, who and when), so every gateway applies
it: each refreshes its BusinessHours from Redis every few seconds and before answering an agent.
Past days are dropped on refresh; the calendar in config/shop.yml is never rewritten.
"""

from __future__ import annotations

import json
import time as clock_time
from collections.abc import Callable
from datetime import date, datetime, time

import redis.asyncio as aioredis

from kit.keys import HOURS_EXCEPTIONS
from kit.redis import text
from shop.hours import BusinessHours

MINUTES_PER_DAY = 24 * 60


class OpeningError(ValueError):
    pass


class OpeningExceptions:
    def __init__(self, redis: aioredis.Redis, hours: BusinessHours, clock: Callable[[], datetime]):
        self.redis = redis
        self.hours = hours
        self.clock = clock

    def _today(self) -> tuple[date, int]:
        local = self.clock().astimezone(self.hours.tz)
        return local.date(), local.hour * 60 + local.minute

    async def open_now(self, until: time, by: str) -> dict:
        """Open chats from now until `until` (shop's wall clock, later today)."""
        day, now_minute = self._today()
        end = until.hour * 60 + until.minute
        if end <= now_minute:
            raise OpeningError("the end time must be later today")
        entry = {"start": now_minute, "end": end, "by": by, "at": clock_time.time()}
        await self.redis.hset(HOURS_EXCEPTIONS, day.isoformat(), json.dumps(entry))
        await self.refresh()
        return {"day": day.isoformat(), **entry}

    async def cancel_today(self) -> bool:
        day, _ = self._today()
        removed = bool(await self.redis.hdel(HOURS_EXCEPTIONS, day.isoformat()))
        await self.refresh()
        return removed

    async def today(self) -> dict | None:
        day, _ = self._today()
        raw = await self.redis.hget(HOURS_EXCEPTIONS, day.isoformat())
        return {"day": day.isoformat(), **json.loads(raw)} if raw else None

    async def refresh(self) -> None:
        """Apply what Redis holds to this process's calendar; forget days gone by."""
        today, _ = self._today()
        extra: dict[date, tuple[int, int]] = {}
        for raw_day, raw in (await self.redis.hgetall(HOURS_EXCEPTIONS)).items():
            try:
                day = date.fromisoformat(text(raw_day))
                entry = json.loads(raw)
                start, end = int(entry["start"]), int(entry["end"])
            except (ValueError, KeyError, TypeError):
                await self.redis.hdel(HOURS_EXCEPTIONS, raw_day)
                continue
            if day < today:
                await self.redis.hdel(HOURS_EXCEPTIONS, raw_day)
            elif 0 <= start < end <= MINUTES_PER_DAY:
                extra[day] = (start, end)
        self.hours.set_extra_openings(extra)
