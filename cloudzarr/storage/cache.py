"""An opt-in, bounded cache of objects in front of any store: :class:`CacheStore`.

Reading the same remote dataset again (a notebook re-run, a dashboard, metadata documents read
by every open) costs the same requests again. :class:`CacheStore` wraps a store and answers
repeated whole-object reads from

- a :class:`MemoryCache`: an LRU of object bytes bounded by their total size, plus a bounded
  negative cache of keys known to be missing (a sparse array's absent chunks, ``.zarray`` probes
  of a v3 hierarchy), shareable between several stores and handles of one process; and/or
- a :class:`~cloudzarr.storage.disk_cache.DiskCache`: files in a local directory that survive
  the process.

Never stale after a write through cloudzarr: every write, delete or conditional write through a
``CacheStore`` drops the key from both caches before and after it is sent, and each entry is
tagged with the key's *generation* read before the fetch that filled it: a fetch that raced a
write is not cached (the write changed the generation). Writes by other programs are not seen:
the cache is for data that others do not change while it is read, which is why it is opt-in.

Byte-range reads are answered from a cached whole object when there is one, else passed through
uncached. Hits and misses are counted in :attr:`CacheStore.cache_stats` (and in
``store.requests`` under ``cache_hit`` / ``cache_miss``, which are not requests sent).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

from cloudzarr.errors import InvalidArgumentError
from cloudzarr.storage.base import Store, Version
from cloudzarr.storage.byte_range import ByteRequest, slice_bytes
from cloudzarr.storage.disk_cache import MISSING, DiskCache
from cloudzarr.storage.wrapper import StoreWrapper

__all__ = ["CacheLike", "CacheStats", "CacheStore", "MemoryCache", "with_cache"]

_MISSING = MISSING  # the marker both caches answer with


@dataclass
class CacheStats:
    """Counters of a cache: hits (``missing_hits`` of them for keys known absent), misses,
    evictions, and what it holds now."""

    hits: int = 0
    missing_hits: int = 0
    misses: int = 0
    evictions: int = 0
    entries: int = 0
    nbytes: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counters as a dict."""
        return asdict(self)


class MemoryCache:
    """A process-local LRU of object bytes by total size, with a negative cache.

    Parameters
    ----------
    max_bytes
        The most bytes of object data held; the least recently used objects go first. An
        object larger than a quarter of this is not cached (it would evict everything else).
    max_missing
        The most keys remembered as missing.

    Notes
    -----
    Thread-safe: one cache may serve stores on several event loops (the sync API's loop and
    the caller's). Entries are keyed by the wrapped store's identity and the key.
    """

    def __init__(self, max_bytes: int = 256 * 2**20, max_missing: int = 100_000) -> None:
        if max_bytes < 0 or max_missing < 0:
            raise InvalidArgumentError("MemoryCache: max_bytes and max_missing must be >= 0")
        self.max_bytes = int(max_bytes)
        self.max_missing = int(max_missing)
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, str], bytes] = OrderedDict()
        self._missing: OrderedDict[tuple[Any, str], None] = OrderedDict()
        self._nbytes = 0

    def __repr__(self) -> str:
        return (
            f"MemoryCache(max_bytes={self.max_bytes}, entries={self.stats.entries}, "
            f"nbytes={self.stats.nbytes})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # A copy in another process (dask workers) starts empty: entries are keyed by the
        # identity of store objects of this process.
        return {"max_bytes": self.max_bytes, "max_missing": self.max_missing}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max_bytes"], state["max_missing"])  # type: ignore[misc]

    def lookup(self, space: Any, key: str) -> Any:
        """The cached bytes, ``None`` if known missing, or a private marker if not cached."""
        with self._lock:
            item = (space, key)
            value = self._entries.get(item)
            if value is not None:
                self._entries.move_to_end(item)
                return value
            if item in self._missing:
                self._missing.move_to_end(item)
                return None
            return _MISSING

    def put(self, space: Any, key: str, value: bytes | None) -> None:
        """Remember ``value`` (None: the key is missing) for ``key``."""
        item = (space, key)
        with self._lock:
            self._drop(item)
            if value is None:
                if self.max_missing:
                    self._missing[item] = None
                    while len(self._missing) > self.max_missing:
                        self._missing.popitem(last=False)
                return
            if len(value) > self.max_bytes // 4:
                return
            self._entries[item] = value
            self._nbytes += len(value)
            while self._nbytes > self.max_bytes:
                _, old = self._entries.popitem(last=False)
                self._nbytes -= len(old)
                self.stats.evictions += 1
            self._sync_stats()

    def drop(self, space: Any, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._drop((space, key))
            self._sync_stats()

    def drop_prefix(self, space: Any, prefix: str) -> None:
        """Forget every key under ``prefix`` (after a ``delete_dir``)."""
        with self._lock:
            for table in (self._entries, self._missing):
                for item in [i for i in table if i[0] == space and i[1].startswith(prefix)]:
                    self._drop(item)
            self._sync_stats()

    def clear(self) -> None:
        """Forget everything (the counters stay)."""
        with self._lock:
            self._entries.clear()
            self._missing.clear()
            self._nbytes = 0
            self._sync_stats()

    def _drop(self, item: tuple[Any, str]) -> None:
        old = self._entries.pop(item, None)
        if old is not None:
            self._nbytes -= len(old)
        self._missing.pop(item, None)

    def _sync_stats(self) -> None:
        self.stats.entries = len(self._entries)
        self.stats.nbytes = self._nbytes


class _Generations:
    """Per-key write generations, so a fetch that raced a write is not cached.

    Bounded: keys written long ago are forgotten, and a fetch that began before the oldest
    forgotten write is treated as raced (not cached), never as clean.
    """

    def __init__(self, limit: int = 65536) -> None:
        self._lock = threading.Lock()
        self._clock = 0
        self._last: OrderedDict[str, int] = OrderedDict()
        self._forgotten = 0
        self._limit = limit

    def now(self) -> int:
        with self._lock:
            return self._clock

    def bump(self, key: str) -> None:
        with self._lock:
            self._clock += 1
            self._last[key] = self._clock
            self._last.move_to_end(key)
            while len(self._last) > self._limit:
                _, when = self._last.popitem(last=False)
                self._forgotten = max(self._forgotten, when)

    def clean_since(self, key: str, start: int) -> bool:
        with self._lock:
            return self._last.get(key, 0) <= start and self._forgotten <= start


class CacheStore(StoreWrapper):
    """A store answering repeated reads from a memory and/or disk cache (see module docstring).

    Parameters
    ----------
    store
        The store to cache.
    cache
        A :class:`MemoryCache` (share one between stores to bound them together), or None to
        make one of ``max_bytes``.
    max_bytes
        The size of the memory cache made when ``cache`` is None; 0 for no memory cache.
    disk
        A :class:`~cloudzarr.storage.disk_cache.DiskCache` behind the memory cache, or None.
    read_only
        As for :class:`~cloudzarr.storage.wrapper.StoreWrapper`.

    Examples
    --------
    >>> from cloudzarr.storage import MemoryStore
    >>> store = CacheStore(MemoryStore(), max_bytes=64 * 2**20)
    """

    def __init__(
        self,
        store: Store,
        cache: MemoryCache | None = None,
        *,
        max_bytes: int = 256 * 2**20,
        disk: DiskCache | None = None,
        read_only: bool = False,
    ) -> None:
        super().__init__(store, read_only=read_only)
        self.memory: MemoryCache | None = cache
        if cache is None and max_bytes > 0:
            self.memory = MemoryCache(max_bytes)
        self.disk = disk
        self.cache_stats = CacheStats()
        # The wrapped store object identifies entries in a shared memory cache; the disk
        # cache needs an identity that survives processes: the store's configuration.
        self._space: Any = id(store)
        self._disk_space = _disk_space(store) if disk is not None else ""
        self._generations = _Generations()

    def _config(self) -> dict[str, Any]:
        return {"store": self._inner, "cache": self.memory, "disk": self.disk}

    def _settings_repr(self) -> str:
        return f"cache={self.memory!r}, disk={self.disk!r}"

    # --- reads -----------------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> bytes | None:
        """As :meth:`Store.get`; a hit is answered without a request or a limiter slot."""
        cached = self._lookup(key)
        if cached is not _MISSING:
            self._tally(hit=True, missing=cached is None)
            return None if cached is None else slice_bytes(cached, byte_range)
        self._tally(hit=False)
        return await super().get(key, byte_range)

    async def get_buffer(self, key: str, byte_range: ByteRequest | None = None) -> bytes | None:
        """As :meth:`get`: the caches keep ``bytes``."""
        return await self.get(key, byte_range)

    async def _get_buffer(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        return await self._get(key, byte_range)

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        if byte_range is not None:
            return await self._inner._get(key, byte_range)
        start = self._generations.now()
        token = self.disk.token(self._disk_space, key) if self.disk is not None else None
        value = await self._inner._get(key, None)
        if self._generations.clean_since(key, start):
            if self.memory is not None:
                self.memory.put(self._space, key, value)
            if self.disk is not None and token is not None:
                self.disk.put(self._disk_space, key, token, value)
        return value

    def _lookup(self, key: str) -> Any:
        if self.memory is not None:
            found = self.memory.lookup(self._space, key)
            if found is not _MISSING:
                return found
        if self.disk is not None:
            found = self.disk.lookup(self._disk_space, key)
            if found is not _MISSING and self.memory is not None:
                self.memory.put(self._space, key, found)
            return found
        return _MISSING

    def _tally(self, *, hit: bool, missing: bool = False) -> None:
        stats = self.cache_stats
        if hit:
            stats.hits += 1
            stats.missing_hits += missing
        else:
            stats.misses += 1
        self.requests.record("cache_hit" if hit else "cache_miss")

    async def exists(self, key: str) -> bool:
        """As :meth:`Store.exists`, answered from the caches when they know the key."""
        cached = self._lookup(key)
        if cached is not _MISSING:
            self._tally(hit=True, missing=cached is None)
            return cached is not None
        return await super().exists(key)

    # --- writes: dropped from the caches before and after ----------------------------------

    def _invalidate(self, key: str) -> None:
        self._generations.bump(key)
        if self.memory is not None:
            self.memory.drop(self._space, key)
        if self.disk is not None:
            self.disk.invalidate(self._disk_space, key)

    async def _around_write[T](self, key: str, call: Any) -> T:
        self._invalidate(key)
        try:
            result: T = await call()
            return result
        finally:
            self._invalidate(key)

    async def _set(self, key: str, value: bytes) -> None:
        await self._around_write(key, lambda: self._inner._set(key, value))

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        return await self._around_write(key, lambda: self._inner._set_if_not_exists(key, value))

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        return await self._around_write(
            key, lambda: self._inner._set_if_version(key, value, version)
        )

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        # Compare-and-swap reads must see the backend's current bytes and version.
        return await self._inner._get_with_version(key)

    async def _delete(self, key: str) -> None:
        await self._around_write(key, lambda: self._inner._delete(key))

    async def _delete_dir(self, prefix: str) -> None:
        try:
            await self._inner._delete_dir(prefix)
        finally:
            if self.memory is not None:
                self.memory.drop_prefix(self._space, prefix)
            if self.disk is not None:
                self.disk.invalidate_prefix(self._disk_space, prefix)


def _disk_space(store: Store) -> str:
    """A stable identity of the data a store reads (its class and configuration).

    Hashed before use, so credentials in the configuration never reach a file name.
    """
    inner = store
    while isinstance(inner, StoreWrapper):
        inner = inner.inner
    # A memory store's mapping is its identity (only useful within one process).
    config = sorted(
        (k, f"id:{id(v)}" if k == "store_dict" else repr(v)) for k, v in inner._config().items()
    )
    return f"{type(inner).__qualname__}:{config}"


#: What ``open_group(..., cache=...)`` and ``open_array(..., cache=...)`` take.
CacheLike = "MemoryCache | DiskCache | int | bool | None"


def with_cache(store: Store, cache: Any) -> Store:
    """``store`` behind a :class:`CacheStore` as ``cache`` asks.

    ``cache``: None or False (no cache: ``store`` itself), True (a memory cache of the default
    size), an int (a memory cache of that many bytes), a :class:`MemoryCache` (shared), a
    :class:`~cloudzarr.storage.disk_cache.DiskCache` (with a default memory cache in front),
    or a :class:`CacheStore` configuration to copy.

    Raises
    ------
    InvalidArgumentError
        ``cache`` is none of these.
    """
    if cache is None or cache is False:
        return store
    if cache is True:
        return CacheStore(store)
    if isinstance(cache, int):
        return CacheStore(store, max_bytes=cache)
    if isinstance(cache, MemoryCache):
        return CacheStore(store, cache)
    if isinstance(cache, DiskCache):
        return CacheStore(store, disk=cache)
    if isinstance(cache, CacheStore):
        return CacheStore(store, cache.memory, max_bytes=0, disk=cache.disk)
    raise InvalidArgumentError(
        f"cache: expected True, a size in bytes, a MemoryCache or a DiskCache, got "
        f"{type(cache).__name__}"
    )
