"""LatencyStore: the delay applies to every request, listings page by page, inside the limiter."""

from __future__ import annotations

import asyncio
import time

import pytest

from cloudzarr.storage import InstrumentedStore, LatencyStore, MemoryStore


async def test_every_operation_is_delayed() -> None:
    store = InstrumentedStore(LatencyStore(MemoryStore(), latency=0.02))
    await store.set("g/a", b"1")
    assert await store.set_if_not_exists("g/b", b"2")
    await store.get("g/a")
    got = await store.get_with_version("g/a")
    assert got is not None
    assert await store.set_if_version("g/a", b"3", got[1])
    await store.exists("g/a")
    await store.getsize("g/a")
    [k async for k in store.list()]
    [k async for k in store.list_prefix("g")]
    [k async for k in store.list_dir("g")]
    await store.delete("g/a")
    await store.delete_dir("g")
    stats = store.stats()
    for op, s in stats.operations.items():
        assert s.count == 1, op
        assert s.p50 >= 0.02, op


async def test_delay_holds_the_limiter_slot() -> None:
    # At concurrency 4 and 20 ms a request, 16 requests need at least 4 rounds: >= 80 ms.
    store = LatencyStore(MemoryStore(concurrency=4), latency=0.02)
    start = time.perf_counter()
    await asyncio.gather(*(store.get(f"k{i}") for i in range(16)))
    elapsed = time.perf_counter() - start
    assert elapsed >= 0.08
    assert store.limiter.peak_in_flight == 4


async def test_jitter_and_distribution_are_seeded() -> None:
    a = LatencyStore(MemoryStore(), latency=0.01, jitter=0.01, seed=5)
    b = LatencyStore(MemoryStore(), latency=0.01, jitter=0.01, seed=5)
    draws = [a.delay() for _ in range(20)]
    assert draws == [b.delay() for _ in range(20)]
    assert all(0.01 <= d <= 0.02 for d in draws)
    assert len(set(draws)) > 1
    d = LatencyStore(MemoryStore(), distribution=lambda r: r.choice([-1.0, 0.003]), seed=1)
    assert {d.delay() for _ in range(50)} == {0.0, 0.003}


def test_rejects_negative_settings() -> None:
    with pytest.raises(ValueError, match="latency"):
        LatencyStore(MemoryStore(), latency=-1)
    with pytest.raises(ValueError, match="jitter"):
        LatencyStore(MemoryStore(), jitter=-1)
