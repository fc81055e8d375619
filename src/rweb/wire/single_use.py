"""Tokens that are good once: a table of the ones redeemed, shared by a server's worker processes.

:class:`UsedTokens` is a fixed-size table in shared memory (a memory-mapped
anonymous file), made when the :class:`~rweb.App` is made, so before the
server forks its workers: every worker sees the same table, and a token
redeemed by one is refused by the others.  Each entry is a 16-byte key (a
hash of the token) and the time (Unix, seconds) until which it is kept.

Entries are written in a ring, oldest first.  Since every entry lives for the
same time, the slot the next one takes holds the oldest: when it has expired
it is reused; when it has not, every entry is still live and the table
refuses (:meth:`UsedTokens.claim` returns False) rather than forget a token
that could then be replayed.  The bound is the table's ``capacity`` tokens
per lifetime (``App(max_cookie_tokens=...)``).

The lock is a POSIX record lock (``fcntl.lockf``) on the table's file, which
the kernel releases when its holder dies (a worker killed mid-claim leaves
no stale lock), and a thread lock within the process.

Processes that do not share a fork (another instance, ``uvicorn --workers``,
which starts its workers anew) do not share this table: there, single use
needs the Redis broker (``SET key 1 NX PX ttl``, see
:meth:`rweb.broker_redis.RedisPubSub.claim`).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import tempfile
import threading
import time
from typing import BinaryIO

__all__ = ["KEY_SIZE", "UsedTokens"]

KEY_SIZE = 16
_SLOT = KEY_SIZE + 8  # key, then the expiry (a double)
_HEAD = 8  # the ring's cursor: how many entries were ever written
_CURSOR = struct.Struct("<Q")
_EXPIRY = struct.Struct("<d")


def _shared_file(size: int) -> BinaryIO:
    create = getattr(os, "memfd_create", None)
    if create is not None:  # Linux: memory with no name in any file system
        f: BinaryIO = open(create("rweb-used-tokens"), "r+b", buffering=0)
    else:  # pragma: no cover - other systems: an unlinked temporary file
        f = tempfile.TemporaryFile(buffering=0)
    os.ftruncate(f.fileno(), size)
    return f


class UsedTokens:
    """Keys of the tokens redeemed in the last ``ttl`` seconds, shared with forked processes."""

    __slots__ = ("_file", "_lock", "_map", "capacity")

    def __init__(self, capacity: int) -> None:
        if type(capacity) is not int or capacity < 1:
            raise ValueError("the capacity of a used-token table is a positive integer")
        self.capacity = capacity
        size = _HEAD + capacity * _SLOT
        self._file = _shared_file(size)
        self._map = mmap.mmap(self._file.fileno(), size)  # MAP_SHARED: forked workers write the same pages
        self._lock = threading.Lock()

    def claim(self, key: bytes, ttl: float) -> bool:
        """True the first time ``key`` is claimed within ``ttl`` seconds; False when it was
        claimed already, or when the table is full of entries that have not expired."""
        if len(key) != KEY_SIZE:
            raise ValueError(f"a used-token key has {KEY_SIZE} bytes")
        m = self._map
        fd = self._file.fileno()
        now = time.time()
        with self._lock:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            try:
                pos = m.find(key)  # a match in the cursor or across two entries is off the slots: skipped
                while pos != -1:
                    if (pos - _HEAD) % _SLOT == 0:  # on a slot: an entry of this key
                        expiry = _EXPIRY.unpack_from(m, pos + KEY_SIZE)[0]
                        if expiry > now:  # pragma: no mutate (>=: an entry expiring at this very instant, either answer is right)
                            return False
                    pos = m.find(key, pos + 1)
                (cursor,) = _CURSOR.unpack_from(m)
                slot = _HEAD + (cursor % self.capacity) * _SLOT
                oldest = _EXPIRY.unpack_from(m, slot + KEY_SIZE)[0]
                if oldest > now:  # pragma: no mutate (>=: an entry expiring at this very instant, either answer is right)
                    return False  # the oldest entry is live: so is every other one
                m[slot : slot + KEY_SIZE] = key
                _EXPIRY.pack_into(m, slot + KEY_SIZE, now + ttl)
                _CURSOR.pack_into(m, 0, cursor + 1)
                return True
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        self._file.close()
