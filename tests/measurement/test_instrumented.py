"""InstrumentedStore: counts, bytes, errors by kind, percentiles, listing pages, reset, report."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest

from cloudzarr.errors import KeyNotFoundError
from cloudzarr.storage import (
    FaultStore,
    InstrumentedStore,
    LatencyStore,
    MemoryStore,
    OffsetByteRequest,
)


class PagedMemoryStore(MemoryStore):
    """A memory store that lists two keys a page, like a cloud store paginating."""

    async def _list_prefix_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        async for page in super()._list_prefix_pages(prefix):
            for i in range(0, len(page), 2):
                yield page[i : i + 2]


async def test_counts_and_bytes_per_operation() -> None:
    store = InstrumentedStore(MemoryStore())
    await store.set("a", b"12345")
    await store.set("b", b"xy")
    assert await store.set_if_not_exists("a", b"zzz") is False
    assert await store.get("a") == b"12345"
    assert await store.get("a", OffsetByteRequest(3)) == b"45"
    assert await store.get("nope") is None
    assert await store.exists("b")
    await store.delete("b")
    stats = store.stats()
    assert stats["set"].count == 2
    assert stats["set"].bytes_in == 7
    assert stats["set_if_not_exists"].count == 1
    assert stats["set_if_not_exists"].bytes_in == 3
    assert stats["get"].count == 3
    assert stats["get"].bytes_out == 7
    assert stats["exists"].count == 1
    assert stats["delete"].count == 1
    assert stats["list"].count == 0
    assert math.isnan(stats["list"].p50)
    assert stats.total_requests == 8
    # The inner store's own accounting agrees, operation for operation.
    assert store.requests.total == 8


async def test_errors_by_kind() -> None:
    store = InstrumentedStore(FaultStore(MemoryStore(), error_rate=1.0, kinds=["throttled"]))
    for _ in range(3):
        with pytest.raises(Exception, match="injected ThrottledError"):
            await store.get("k")
    plain = InstrumentedStore(MemoryStore())
    with pytest.raises(KeyNotFoundError):
        await plain.getsize("missing")
    assert store.stats()["get"].errors == {"ThrottledError": 3}
    assert store.stats()["get"].error_count == 3
    assert store.stats()["get"].count == 3
    assert plain.stats()["getsize"].errors == {"KeyNotFoundError": 1}


async def test_listing_measured_per_page_and_by_operation() -> None:
    inner = PagedMemoryStore()
    for i in range(5):
        await inner.set(f"g/k{i}", b"v")
    store = InstrumentedStore(LatencyStore(inner, latency=0.01))
    assert len([k async for k in store.list_prefix("g")]) == 5
    assert len([k async for k in store.list()]) == 5
    assert [k async for k in store.list_dir("")] == ["g"]
    stats = store.stats()
    # Five keys at two a page: three pages, three requests, each delayed.
    assert stats["list_prefix"].count == 3
    assert stats["list"].count == 3
    assert stats["list_dir"].count == 1
    assert stats["list_prefix"].p50 >= 0.01
    assert stats["list_dir"].max >= 0.01


async def test_latency_percentiles_reflect_the_delay() -> None:
    store = InstrumentedStore(LatencyStore(MemoryStore(), latency=0.005, jitter=0.005, seed=1))
    for i in range(40):
        await store.set(f"k{i}", b"v")
    s = store.stats()["set"]
    assert 0.005 <= s.p50 <= s.p90 <= s.p99 <= s.max
    # Jitter is at most 5 ms; allow the event loop's wake-up slack on top (the median, not the
    # maximum, so one descheduling on a busy machine cannot fail it).
    assert s.p50 < 0.010 + 0.02
    assert s.mean * s.count == pytest.approx(s.total_time)


async def test_reset_clears_everything() -> None:
    store = InstrumentedStore(MemoryStore())
    await store.set("a", b"1")
    await store.get("a")
    store.reset()
    stats = store.stats()
    assert stats.total_requests == 0
    assert stats["get"].bytes_out == 0
    assert stats.peak_in_flight == 0
    await store.get("a")
    assert store.stats()["get"].count == 1


async def test_read_only_view_records_into_the_same_stats() -> None:
    store = InstrumentedStore(MemoryStore({"a": b"1"}))
    await store.with_read_only().get("a")
    assert store.stats()["get"].count == 1


async def test_report_is_a_readable_table() -> None:
    store = InstrumentedStore(MemoryStore())
    await store.set("a", b"x" * 2048)
    await store.get("a")
    text = store.report()
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["operation", "count", "errors"]
    assert any(line.startswith("get ") and "2.0 KiB" in line for line in lines)
    assert not any(line.startswith("delete ") for line in lines)
    assert "peak in flight: 1" in lines[-1]
    assert "list_dir" in store.report(all_operations=True)


def test_stats_to_dict_is_plain_data() -> None:
    import json

    store = InstrumentedStore(MemoryStore())
    d = store.stats().to_dict()
    assert set(d["operations"]) >= {"get", "set", "list_dir"}
    json.dumps(d)  # plain numbers and strings only


def test_histogram_accessor_names_unknown_operation() -> None:
    store = InstrumentedStore(MemoryStore())
    with pytest.raises(ValueError, match="'put'"):
        store.histogram("put")
