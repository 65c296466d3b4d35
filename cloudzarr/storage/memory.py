"""A store held in a Python dict, for tests, demos and scratch work."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from cloudzarr.errors import KeyNotFoundError
from cloudzarr.storage.base import Store, Version
from cloudzarr.storage.byte_range import ByteRequest, slice_bytes
from cloudzarr.storage.versions import content_version

#: Serialises every write of every MemoryStore. One event loop never interleaves a check and a
#: write, but two loops in two threads sharing a dict could; the lock makes conditional writes
#: atomic against every other write in the process (the only place the values live).
_WRITE_LOCK = threading.Lock()


class MemoryStore(Store):
    """A store whose keys live in a dict.

    Parameters
    ----------
    store_dict
        The mapping to hold the values; a new dict by default. Two stores over the same dict
        see each other's writes.
    read_only, concurrency
        As for :class:`~cloudzarr.storage.base.Store`.

    Notes
    -----
    Pickling copies the values (there is no shared memory across processes). Every write
    holds one process-wide lock, so ``set_if_not_exists`` and ``set_if_version`` are atomic
    even between threads. A key's version is a digest of its bytes
    (:func:`~cloudzarr.storage.versions.content_version`).
    """

    default_concurrency = 1024
    concurrency_env = "CLOUDZARR_MEMORY_CONCURRENCY"
    supports_bulk_delete = True
    supports_compare_and_swap = True

    def __init__(
        self,
        store_dict: MutableMapping[str, bytes] | None = None,
        *,
        read_only: bool = False,
        concurrency: int | None = None,
    ) -> None:
        super().__init__(read_only=read_only, concurrency=concurrency)
        self._data: MutableMapping[str, bytes] = {} if store_dict is None else store_dict

    def _config(self) -> dict[str, Any]:
        return {"store_dict": self._data}

    def __eq__(self, other: object) -> bool:
        # Equal when backed by the same mapping object: two empty stores are not the same store.
        if not isinstance(other, MemoryStore):
            return NotImplemented
        return self._data is other._data and self.read_only == other.read_only

    def __hash__(self) -> int:
        return hash((MemoryStore, id(self._data), self.read_only))

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"MemoryStore(<{len(self._data)} keys>{ro})"

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        value = self._data.get(key)
        return None if value is None else slice_bytes(value, byte_range)

    async def _exists(self, key: str) -> bool:
        return key in self._data

    async def _getsize(self, key: str) -> int:
        try:
            return len(self._data[key])
        except KeyError:
            raise KeyNotFoundError(f"no value at key {key!r}") from None

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        value = self._data.get(key)
        return None if value is None else (value, content_version(value))

    async def _set(self, key: str, value: bytes) -> None:
        with _WRITE_LOCK:
            self._data[key] = value

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        with _WRITE_LOCK:
            if key in self._data:
                return False
            self._data[key] = value
            return True

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        with _WRITE_LOCK:
            current = self._data.get(key)
            if current is None or content_version(current) != version:
                return False
            self._data[key] = value
            return True

    async def _delete(self, key: str) -> None:
        with _WRITE_LOCK:
            self._data.pop(key, None)

    async def _delete_dir(self, prefix: str) -> None:
        with _WRITE_LOCK:
            for key in [k for k in self._data if _under(k, prefix)]:
                del self._data[key]

    async def _list_prefix_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        yield sorted(k for k in self._data if _under(k, prefix))

    async def _list_dir_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        start = len(prefix) + 1 if prefix else 0
        names = {k[start:].split("/", 1)[0] for k in self._data if _under(k, prefix)}
        yield sorted(names)


def _under(key: str, prefix: str) -> bool:
    return not prefix or key.startswith(prefix + "/")
