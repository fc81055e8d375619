"""Keys with expiry in Redis, on a :class:`~rweb.redis_link.RedisLink`: session snapshots and single-use claims.

:class:`RedisStore` is a :class:`rweb.snapshot.SnapshotStore` (``store``,
``forget``, ``take``, ``sync``) and answers :meth:`RedisStore.claim` for
single-use tokens across processes.  The broker
(:class:`rweb.broker_redis.RedisPubSub`) makes one on its link, under its
``channel_prefix``, so ``App(broker="redis://...")`` keeps its sessions'
snapshots in Redis with no further set-up.

Writes (``store``, ``forget``) are queued like publishes: they never block and
are held while Redis is down.  Reads (``take``, ``claim``) wait (bounded) for a
connection and then for Redis's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..wire.redis_link import RedisLink

__all__ = ["RedisStore"]

# A snapshot's claim (RedisStore.take): its length first; one over the limit is deleted unread
# (its length is the answer), the others are got and deleted in one step (GETDEL).
_TAKE = """
local n = redis.call('STRLEN', KEYS[1])
if n > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return n
end
return redis.call('GETDEL', KEYS[1])
"""

# Several snapshots in one command (RedisStore.store_many): one reply to read for the batch, not
# one per key.  KEYS: the keys; ARGV[1]: their ttl in ms; ARGV[i + 1]: the value of KEYS[i].
_SET_MANY = """
local ms = ARGV[1]
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ms)
end
return #KEYS
"""
BATCH_KEYS = 500  # keys per command of store_many (a batch's bytes are bounded too: BATCH_BYTES)
BATCH_BYTES = 1 << 20


class RedisStore:
    """Keys ``<key_prefix><key>`` in the Redis of ``link``; see the module's docstring."""

    def __init__(self, link: RedisLink, *, key_prefix: str = "rweb:") -> None:
        self.link = link
        self.key_prefix = key_prefix

    def store(self, key: str, data: bytes, ttl: float) -> None:
        """``SET key data PX ttl``, queued like a publish (never blocks; held while Redis is down)."""
        name = self.key_prefix + key
        ms = max(int(ttl * 1000), 1)
        self.link.send(lambda: ("SET", name, data, "PX", ms))

    def store_many(self, items: list[tuple[str, bytes]], ttl: float) -> None:
        """:meth:`store` each ``(key, data)`` of ``items``, in one command per :data:`BATCH_KEYS`
        keys or :data:`BATCH_BYTES` bytes (a script: Redis answers once per command)."""
        ms = max(int(ttl * 1000), 1)
        prefix = self.key_prefix
        n = len(items)
        start = 0
        while start < n:
            stop = start
            size = 0
            while stop < n and stop - start < BATCH_KEYS and size < BATCH_BYTES:
                size += len(items[stop][1])
                stop += 1
            if stop - start == 1:
                key, data = items[start]
                self.store(key, data, ttl)
            else:
                chunk = items[start:stop]
                self.link.send(_made(("EVAL", _SET_MANY, len(chunk), *[prefix + k for k, _ in chunk], ms,
                                      *[d for _, d in chunk])))
            start = stop

    def forget(self, key: str) -> None:
        """``DEL key``, queued like :meth:`store`."""
        name = self.key_prefix + key
        self.link.send(lambda: ("DEL", name))

    async def take(self, key: str, limit: int) -> bytes | None:
        """The value of ``key``, deleted: nobody else gets it (one script: ``STRLEN``, then ``GETDEL``).

        A value longer than ``limit`` bytes is deleted without being read:
        raises :class:`rweb.snapshot.TooLarge`.  Waits (bounded) for a first connection.
        """
        from .snapshot import TooLarge

        await self.link.wait_connected()
        result = await self.link.request(
            "EVAL",  # pragma: no mutate (Redis reads command names in any case: "eval" is the same)
            _TAKE, 1, self.key_prefix + key, limit,
        )
        if type(result) is int:
            raise TooLarge(result)
        return bytes(result) if result is not None else None

    async def claim(self, key: str, ttl: float) -> bool:
        """``SET key 1 NX PX ttl``: True for the first claim of ``key`` within ``ttl`` seconds,
        across every process that uses this Redis (single-use tokens).  Raises when Redis
        cannot answer (the caller refuses then: a replay is never accepted by default)."""
        ms = max(int(ttl * 1000), 1)
        await self.link.wait_connected()
        return await self.link.request("SET", self.key_prefix + key, b"1", "NX", "PX", ms) is not None

    async def sync(self, timeout: float) -> bool:
        """Wait until every queued command and publish is written (False: not within ``timeout``)."""
        return await self.link.flush(timeout, subscriptions=False)


def _made(args: tuple[Any, ...]) -> Callable[[], tuple[Any, ...]]:
    """A command's arguments, made already, as RedisLink.send takes them (a function)."""
    return lambda: args
