"""StoreWrapper: shared limiter and counter, forwarding, read-only, equality, pickling."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from cloudzarr.errors import KeyNotFoundError, ReadOnlyError
from cloudzarr.storage import (
    FaultStore,
    InstrumentedStore,
    LatencyStore,
    MemoryStore,
    RangeByteRequest,
    RetryStore,
    StoreWrapper,
)


async def test_forwards_every_operation() -> None:
    inner = MemoryStore()
    store = StoreWrapper(inner)
    await store.set("a/b", b"hello")
    assert await store.set_if_not_exists("a/c", b"x") is True
    assert await store.set_if_not_exists("a/c", b"y") is False
    assert await store.get("a/b") == b"hello"
    assert await store.get("a/b", RangeByteRequest(1, 3)) == b"el"
    assert await store.get("missing") is None
    assert await store.exists("a/b")
    assert await store.getsize("a/b") == 5
    with pytest.raises(KeyNotFoundError):
        await store.getsize("missing")
    assert [k async for k in store.list()] == ["a/b", "a/c"]
    assert [k async for k in store.list_prefix("a")] == ["a/b", "a/c"]
    assert [k async for k in store.list_dir("")] == ["a"]
    await store.delete("a/b")
    assert await inner.get("a/b") is None
    await store.delete_dir("a")
    assert await inner.is_empty()


async def test_shares_limiter_and_request_counter() -> None:
    inner = MemoryStore(concurrency=3)
    store = InstrumentedStore(LatencyStore(inner, latency=0.01))
    assert store.limiter is inner.limiter
    assert store.requests is inner.requests
    inner.limiter.reset_peak()
    await asyncio.gather(*(store.set(f"k{i}", b"v") for i in range(12)))
    # One limiter for every layer: never more than 3 requests at once, however deep the stack.
    assert inner.limiter.peak_in_flight == 3
    assert store.stats().peak_in_flight == 3
    assert inner.requests.snapshot() == {"set": 12}


async def test_small_limiter_does_not_deadlock_when_listing_and_reading() -> None:
    inner = MemoryStore(concurrency=1)
    store = LatencyStore(inner, latency=0.0)
    await store.set("a/x", b"1")
    # Reading each key while the listing is being consumed needs the limiter between pages.
    seen = [await store.get(k) async for k in store.list_prefix("a")]
    assert seen == [b"1"]


async def test_read_only_if_either_is() -> None:
    inner = MemoryStore({"k": b"v"})
    ro_view = StoreWrapper(inner, read_only=True)
    with pytest.raises(ReadOnlyError, match="'k'"):
        await ro_view.set("k", b"w")
    ro_inner = StoreWrapper(inner.with_read_only())
    assert ro_inner.read_only
    with pytest.raises(ReadOnlyError):
        await ro_inner.delete("k")
    # Asking a wrapper of a read-only store for a writable view still gives a read-only one.
    assert ro_inner.with_read_only(False).read_only
    assert StoreWrapper(inner).with_read_only().read_only
    assert await inner.get("k") == b"v"


def test_equality_pickling_and_repr() -> None:
    inner = MemoryStore({"k": b"v"})
    assert LatencyStore(inner, latency=0.01) == LatencyStore(inner, latency=0.01)
    assert LatencyStore(inner, latency=0.01) != LatencyStore(inner, latency=0.02)
    assert InstrumentedStore(inner) != LatencyStore(inner)
    for store in (
        StoreWrapper(inner),
        InstrumentedStore(inner, read_only=True),
        LatencyStore(inner, latency=0.5, jitter=0.1, seed=3),
        FaultStore(inner, error_rate=0.2, seed=1),
        RetryStore(inner, retries=3),
    ):
        clone = pickle.loads(pickle.dumps(store))
        assert type(clone) is type(store)
        assert clone.read_only == store.read_only
        assert clone._config().keys() == store._config().keys()
        assert clone.inner._data == {"k": b"v"}  # type: ignore[attr-defined]
        assert "MemoryStore" in repr(store)
    assert (
        repr(LatencyStore(inner, latency=0.02))
        == "LatencyStore(MemoryStore(<1 keys>), latency=0.02)"
    )


def test_wraps_only_stores() -> None:
    with pytest.raises(TypeError, match="wraps a Store"):
        StoreWrapper({})  # type: ignore[arg-type]
