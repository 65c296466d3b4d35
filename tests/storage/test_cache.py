"""CacheStore: memory LRU by bytes, negative cache, persistent disk cache; never stale."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cloudzarr
from cloudzarr.arrays import AsyncArray, build_array_metadata
from cloudzarr.errors import InvalidArgumentError
from cloudzarr.storage import CacheStore, DiskCache, LocalStore, MemoryCache, MemoryStore
from cloudzarr.storage.base import Store
from cloudzarr.storage.byte_range import RangeByteRequest, SuffixByteRequest


def _gets(store: Store) -> int:
    return store.requests.snapshot().get("get", 0)


async def test_repeated_reads_are_served_from_memory() -> None:
    inner = MemoryStore()
    await inner.set("a", b"hello world")
    store = CacheStore(inner)
    assert await store.get("a") == b"hello world"
    assert await store.get("a") == b"hello world"
    assert await store.get("a", RangeByteRequest(0, 5)) == b"hello"
    assert await store.get("a", SuffixByteRequest(5)) == b"world"
    assert _gets(inner) == 1
    assert store.cache_stats.hits == 3 and store.cache_stats.misses == 1
    snapshot = inner.requests.snapshot()
    assert snapshot["cache_hit"] == 3 and snapshot["cache_miss"] == 1


async def test_missing_keys_are_remembered() -> None:
    inner = MemoryStore()
    store = CacheStore(inner)
    assert await store.get("nope") is None
    assert await store.get("nope") is None
    assert not await store.exists("nope")
    assert _gets(inner) == 1
    assert store.cache_stats.missing_hits == 2


async def test_never_stale_after_writes_through_the_same_store() -> None:
    store = CacheStore(MemoryStore())
    assert await store.get("k") is None  # cached as missing
    await store.set("k", b"1")
    assert await store.get("k") == b"1"
    await store.set("k", b"2")
    assert await store.get("k") == b"2"
    assert await store.set_if_not_exists("k", b"3") is False
    got = await store.get_with_version("k")
    assert got is not None
    assert await store.set_if_version("k", b"4", got[1])
    assert await store.get("k") == b"4"
    await store.delete("k")
    assert await store.get("k") is None
    await store.set("d/x", b"x")
    assert await store.get("d/x") == b"x"
    await store.delete_dir("d")
    assert await store.get("d/x") is None


async def test_never_stale_after_writes_through_another_handle() -> None:
    # Two handles (two CacheStores, two arrays) over one bucket sharing one memory cache.
    inner = MemoryStore()
    shared = MemoryCache(max_bytes=2**20)
    meta = build_array_metadata(shape=(100,), dtype="i4", chunks=(10,))
    writer = await AsyncArray.create(CacheStore(inner, shared), "a", meta)
    reader = await AsyncArray.open(CacheStore(inner, shared), "a")
    await writer.setitem(..., 1)
    assert (await reader.getitem(...) == 1).all()
    await writer.setitem(slice(0, 15), 2)
    got = await reader.getitem(...)
    assert (got[:15] == 2).all() and (got[15:] == 1).all()
    await writer.setitem(..., 0)  # all fill: chunks deleted
    assert (await reader.getitem(...) == 0).all()


async def test_a_fetch_racing_a_write_is_not_cached() -> None:
    inner = MemoryStore()
    await inner.set("k", b"old")
    store = CacheStore(inner)
    entered, gate = asyncio.Event(), asyncio.Event()
    original = inner._get

    async def slow_get(key: str, byte_range: object) -> bytes | None:
        value = await original(key, byte_range)  # type: ignore[arg-type]
        entered.set()
        await gate.wait()
        return value

    inner._get = slow_get  # type: ignore[method-assign]
    read = asyncio.ensure_future(store.get("k"))
    await entered.wait()  # the read holds the old bytes
    await store.set("k", b"new")
    gate.set()
    assert await read == b"old"
    inner._get = original  # type: ignore[method-assign]
    assert await store.get("k") == b"new"


async def test_memory_cache_is_bounded_and_evicts_least_recently_used() -> None:
    inner = MemoryStore()
    for i in range(10):
        await inner.set(f"k{i}", bytes(100))
    cache = MemoryCache(max_bytes=450)
    store = CacheStore(inner, cache)
    for i in range(4):
        await store.get(f"k{i}")
    await store.get("k0")  # k0 is now the most recently used
    await store.get("k4")  # evicts k1
    assert cache.stats.nbytes <= 450 and cache.stats.entries == 4
    assert cache.stats.evictions == 1
    before = _gets(inner)
    await store.get("k0")
    assert _gets(inner) == before
    await store.get("k1")
    assert _gets(inner) == before + 1
    big = CacheStore(inner, MemoryCache(max_bytes=300))
    await big.get("k5")  # 100 bytes > a quarter of 300: not cached
    await big.get("k5")
    assert big.cache_stats.hits == 0


async def test_disk_cache_survives_and_is_bounded(tmp_path: Path) -> None:
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    inner = LocalStore(data_dir)
    for i in range(20):
        await inner.set(f"k{i}", bytes([i]) * 1000)
    store = CacheStore(inner, max_bytes=0, disk=DiskCache(cache_dir, max_bytes=10_000))
    for i in range(20):
        assert await store.get(f"k{i}") == bytes([i]) * 1000
    total = sum(p.stat().st_size for p in cache_dir.glob("??/*.d"))
    assert 0 < total <= 10_000
    # A new handle (a new process would be the same): the most recent keys are served from disk.
    again = CacheStore(LocalStore(data_dir), max_bytes=0, disk=DiskCache(cache_dir, 10_000))
    assert await again.get("k19") == bytes([19]) * 1000
    assert again.cache_stats.hits == 1
    assert again.inner.requests.snapshot().get("get", 0) == 0
    assert not any(str(data_dir) in p.name or "k19" in p.name for p in cache_dir.rglob("*"))


def test_disk_cache_never_stale_after_a_write_in_another_process(tmp_path: Path) -> None:
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    arr = cloudzarr.open_array(
        str(data_dir), mode="w", shape=(20,), chunks=(10,), dtype="i4", cache=DiskCache(cache_dir)
    )
    arr[...] = 1
    reader = cloudzarr.open_array(str(data_dir), mode="r", cache=DiskCache(cache_dir))
    assert (reader[...] == 1).all()
    assert (reader[...] == 1).all()  # from the caches
    script = textwrap.dedent(
        f"""
        import cloudzarr
        from cloudzarr.storage import DiskCache
        a = cloudzarr.open_array({str(data_dir)!r}, mode="r+", cache=DiskCache({str(cache_dir)!r}))
        a[5:15] = 7
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path.cwd())
    fresh = cloudzarr.open_array(str(data_dir), mode="r", cache=DiskCache(cache_dir))
    np.testing.assert_array_equal(fresh[...], np.r_[[1] * 5, [7] * 10, [1] * 5])


def test_open_group_and_open_array_take_a_cache(tmp_path: Path) -> None:
    root = cloudzarr.open_group(str(tmp_path / "g"), mode="w")
    a = root.create_array("x", shape=(10,), chunks=(5,), dtype="f8")
    a[...] = 3.0
    shared = MemoryCache()
    group = cloudzarr.open_group(str(tmp_path / "g"), mode="r", cache=shared)
    assert isinstance(group.store, CacheStore)
    assert (group["x"][...] == 3.0).all()
    array = cloudzarr.open_array(str(tmp_path / "g"), path="x", mode="r", cache=2**20)
    assert isinstance(array.store, CacheStore)
    assert (array[...] == 3.0).all()
    with pytest.raises(InvalidArgumentError, match="cache"):
        cloudzarr.open_array(str(tmp_path / "g"), path="x", mode="r", cache="yes")


async def test_cache_store_pickles(tmp_path: Path) -> None:
    import pickle

    store = CacheStore(LocalStore(tmp_path / "d"), disk=DiskCache(tmp_path / "c"))
    await store.set("k", b"v")
    assert await store.get("k") == b"v"
    copy = pickle.loads(pickle.dumps(store))
    assert isinstance(copy, CacheStore) and copy.disk == store.disk
    assert await copy.get("k") == b"v"
