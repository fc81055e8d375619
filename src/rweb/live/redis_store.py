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
