"""Concurrent reads of one chunk share one fetch and one decode (W4 of issue 11, scaled down)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from cloudzarr.arrays import AsyncArray, build_array_metadata, flights
from cloudzarr.arrays.chunk_io import RegularChunkIO
from cloudzarr.errors import ChunkDecodeError
from cloudzarr.storage import MemoryStore
from cloudzarr.storage.base import Store
from cloudzarr.storage.latency import LatencyStore
from cloudzarr.storage.wrapper import StoreWrapper

# Arrays of a 16 x 16 chunk grid, as W4's 4096^2 of 256^2 chunks.
CHUNKS = (64, 64)  # 16 KiB chunks: decoded inline
BIG_CHUNKS = (128, 128)  # 64 KiB chunks: decoded in the codec pool


def _slices(n: int, grid: tuple[int, int], distinct: int, chunks: tuple[int, int]) -> list:
    """``n`` one-chunk slices over exactly ``distinct`` chunks, shuffled."""
    rng = np.random.default_rng(7)
    coords = rng.permutation(grid[0] * grid[1])[:distinct]
    picks = np.concatenate([coords, rng.choice(coords, n - distinct)])
    rng.shuffle(picks)
    out = []
    for flat in picks:
        i, j = divmod(int(flat), grid[1])
        out.append(
            (slice(i * chunks[0], (i + 1) * chunks[0]), slice(j * chunks[1], (j + 1) * chunks[1]))
        )
    return out


async def _w4(store: Store, chunks: tuple[int, int], n: int, distinct: int) -> None:
    shape = (16 * chunks[0], 16 * chunks[1])
    meta = build_array_metadata(shape=shape, dtype="f4", chunks=chunks)
    data = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
    writer = await AsyncArray.create(store, "w4", meta)
    await writer.setitem(..., data)
    reader = await AsyncArray.open(store, "w4")
    sels = _slices(n, (16, 16), distinct, chunks)
    before = store.requests.snapshot()
    results = await asyncio.gather(*(reader.getitem(s) for s in sels))
    after = store.requests.snapshot()
    gets = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    gets = {k: v for k, v in gets.items() if v}
    assert sum(gets.values()) == distinct, gets
    for sel, got in zip(sels, results, strict=True):
        np.testing.assert_array_equal(got, data[sel])


@pytest.mark.parametrize("chunks", [CHUNKS, BIG_CHUNKS])
async def test_concurrent_one_chunk_slices_send_one_request_per_chunk(
    chunks: tuple[int, int],
) -> None:
    # A little latency so that the readers truly overlap, as they would on a cloud store.
    inner = MemoryStore()
    await _w4(LatencyStore(inner, latency=0.002), chunks, 1000, 253)


async def test_concurrent_one_chunk_slices_on_s3(s3_store: Store) -> None:
    # 253 distinct chunks out of 256, 1,000 readers: exactly 253 GetObject.
    await _w4(s3_store, CHUNKS, 1000, 253)


async def test_shared_decode_runs_once_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    store = LatencyStore(MemoryStore(), latency=0.002)
    meta = build_array_metadata(shape=(256, 256), dtype="f4", chunks=(128, 128))
    arr = await AsyncArray.create(store, "a", meta)
    await arr.setitem(..., 3.0)
    reader = await AsyncArray.open(store, "a")
    calls: list[str] = []
    original = RegularChunkIO._decode_into

    def counting(self: RegularChunkIO, data: bytes, key: str, *args: Any) -> np.ndarray:
        calls.append(key)
        return original(self, data, key, *args)

    monkeypatch.setattr(RegularChunkIO, "_decode_into", counting)
    results = await asyncio.gather(
        *(reader.getitem((slice(0, 128), slice(0, 5))) for _ in range(20))
    )
    assert all((r == 3.0).all() for r in results)
    assert calls == ["a/c/0/0"]


class GateStore(StoreWrapper):
    """Holds every ``get`` until :attr:`gate` is set; :attr:`entered` tells one is waiting."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def _call(self, operation: str, key: str, call: Any, *, nbytes_in: int = 0) -> Any:
        if operation == "get":
            self.entered.set()
            await self.gate.wait()
        return await call()


async def _followers(store: Store, key: str, n: int) -> None:
    # Yield to the event loop until n readers have joined the flight (no timed sleep).
    while len(flights._table(store)[key].waiters) < n:
        await asyncio.sleep(0)


async def test_read_after_write_never_joins_an_older_fetch() -> None:
    inner = MemoryStore()
    meta = build_array_metadata(shape=(10,), dtype="i4", chunks=(10,))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., 1)
    store = GateStore(inner)
    gated = AsyncArray(store, "a", arr.metadata)
    early = asyncio.ensure_future(gated.getitem(...))
    await store.entered.wait()  # the early read is fetching
    await gated.setitem(..., 2)  # a whole-chunk write: no read
    late = asyncio.ensure_future(gated.getitem(...))
    store.gate.set()
    assert (await late == 2).all()
    assert set(np.unique(await early)) <= {1, 2}
    assert inner.requests.snapshot().get("get", 0) >= 2


async def test_a_failed_leader_fails_its_followers_and_later_reads_fetch_anew() -> None:
    inner = MemoryStore()
    meta = build_array_metadata(shape=(10,), dtype="f8", chunks=(10,))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., 1.0)
    inner._data["a/c/0"] = b"garbage"
    store = GateStore(inner)
    gated = AsyncArray(store, "a", arr.metadata)
    tasks = [asyncio.ensure_future(gated.getitem(...)) for _ in range(5)]
    await store.entered.wait()
    await _followers(store, "a/c/0", 4)
    store.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ChunkDecodeError) for r in results), results
    await gated.setitem(..., 4.0)
    assert (await gated.getitem(...) == 4.0).all()


async def test_a_cancelled_leader_lets_its_followers_read() -> None:
    inner = MemoryStore()
    meta = build_array_metadata(shape=(10,), dtype="f8", chunks=(10,))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., 5.0)
    store = GateStore(inner)
    gated = AsyncArray(store, "a", arr.metadata)
    leader = asyncio.ensure_future(gated.getitem(...))
    await store.entered.wait()
    follower = asyncio.ensure_future(gated.getitem(...))
    await _followers(store, "a/c/0", 1)
    leader.cancel()
    store.gate.set()
    assert (await follower == 5.0).all()
    assert leader.cancelled()


# Selections of chunk (0, 0) of a (24, 20) array of (8, 10) chunks, each of a different shape:
# whole, partial, strided, reversed, integer-indexed, and one crossing into other chunks.
MIXED = [
    (slice(0, 8), slice(0, 10)),
    (slice(1, 5), slice(2, 9)),
    (slice(0, 8, 3), slice(None, 10, 2)),
    (slice(7, None, -2), slice(9, 0, -1)),
    (3, slice(0, 10)),
    (slice(0, 8), 4),
    (2, 7),
    (slice(4, 12), slice(5, 15)),
]


@pytest.mark.parametrize("dtype", ["f4", ">i8", "u1", "M8[s]", "U3", "str"])
@pytest.mark.parametrize("order", ["C", "F"])
async def test_one_decode_serves_readers_of_every_shape(dtype: str, order: str) -> None:
    # The leader decodes once and copies each waiter's part, whatever its shape; the results
    # are what numpy gives, and the shared chunk is fetched once.
    store = GateStore(MemoryStore())
    meta = build_array_metadata(shape=(24, 20), dtype=dtype, chunks=(8, 10), order=order)
    if dtype in ("U3", "str"):
        data = np.array([[f"{i % 7}{j}" for j in range(20)] for i in range(24)], dtype=object)
        data = data.astype(dtype if dtype != "str" else object)
    else:
        data = (np.arange(24 * 20).reshape(24, 20) % 200).astype(dtype)
    writer = await AsyncArray.create(store.inner, "a", meta)
    await writer.setitem(..., data)
    reader = AsyncArray(store, "a", writer.metadata)
    before = store.requests.snapshot().get("get", 0)
    tasks = [asyncio.ensure_future(reader.getitem(sel)) for sel in MIXED]
    await store.entered.wait()
    await _followers(store, "a/c/0/0", len(MIXED) - 1)
    store.gate.set()
    results = await asyncio.gather(*tasks)
    for sel, got in zip(MIXED, results, strict=True):
        np.testing.assert_array_equal(got, data[sel])
    # Chunk (0, 0) once; the crossing selection adds its three other chunks, once each.
    assert store.requests.snapshot().get("get", 0) - before == 4


async def test_a_cancelled_follower_leaves_the_others_served() -> None:
    inner = MemoryStore()
    meta = build_array_metadata(shape=(10,), dtype="f8", chunks=(10,))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., np.arange(10.0))
    store = GateStore(inner)
    gated = AsyncArray(store, "a", arr.metadata)
    leader = asyncio.ensure_future(gated.getitem(slice(0, 10)))
    await store.entered.wait()
    quitter = asyncio.ensure_future(gated.getitem(slice(2, 4)))
    stayer = asyncio.ensure_future(gated.getitem(slice(5, 9)))
    await _followers(store, "a/c/0", 2)
    quitter.cancel()
    await asyncio.gather(quitter, return_exceptions=True)
    assert len(flights._table(store)["a/c/0"].waiters) == 1  # the quitter withdrew
    store.gate.set()
    np.testing.assert_array_equal(await leader, np.arange(10.0))
    np.testing.assert_array_equal(await stayer, np.arange(5.0, 9.0))
    assert quitter.cancelled()


async def _sharded_w4(store: Store, n: int, distinct: int) -> None:
    # 16 x 16 inner chunks of 64 x 64 in 4 shards of 8 x 8: every reader wants one inner chunk.
    meta = build_array_metadata(shape=(1024, 1024), dtype="f4", chunks=CHUNKS, shards=(512, 512))
    data = np.random.default_rng(3).standard_normal((1024, 1024), dtype=np.float32)
    writer = await AsyncArray.create(store, "s4", meta)
    await writer.setitem(..., data)
    reader = await AsyncArray.open(store, "s4")
    sels = _slices(n, (16, 16), distinct, CHUNKS)
    before = store.requests.total
    results = await asyncio.gather(*(reader.getitem(s) for s in sels))
    # Each shard's index once, each distinct inner chunk once.
    assert store.requests.total - before == 4 + distinct
    for sel, got in zip(sels, results, strict=True):
        np.testing.assert_array_equal(got, data[sel])


async def test_concurrent_partial_shard_reads_share_index_and_chunk_requests() -> None:
    await _sharded_w4(LatencyStore(MemoryStore(), latency=0.002), 1000, 253)


async def test_concurrent_partial_shard_reads_on_s3(s3_store: Store) -> None:
    await _sharded_w4(s3_store, 1000, 253)


async def test_concurrent_whole_shard_reads_share_one_get() -> None:
    store = LatencyStore(MemoryStore(), latency=0.002)
    meta = build_array_metadata(shape=(256, 256), dtype="i2", chunks=(64, 64), shards=(128, 128))
    data = np.arange(256 * 256, dtype="i2").reshape(256, 256)
    writer = await AsyncArray.create(store, "w", meta)
    await writer.setitem(..., data)
    reader = await AsyncArray.open(store, "w")
    sels = [(slice(0, 128), slice(0, 128)), (slice(0, 128), slice(None, None, -1)), (...,)] * 5
    before = store.requests.total
    results = await asyncio.gather(*(reader.getitem(s) for s in sels))
    assert store.requests.total - before == 4  # the four shards, once each
    for sel, got in zip(sels, results, strict=True):
        np.testing.assert_array_equal(got, data[sel])


async def test_a_write_ends_the_sharing_of_shard_reads() -> None:
    inner = MemoryStore()
    meta = build_array_metadata(shape=(16,), dtype="i4", chunks=(4,), shards=(16,))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., 1)
    store = GateStore(inner)
    gated = AsyncArray(store, "a", arr.metadata)
    early = asyncio.ensure_future(gated.getitem(slice(0, 4)))
    await store.entered.wait()  # the early read is fetching the shard's index
    await gated.setitem(..., 2)
    late = asyncio.ensure_future(gated.getitem(slice(0, 4)))
    store.gate.set()
    assert (await late == 2).all()
    assert set(np.unique(await early)) <= {1, 2}


async def test_a_cancelled_shard_reader_lets_the_readers_sharing_its_request_read() -> None:
    inner = MemoryStore()
    meta = build_array_metadata(shape=(16,), dtype="i4", chunks=(4,), shards=(16,))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., np.arange(16))
    store = GateStore(inner)
    gated = AsyncArray(store, "a", arr.metadata)
    leader = asyncio.ensure_future(gated.getitem(slice(0, 4)))
    await store.entered.wait()  # the leader is fetching the index for both
    follower = asyncio.ensure_future(gated.getitem(slice(4, 8)))
    while not any(flights._range_tables.get(id(store), {}).values()):
        await asyncio.sleep(0)
    for _ in range(5):  # let the follower reach the shared index read
        await asyncio.sleep(0)
    leader.cancel()
    store.gate.set()
    np.testing.assert_array_equal(await follower, np.arange(4, 8))
    assert leader.cancelled()


async def test_a_failed_shared_index_read_fails_every_reader_sharing_it() -> None:
    inner = MemoryStore()
    meta = build_array_metadata(shape=(16,), dtype="i4", chunks=(4,), shards=(16,))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., 3)
    inner._data["a/c/0"] = b"xx"  # shorter than the index
    store = LatencyStore(inner, latency=0.002)
    reader = AsyncArray(store, "a", arr.metadata)
    before = store.requests.total
    results = await asyncio.gather(
        *(reader.getitem(slice(i, i + 2)) for i in range(0, 16, 2)), return_exceptions=True
    )
    assert all(isinstance(r, ChunkDecodeError) for r in results), results
    assert store.requests.total - before == 1
