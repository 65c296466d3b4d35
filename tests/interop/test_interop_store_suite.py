"""zarr-python's own store test-suite (``zarr.testing.store.StoreTests``) run on the adapter.

The suite checks what zarr-python expects of any store: byte ranges, missing keys, listings,
read-only views, ``delete_dir``, equality and pickling. It runs here on the adapter over three
cloudzarr stores: memory, local disk, and S3 on moto. The suite's ``set``/``get`` helpers write
and read through the cloudzarr store directly, so the adapter is checked against its backend
rather than against itself.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.testing.store import StoreTests

from cloudzarr.interop import ZarrStoreAdapter
from cloudzarr.storage import MemoryStore, Store


class TestZarrStoreSuite(StoreTests[ZarrStoreAdapter, cpu.Buffer]):
    store_cls = ZarrStoreAdapter
    buffer_cls = cpu.Buffer

    # The suite's tests of zarr-python's synchronous store surface do not apply: the adapter is
    # async only (see test_adapter_has_no_sync_io). Not collected rather than skipped 39 times.
    test_get_sync = None
    test_get_sync_missing = None
    test_set_sync = None
    test_delete_sync = None
    test_delete_sync_missing = None
    test_sync_async_set_get_parity = None
    test_delete_sync_visible_to_async_get = None
    test_get_sync_byte_range_parity = None

    async def set(self, store: ZarrStoreAdapter, key: str, value: cpu.Buffer) -> None:  # type: ignore[override]
        await store.store.set(key, value.to_bytes())

    async def get(self, store: ZarrStoreAdapter, key: str) -> cpu.Buffer:  # type: ignore[override]
        data = await store.store.get(key)
        assert data is not None, f"no value at {key!r}"
        return self.buffer_cls.from_bytes(data)

    @pytest.fixture
    def store_kwargs(self, cloudzarr_store: Store) -> dict[str, Any]:
        # cloudzarr_store (tests/interop/conftest.py): memory, local and S3 in turn.
        return {"store": cloudzarr_store}

    def test_store_repr(self, store: ZarrStoreAdapter) -> None:
        assert repr(store) == f"ZarrStoreAdapter({store.store!r})"

    def test_store_supports_writes(self, store: ZarrStoreAdapter) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: ZarrStoreAdapter) -> None:
        assert store.supports_listing

    def test_store_supports_deletes(self, store: ZarrStoreAdapter) -> None:
        assert store.supports_deletes

    def test_adapter_has_no_sync_io(self, store: ZarrStoreAdapter) -> None:
        # Deliberate: zarr-python would call get_sync from its worker threads, blocking them on
        # network I/O. Without it zarr-python takes its async path.
        from zarr.abc.store import _store_supports_sync_io

        assert not _store_supports_sync_io(store)

    async def test_serializable_store(self, store: ZarrStoreAdapter) -> None:
        # The suite's version asserts equality after a pickle round trip. A cloudzarr
        # MemoryStore is equal only to a store over the same dict, and unpickling copies the
        # dict, so for memory the copy is checked by contents instead.
        if not isinstance(store.store, MemoryStore):
            await super().test_serializable_store(store)
            return
        await store.set("foo", self.buffer_cls.from_bytes(b"\x01\x02"))
        clone = pickle.loads(pickle.dumps(store))
        assert isinstance(clone, ZarrStoreAdapter)
        assert clone != store
        assert clone.read_only == store.read_only
        value = await clone.get("foo", prototype=default_buffer_prototype())
        assert value is not None
        assert value.to_bytes() == b"\x01\x02"
