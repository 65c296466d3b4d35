"""Compare-and-swap through the wrappers: measured, slowed, failed, retried without lying."""

from __future__ import annotations

import pytest

from cloudzarr.errors import AmbiguousWriteError, ConnectionResetStoreError
from cloudzarr.storage import (
    FaultStore,
    InstrumentedStore,
    LatencyStore,
    MemoryStore,
    RetryStore,
    Store,
)
from cloudzarr.storage.base import Version
from cloudzarr.storage.wrapper import StoreWrapper


async def test_instrumented_measures_both_operations() -> None:
    store = InstrumentedStore(LatencyStore(MemoryStore(), latency=0.001))
    assert store.supports_compare_and_swap
    await store.set("k", b"12345")
    got = await store.get_with_version("k")
    assert got is not None
    assert await store.set_if_version("k", b"abc", got[1])
    assert not await store.set_if_version("k", b"xy", got[1])
    stats = store.stats()
    assert stats["get_with_version"].count == 1
    assert stats["get_with_version"].bytes_out == 5
    assert stats["set_if_version"].count == 2
    assert stats["set_if_version"].bytes_in == 5
    assert store.inner.requests.snapshot() == {"set": 1, "get_with_version": 1, "set_if_version": 2}


async def test_fault_after_conditional_write_then_retry_reports_true() -> None:
    # The conditional write is applied and its response lost (seed 2: its first try fails
    # after the write, the second succeeds): the retry is refused, since we changed the version
    # ourselves, and RetryStore's read shows our bytes, so True.
    inner = MemoryStore()
    faulty = FaultStore(
        inner,
        error_rate=0.5,
        seed=2,
        kinds=["reset"],
        fail_after_write=1.0,
        operations=["set_if_version"],
    )
    store = RetryStore(faulty, retries=1, backoff=0)
    await inner.set("k", b"old")
    got = await store.get_with_version("k")
    assert got is not None
    assert await store.set_if_version("k", b"new", got[1])
    assert await inner.get("k") == b"new"
    assert store.retry_counts == {"set_if_version": 1}
    assert faulty.injected == {"ConnectionResetStoreError": 1}
    # One public set_if_version (its retry is inside it), RetryStore's verifying get, and
    # this test's own get.
    assert inner.requests.snapshot() == {
        "set": 1,
        "get_with_version": 1,
        "set_if_version": 1,
        "get": 2,
    }


class _LostThenOverwritten(StoreWrapper):
    """The first conditional write is applied, then another writer replaces the value, then the
    response is lost: nobody can tell afterwards whether the write happened."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.lost = False

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        done = await super()._set_if_version(key, value, version)
        if not self.lost:
            self.lost = True
            await self._inner._set(key, b"someone else")
            raise ConnectionResetStoreError(f"response to the write of {key!r} lost")
        return done


async def test_retry_refused_with_other_value_is_ambiguous() -> None:
    inner = MemoryStore()
    store = RetryStore(_LostThenOverwritten(inner), backoff=0)
    await inner.set("k", b"old")
    got = await store.get_with_version("k")
    assert got is not None
    with pytest.raises(AmbiguousWriteError, match="'k'"):
        await store.set_if_version("k", b"new", got[1])
    assert await inner.get("k") == b"someone else"


async def test_refusal_without_retry_is_plain_false() -> None:
    inner = MemoryStore()
    store = RetryStore(inner, backoff=0)
    await inner.set("k", b"old")
    got = await store.get_with_version("k")
    assert got is not None
    await inner.set("k", b"other")
    inner.requests.reset()
    assert not await store.set_if_version("k", b"new", got[1])
    assert inner.requests.snapshot() == {"set_if_version": 1}  # no verifying read
