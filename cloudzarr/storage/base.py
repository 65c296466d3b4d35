"""The abstract async :class:`Store` every backend implements.

The public methods (``get``, ``set``, ``list_dir``...) are defined once here and are not
overridden: they validate keys, refuse writes on a read-only store, take a slot of the store's one
:class:`~cloudzarr.storage.limiter.Limiter`, and call the backend's underscore hook (``_get``,
``_set``...). A backend therefore only speaks to its storage; the rules that must hold on every
backend live in one place.

Compare-and-swap: ``get_with_version`` returns a value with an opaque version token and
``set_if_version`` replaces the value only if the key still holds that version, so a
read-modify-write from several processes never loses an update. Backends that can do this
atomically set ``supports_compare_and_swap``; the others raise
:class:`~cloudzarr.errors.UnsupportedError` rather than pretend.

Listings are paged: a backend's ``_list_*_pages`` hook yields one list of names per request, and
the limiter is held only while a page is fetched, never while the caller consumes it (a caller
that issues more requests while iterating would otherwise deadlock a small limiter).
"""

from __future__ import annotations

import asyncio
import builtins
import copy
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, ClassVar, Self

from cloudzarr.concurrency import gather
from cloudzarr.errors import ReadOnlyError, UnsupportedError
from cloudzarr.storage.byte_range import ByteRequest
from cloudzarr.storage.keys import normalize_prefix, validate_key
from cloudzarr.storage.limiter import Limiter, configured_concurrency

BytesLike = bytes | bytearray | memoryview
#: What :meth:`Store.get_buffer` returns: ``bytes``, or a read-only view of a backend's buffer.
ReadBuffer = bytes | memoryview

#: An opaque token naming one stored state of a key (an ETag, a GCS generation, a digest...).
#: Compare tokens only for equality, and only tokens of one store.
Version = str


class RequestCounter:
    """Counts the requests a store sends to its backend, by kind.

    Memory and local stores count one request per operation, under the operation's name
    (``"get"``, ``"set"``...). Cloud stores count real HTTP requests under the cloud's own
    operation names (``"GetObject"``, ``"HeadObject"``, ``"ListObjectsV2"``...), so tests can
    assert exactly what went over the wire.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def record(self, kind: str, n: int = 1) -> None:
        """Count ``n`` requests of ``kind``."""
        self.counts[kind] += n

    @property
    def total(self) -> int:
        """All requests counted since the last reset."""
        return sum(self.counts.values())

    def snapshot(self) -> dict[str, int]:
        """A copy of the counts by kind."""
        return dict(self.counts)

    def reset(self) -> None:
        """Forget every count."""
        self.counts.clear()

    def __repr__(self) -> str:
        return f"RequestCounter(total={self.total}, {dict(self.counts)})"


class Store(ABC):
    """An async key-value store holding Zarr keys.

    Parameters
    ----------
    read_only
        Refuse every write with :class:`~cloudzarr.errors.ReadOnlyError`.
    concurrency
        The most requests this store sends at once, shared by every caller. Defaults to the
        backend's environment variable (``concurrency_env``), then ``CLOUDZARR_CONCURRENCY``,
        then ``default_concurrency``.

    Notes
    -----
    Subclasses implement the underscore hooks and :meth:`_config`. Two stores are equal when
    they are of one type with one configuration, and a store pickles as its configuration, so a
    dask worker rebuilds it with fresh connections.
    """

    #: Requests in flight when nothing else is configured.
    default_concurrency: ClassVar[int] = 64
    #: The backend's own environment variable for the concurrency (checked before the generic one).
    concurrency_env: ClassVar[str | None] = None
    #: ``set_if_not_exists`` is one atomic backend operation.
    supports_atomic_create: ClassVar[bool] = True
    #: ``SuffixByteRequest`` is one request (False: it first asks for the size).
    supports_suffix_ranges: ClassVar[bool] = True
    #: ``delete_dir`` removes many keys per request.
    supports_bulk_delete: ClassVar[bool] = False
    #: ``get_with_version`` / ``set_if_version`` are implemented and atomic (see each backend).
    supports_compare_and_swap: ClassVar[bool] = False
    #: The base class counts one request per operation; cloud stores count HTTP requests instead.
    counts_requests_per_operation: ClassVar[bool] = True

    def __init__(self, *, read_only: bool = False, concurrency: int | None = None) -> None:
        self._read_only = bool(read_only)
        self._concurrency_arg = concurrency
        self._limiter = Limiter(self._resolve_concurrency(concurrency))
        self.requests = RequestCounter()

    # --- configuration ---------------------------------------------------------------------

    @classmethod
    def _resolve_concurrency(cls, concurrency: int | None) -> int:
        if concurrency is not None:
            if concurrency < 1:
                raise ValueError(f"concurrency must be at least 1, got {concurrency}")
            return concurrency
        default = configured_concurrency(cls.default_concurrency)
        if cls.concurrency_env is not None:
            return configured_concurrency(default, env=cls.concurrency_env)
        return default

    @abstractmethod
    def _config(self) -> dict[str, Any]:
        """The constructor keyword arguments that rebuild this store (``read_only`` excluded)."""

    def _full_config(self) -> dict[str, Any]:
        return {
            **self._config(),
            "read_only": self._read_only,
            "concurrency": self._concurrency_arg,
        }

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, Store)
        return self._full_config() == other._full_config()

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, repr(sorted(self._full_config().items()))))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_store, (type(self), self._full_config()))

    @property
    def read_only(self) -> bool:
        """Whether this store refuses writes."""
        return self._read_only

    @property
    def limiter(self) -> Limiter:
        """The one limiter every request of this store passes through."""
        return self._limiter

    def with_read_only(self, read_only: bool = True) -> Self:
        """Return a view of the same storage with ``read_only`` set.

        The view shares this store's connections and limiter.
        """
        view = copy.copy(self)
        view._read_only = bool(read_only)
        return view

    def __copy__(self) -> Self:
        # Without this, copy.copy would go through __reduce__ and rebuild the store from its
        # configuration: a new limiter, new connections. A copy shares them.
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def _check_writable(self, key: str) -> None:
        if self._read_only:
            raise ReadOnlyError(f"cannot write {key!r}: {self!r} is read-only")

    def _count(self, operation: str) -> None:
        if self.counts_requests_per_operation:
            self.requests.record(operation)

    # --- reads -----------------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> bytes | None:
        """Return the value of ``key`` (or the requested bytes of it), or None if missing.

        Parameters
        ----------
        key
            The key to read.
        byte_range
            ``RangeByteRequest(start, end)``, ``OffsetByteRequest(offset)`` or
            ``SuffixByteRequest(n)``; None reads the whole value.
        """
        validate_key(key)
        async with self._limiter:
            self._count("get")
            return await self._get(key, byte_range)

    async def get_buffer(
        self, key: str, byte_range: ByteRequest | None = None
    ) -> ReadBuffer | None:
        """As :meth:`get`, but the value may come as a read-only ``memoryview`` of the
        backend's own buffer instead of a ``bytes`` copy.

        The data path (chunk and shard reads) uses this: on the obstore backends (S3, Azure) it
        saves copying every chunk once on the event loop, and holding it twice while it waits
        for the decoder. Use :meth:`get` for anything kept or compared as ``bytes``.
        """
        validate_key(key)
        async with self._limiter:
            self._count("get")
            return await self._get_buffer(key, byte_range)

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[bytes | None]:
        """Read many keys or byte ranges concurrently, in order; None for a missing key."""
        pairs = builtins.list(key_ranges)
        for key, _ in pairs:
            validate_key(key)  # all of them before any request
        return await gather(*(self.get(k, r) for k, r in pairs))

    async def get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        """Return the whole value of ``key`` and its version token, or None if missing.

        Pass the token to :meth:`set_if_version` to replace this value only if nobody else has
        replaced it since. Costs one read on every backend that supports it.

        Raises
        ------
        UnsupportedError
            The backend cannot compare-and-swap (``supports_compare_and_swap`` is False).
        """
        validate_key(key)
        async with self._limiter:
            self._count("get_with_version")
            return await self._get_with_version(key)

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds a value."""
        validate_key(key)
        async with self._limiter:
            self._count("exists")
            return await self._exists(key)

    async def getsize(self, key: str) -> int:
        """The size of the value of ``key`` in bytes.

        Raises
        ------
        KeyNotFoundError
            If the key does not exist.
        """
        validate_key(key)
        async with self._limiter:
            self._count("getsize")
            return await self._getsize(key)

    # --- writes ----------------------------------------------------------------------------

    async def set(self, key: str, value: BytesLike) -> None:
        """Store ``value`` at ``key``, replacing what was there."""
        validate_key(key)
        self._check_writable(key)
        async with self._limiter:
            self._count("set")
            await self._set(key, bytes(value))

    async def set_if_not_exists(self, key: str, value: BytesLike) -> bool:
        """Store ``value`` at ``key`` only if the key does not exist yet.

        Atomic on every store: of any number of concurrent callers for one key, exactly one is
        told True.

        Returns
        -------
        bool
            True if this call created the key, False if it existed already.
        """
        validate_key(key)
        self._check_writable(key)
        async with self._limiter:
            self._count("set_if_not_exists")
            return await self._set_if_not_exists(key, bytes(value))

    async def set_if_version(self, key: str, value: BytesLike, version: Version | None) -> bool:
        """Store ``value`` at ``key`` only if the key still holds ``version``.

        Parameters
        ----------
        key
            The key to replace.
        value
            The new value.
        version
            A token from :meth:`get_with_version` of this store; None means "only if the key
            does not exist" (exactly :meth:`set_if_not_exists`).

        Returns
        -------
        bool
            True if the value was written; False if the key changed (or was deleted, or, for
            ``version=None``, exists) since, in which case nothing was written.

        Raises
        ------
        UnsupportedError
            The backend cannot compare-and-swap (``supports_compare_and_swap`` is False).
        AmbiguousWriteError
            The request was sent again after a lost response and the key now holds another
            value, so whether this write was applied is unknown (see the backends' notes).
        """
        validate_key(key)
        self._check_writable(key)
        async with self._limiter:
            self._count("set_if_version")
            if version is None:
                return await self._set_if_not_exists(key, bytes(value))
            return await self._set_if_version(key, bytes(value), version)

    async def set_many(self, items: Mapping[str, BytesLike]) -> None:
        """Store many values concurrently under the limiter.

        Every key is checked before the first write, so a bad key writes nothing.
        """
        for key in items:
            validate_key(key)
            self._check_writable(key)
        await asyncio.gather(*(self.set(k, v) for k, v in items.items()))

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        validate_key(key)
        self._check_writable(key)
        async with self._limiter:
            self._count("delete")
            await self._delete(key)

    async def delete_dir(self, prefix: str) -> None:
        """Remove every key under ``prefix/`` (never a sibling such as ``prefix-x/``).

        ``""`` removes everything in the store.
        """
        norm = normalize_prefix(prefix)
        self._check_writable(prefix or "<root>")
        async with self._limiter:
            self._count("delete_dir")
            await self._delete_dir(norm)

    # --- listings --------------------------------------------------------------------------

    async def list(self) -> AsyncIterator[str]:
        """Every key in the store."""
        async for key in self._paged("list", self._list_prefix_pages("")):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key under ``prefix/`` (``"a"`` and ``"a/"`` alike), as full keys."""
        norm = normalize_prefix(prefix)
        async for key in self._paged("list_prefix", self._list_prefix_pages(norm)):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The names one level below ``prefix/``, relative to it, without trailing slashes."""
        norm = normalize_prefix(prefix)
        async for name in self._paged("list_dir", self._list_dir_pages(norm)):
            yield name

    async def _paged(
        self, operation: str, pages: AsyncIterator[builtins.list[str]]
    ) -> AsyncIterator[str]:
        try:
            while True:
                async with self._limiter:
                    try:
                        page = await anext(pages)
                    except StopAsyncIteration:
                        return
                    self._count(operation)
                for name in page:
                    yield name
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()

    async def is_empty(self, prefix: str = "") -> bool:
        """Whether no key lies under ``prefix/``."""
        async for _ in self.list_prefix(prefix):
            return False
        return True

    async def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release connections; the store can still be used afterwards (it reconnects)."""

    # --- backend hooks ---------------------------------------------------------------------

    @abstractmethod
    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None: ...

    async def _get_buffer(self, key: str, byte_range: ByteRequest | None) -> ReadBuffer | None:
        # Backends whose client hands out its own buffers override this to skip a copy.
        return await self._get(key, byte_range)

    @abstractmethod
    async def _exists(self, key: str) -> bool: ...

    @abstractmethod
    async def _getsize(self, key: str) -> int: ...

    @abstractmethod
    async def _set(self, key: str, value: bytes) -> None: ...

    @abstractmethod
    async def _set_if_not_exists(self, key: str, value: bytes) -> bool: ...

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        """The whole value of ``key`` and its version, or None; atomic with respect to writes."""
        raise self._no_compare_and_swap(key)

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        """Replace ``key`` with ``value`` if it holds ``version``; else write nothing, False."""
        raise self._no_compare_and_swap(key)

    def _no_compare_and_swap(self, key: str) -> UnsupportedError:
        return UnsupportedError(
            f"{self!r} cannot compare-and-swap (needed for {key!r}): the backend has no atomic "
            "conditional replace"
        )

    @abstractmethod
    async def _delete(self, key: str) -> None: ...

    @abstractmethod
    async def _delete_dir(self, prefix: str) -> None:
        """Delete every key under ``prefix/``; ``prefix`` is normalized, ``""`` is the root."""

    @abstractmethod
    def _list_prefix_pages(self, prefix: str) -> AsyncIterator[builtins.list[str]]:
        """Yield pages of full keys under ``prefix/`` (``""``: all keys), one page a request."""

    @abstractmethod
    def _list_dir_pages(self, prefix: str) -> AsyncIterator[builtins.list[str]]:
        """Yield pages of names one level under ``prefix/``, relative, without slashes."""


def _rebuild_store(cls: type[Store], config: dict[str, Any]) -> Store:
    return cls(**config)
