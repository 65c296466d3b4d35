"""A zarr-python ``Store`` over any cloudzarr store.

zarr-python (and xarray through it) talks to storage through ``zarr.abc.store.Store``.
:class:`ZarrStoreAdapter` implements that interface by calling the public async operations of a
cloudzarr :class:`~cloudzarr.storage.base.Store`, so whatever zarr-python does goes through the
cloudzarr store's rules:

- ``set_if_not_exists`` is the backend's atomic create (S3 ``If-None-Match: *``, GCS
  ``ifGenerationMatch=0``...), where zarr-python's own fsspec store checks and then writes;
- every request takes a slot of the store's one limiter, whichever zarr call issued it (the
  limiter bounds each event loop; all of zarr-python's synchronous API runs on its one loop);
- wrappers (``RetryStore``, ``InstrumentedStore``...) and ``store.requests`` see every request;
- ``delete_dir`` is the store's bulk delete, ``getsize`` one metadata request.

This module imports zarr-python; import it through :mod:`cloudzarr.interop`, which loads it only
when asked, so zarr-python stays an optional dependency.

The adapter is async only: it does not offer zarr-python's synchronous ``get_sync``/``set_sync``
surface, which zarr-python calls from its worker threads and which, over a network store, would
block them on I/O. zarr-python then takes its async path, as it does for its own fsspec store.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from zarr.abc.store import OffsetByteRequest as ZarrOffsetByteRequest
from zarr.abc.store import RangeByteRequest as ZarrRangeByteRequest
from zarr.abc.store import Store as ZarrStore
from zarr.abc.store import SuffixByteRequest as ZarrSuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

from cloudzarr.errors import InvalidStoreURLError
from cloudzarr.interop.errors import UnsupportedByteRequestError, ZarrReadOnlyError
from cloudzarr.storage.base import Store
from cloudzarr.storage.byte_range import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from cloudzarr.storage.url import open_store

#: zarr-python's sentence for a write to a read-only store; its callers and tests match on it.
_ZARR_READ_ONLY_TEXT = "store was opened in read-only mode and does not support writing"


def to_cloudzarr_byte_request(byte_range: object) -> ByteRequest | None:
    """Turn a zarr-python byte request into cloudzarr's (cloudzarr's own pass through).

    Parameters
    ----------
    byte_range
        None, or a ``RangeByteRequest``, ``OffsetByteRequest`` or ``SuffixByteRequest`` of
        zarr-python (``zarr.abc.store``) or of cloudzarr (``cloudzarr.storage``).

    Raises
    ------
    UnsupportedByteRequestError
        For anything else (a tuple, say); a ``TypeError``.
    StoreError
        For a negative offset or suffix, or a range whose end precedes its start.
    """
    match byte_range:
        case None:
            return None
        case ZarrRangeByteRequest(start, end):
            return RangeByteRequest(start, end)
        case ZarrOffsetByteRequest(offset):
            return OffsetByteRequest(offset)
        case ZarrSuffixByteRequest(suffix):
            return SuffixByteRequest(suffix)
        case RangeByteRequest() | OffsetByteRequest() | SuffixByteRequest():
            return byte_range
    raise UnsupportedByteRequestError(
        f"Unexpected byte_range, got {byte_range!r}: expected None or a RangeByteRequest, "
        "OffsetByteRequest or SuffixByteRequest"
    )


class ZarrStoreAdapter(ZarrStore):
    """zarr-python's ``Store`` interface over a cloudzarr store.

    Parameters
    ----------
    store
        The cloudzarr store to read and write through. The adapter does not own it: closing
        the adapter (zarr-python does so when a ``with`` block ends) leaves the store and its
        connections open for further use.
    read_only
        None (the default) keeps the store's own setting. True or False uses a view of the
        store with that setting (``store.with_read_only``), which shares its connections,
        limiter and request counter.

    Notes
    -----
    Two adapters are equal when their cloudzarr stores are equal. An adapter pickles with its
    store, which pickles as its configuration (a dask worker reconnects).
    """

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True

    def __init__(self, store: Store, *, read_only: bool | None = None) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"ZarrStoreAdapter wraps a cloudzarr store, got {type(store).__name__}")
        if read_only is not None and bool(read_only) != store.read_only:
            store = store.with_read_only(bool(read_only))
        super().__init__(read_only=store.read_only)
        self._store = store

    @property
    def store(self) -> Store:
        """The cloudzarr store every request goes to."""
        return self._store

    @property
    def read_only(self) -> bool:
        """Whether the cloudzarr store refuses writes."""
        return self._store.read_only

    def with_read_only(self, read_only: bool = False) -> ZarrStoreAdapter:
        """A new, unopened adapter over a view of the same store with ``read_only`` set.

        The view shares the store's connections, limiter and request counter. A wrapper over a
        read-only store stays read-only (cloudzarr's ``StoreWrapper.with_read_only`` rule).
        """
        return type(self)(self._store.with_read_only(read_only))

    def _check_writable(self, key: str | None = None) -> None:
        # Checked here, before the store would raise its own ReadOnlyError (a PermissionError),
        # because zarr-python expects a ValueError carrying its own sentence.
        if self.read_only:
            what = f"cannot write {key!r}: " if key is not None else ""
            raise ZarrReadOnlyError(f"{what}{_ZARR_READ_ONLY_TEXT} ({self._store!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ZarrStoreAdapter):
            return NotImplemented
        return type(self) is type(other) and self._store == other._store

    def __hash__(self) -> int:
        return hash((ZarrStoreAdapter, self._store))

    def __repr__(self) -> str:
        # The store's repr never shows credentials; nothing else is shown.
        return f"ZarrStoreAdapter({self._store!r})"

    # --- reads -----------------------------------------------------------------------------

    async def get(
        self,
        key: str,
        prototype: BufferPrototype | None = None,
        byte_range: Any = None,
    ) -> Buffer | None:
        """The value of ``key`` (or the requested bytes of it) as a ``prototype`` buffer.

        Parameters
        ----------
        key
            The key to read.
        prototype
            The buffer prototype of the result; zarr-python's default when None.
        byte_range
            A zarr-python (or cloudzarr) ``RangeByteRequest``, ``OffsetByteRequest`` or
            ``SuffixByteRequest``; None reads the whole value.

        Returns
        -------
        Buffer or None
            None when the key does not exist.
        """
        request = to_cloudzarr_byte_request(byte_range)
        data = await self._store.get(key, request)
        if data is None:
            return None
        return (prototype or default_buffer_prototype()).buffer.from_bytes(data)

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, Any]],
    ) -> builtins.list[Buffer | None]:
        """Read many keys or byte ranges concurrently under the store's limiter, in order.

        Returns
        -------
        list of Buffer or None
            One entry per requested pair; None for a missing key.
        """
        pairs = [(key, to_cloudzarr_byte_request(r)) for key, r in key_ranges]
        values = await self._store.get_partial_values(pairs)
        buffer = (prototype or default_buffer_prototype()).buffer
        return [None if v is None else buffer.from_bytes(v) for v in values]

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds a value (one metadata request on a cloud store)."""
        return await self._store.exists(key)

    async def getsize(self, key: str) -> int:
        """The size of the value of ``key`` without reading it.

        Raises
        ------
        KeyNotFoundError
            If the key does not exist (a ``FileNotFoundError``, as zarr-python expects).
        """
        return await self._store.getsize(key)

    async def is_empty(self, prefix: str) -> bool:
        """Whether no key lies under ``prefix/`` (``""``: the whole store)."""
        return await self._store.is_empty(prefix)

    # --- writes ----------------------------------------------------------------------------

    async def set(self, key: str, value: Buffer) -> None:
        """Store ``value`` at ``key``, replacing what was there."""
        self._check_writable(key)
        await self._store.set(key, _to_bytes(key, value))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        """Store ``value`` at ``key`` only if the key does not exist, atomically.

        Of any number of concurrent callers for one key exactly one writes; the others leave
        the winner's value in place. zarr-python's interface returns nothing; call the cloudzarr
        store's ``set_if_not_exists`` directly to learn whether this call won.
        """
        self._check_writable(key)
        await self._store.set_if_not_exists(key, _to_bytes(key, value))

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        self._check_writable(key)
        await self._store.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        """Remove every key under ``prefix/`` with the store's bulk delete (``""``: all)."""
        self._check_writable(prefix or "<root>")
        await self._store.delete_dir(prefix)

    async def clear(self) -> None:
        """Remove every key in the store."""
        await self.delete_dir("")

    # --- listings --------------------------------------------------------------------------

    async def list(self) -> AsyncIterator[str]:
        """Every key in the store."""
        async for key in self._store.list():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key under ``prefix/`` (``"a"`` and ``"a/"`` alike), as full keys.

        A prefix is a folder: ``"a"`` never lists ``"ab/c"``, as zarr-python's local and fsspec
        stores behave and as zarr-python's callers (all passing node paths) need.
        """
        async for key in self._store.list_prefix(prefix):
            yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The names one level below ``prefix/``, relative to it, without trailing slashes."""
        async for name in self._store.list_dir(prefix):
            yield name


def _to_bytes(key: str, value: Buffer) -> bytes:
    if not isinstance(value, Buffer):
        raise TypeError(
            f"cannot write {key!r}: the value must be a zarr Buffer, got {type(value).__name__}"
        )
    return value.to_bytes()


def as_zarr_store(
    store: Store | ZarrStoreAdapter | str | os.PathLike[str],
    *,
    read_only: bool | None = None,
    storage_options: Mapping[str, Any] | None = None,
    concurrency: int | None = None,
) -> ZarrStoreAdapter:
    """See :func:`cloudzarr.interop.as_zarr_store`."""
    if isinstance(store, ZarrStoreAdapter | Store):
        if storage_options or concurrency is not None:
            raise InvalidStoreURLError(
                f"storage_options and concurrency apply to a URL or path, not to the store "
                f"{store!r}, which is already made"
            )
        if isinstance(store, ZarrStoreAdapter):
            return store if read_only is None else store.with_read_only(read_only)
        return ZarrStoreAdapter(store, read_only=read_only)
    if not isinstance(store, str | os.PathLike):
        raise TypeError(
            f"as_zarr_store takes a cloudzarr store, a URL or a path, got {type(store).__name__}"
        )
    opened = open_store(
        store,
        storage_options=storage_options,
        read_only=bool(read_only),
        concurrency=concurrency,
    )
    return ZarrStoreAdapter(opened)


__all__ = ["ZarrStoreAdapter", "as_zarr_store", "to_cloudzarr_byte_request"]
