"""FaultStore and RetryStore: seeded faults, no corruption, retries that make every op succeed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from cloudzarr.errors import (
    ConnectionResetStoreError,
    StoreTimeoutError,
    ThrottledError,
    TransientStoreError,
)
from cloudzarr.storage import FaultStore, InstrumentedStore, MemoryStore, RetryStore


async def _outcomes(store: FaultStore, n: int) -> list[str]:
    out = []
    for i in range(n):
        try:
            await store.set(f"k{i}", b"v")
            out.append("ok")
        except TransientStoreError as exc:
            out.append(type(exc).__name__)
    return out


async def test_fault_rate_is_reproducible_by_seed() -> None:
    a = await _outcomes(FaultStore(MemoryStore(), error_rate=0.3, seed=42), 300)
    b = await _outcomes(FaultStore(MemoryStore(), error_rate=0.3, seed=42), 300)
    c = await _outcomes(FaultStore(MemoryStore(), error_rate=0.3, seed=43), 300)
    assert a == b
    assert a != c
    failures = sum(o != "ok" for o in a)
    assert 60 <= failures <= 120  # 30 % of 300, within about 3.5 sigma
    assert {o for o in a if o != "ok"} == {
        "StoreTimeoutError",
        "ThrottledError",
        "ConnectionResetStoreError",
    }


async def test_faults_before_the_request_never_touch_data() -> None:
    inner = MemoryStore()
    store = FaultStore(inner, error_rate=1.0, kinds=["timeout"])
    with pytest.raises(StoreTimeoutError, match="'k'"):
        await store.set("k", b"v")
    assert await inner.get("k") is None
    assert store.injected == {"StoreTimeoutError": 1}


async def test_fail_after_write_models_a_lost_response() -> None:
    inner = MemoryStore()
    store = FaultStore(inner, error_rate=1.0, kinds=["reset"], fail_after_write=1.0)
    with pytest.raises(ConnectionResetStoreError, match="response lost"):
        await store.set("k", b"v")
    assert await inner.get("k") == b"v"
    # Reads always fail before the request, whatever fail_after_write says.
    with pytest.raises(ConnectionResetStoreError, match="before the request"):
        await store.get("k")


async def test_operations_filter_and_bad_settings() -> None:
    store = FaultStore(MemoryStore(), error_rate=1.0, operations=["get"])
    await store.set("k", b"v")
    with pytest.raises(TransientStoreError):
        await store.get("k")
    with pytest.raises(ValueError, match="error_rate"):
        FaultStore(MemoryStore(), error_rate=2)
    with pytest.raises(ValueError, match="'boom'"):
        FaultStore(MemoryStore(), kinds=["boom"])


async def test_listing_pages_fail_and_retry() -> None:
    inner = MemoryStore({f"p/{i}": b"v" for i in range(3)})
    store = RetryStore(FaultStore(inner, error_rate=0.5, seed=3), backoff=0, seed=0)
    for _ in range(20):
        assert [k async for k in store.list_prefix("p")] == ["p/0", "p/1", "p/2"]
    assert store.retry_counts["list_prefix"] > 0


async def test_retry_store_makes_a_thousand_ops_succeed_at_20_percent_faults() -> None:
    inner = MemoryStore()
    faults = FaultStore(inner, error_rate=0.2, seed=2024, fail_after_write=0.5)
    measured = InstrumentedStore(faults)
    store = RetryStore(measured, retries=10, backoff=0.0001, max_backoff=0.001, seed=1)
    values = {f"d/{i:04d}": i.to_bytes(4, "little") * (1 + i % 7) for i in range(500)}
    await asyncio.gather(*(store.set(k, v) for k, v in values.items()))
    got = await asyncio.gather(*(store.get(k) for k in values))
    assert dict(zip(values, got, strict=True)) == values
    assert await inner.get("d/0000") == values["d/0000"]
    assert {k: inner._data[k] for k in values} == values
    assert sum(faults.injected.values()) == store.total_retries
    # About 20 % of 1,000+ requests failed and were retried; none was given up.
    assert 150 <= store.total_retries <= 350
    assert not store.given_up
    assert measured.stats()["get"].error_count == store.retry_counts["get"]


async def test_retry_gives_up_after_the_configured_retries() -> None:
    faults = FaultStore(MemoryStore(), error_rate=1.0, kinds=["throttled"])
    store = RetryStore(faults, retries=3, backoff=0)
    with pytest.raises(ThrottledError):
        await store.get("k")
    assert store.retry_counts["get"] == 3
    assert store.given_up["get"] == 1
    assert sum(faults.injected.values()) == 4


async def test_set_if_not_exists_after_a_lost_response_reports_true() -> None:
    inner = MemoryStore()

    # The first try creates the key and loses the response; the retry then sees the key.
    class OnceFaulty(FaultStore):
        calls = 0

        def _draw(self, operation: str):  # type: ignore[no-untyped-def]
            self.calls += 1
            return (StoreTimeoutError, True) if self.calls == 1 else (None, False)

    once = OnceFaulty(inner)
    store = RetryStore(once, retries=2, backoff=0)
    assert await store.set_if_not_exists("k", b"mine") is True
    assert await inner.get("k") == b"mine"
    # A genuinely existing key with other content is still reported as not created.
    once.calls = 0
    await inner.set("other", b"theirs")
    assert await store.set_if_not_exists("other", b"mine") is False
    assert await inner.get("other") == b"theirs"


async def test_retry_waits_grow_and_are_capped() -> None:
    store = RetryStore(MemoryStore(), backoff=0.1, max_backoff=1.0, seed=0)
    waits = [store.wait_time(a) for a in range(8)]
    assert 0.05 <= waits[0] <= 0.1
    assert 0.4 <= waits[3] <= 0.8
    assert all(0.5 <= w <= 1.0 for w in waits[4:])


class FlakyPagedStore(MemoryStore):
    """Lists two keys a page; the first listing fails on its second page, as a network might."""

    failures = 1

    async def _list_prefix_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        async for page in super()._list_prefix_pages(prefix):
            for i in range(0, len(page), 2):
                if i == 2 and self.failures:
                    self.failures -= 1
                    raise ThrottledError(f"503 SlowDown listing {prefix!r}")
                yield page[i : i + 2]


async def test_a_broken_backend_listing_is_never_silently_truncated() -> None:
    keys = [f"p/{i}" for i in range(5)]
    flaky = FlakyPagedStore(dict.fromkeys(keys, b"v"))
    store = RetryStore(flaky, backoff=0)
    assert [k async for k in store.list_prefix("p")] == keys
    assert store.retry_counts["list_prefix"] >= 1
    # Through a plain wrapper the error surfaces; it does not end the listing early.
    flaky.failures = 1
    with pytest.raises(ThrottledError):
        [k async for k in InstrumentedStore(flaky).list_prefix("p")]
