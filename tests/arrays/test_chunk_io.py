"""Chunk I/O: corrupt chunks, overlapping requests, the memory bound, dask."""

from __future__ import annotations

import numpy as np
import pytest

from cloudzarr.arrays import Array, AsyncArray, build_array_metadata
from cloudzarr.errors import ChunkDecodeError
from cloudzarr.storage import MemoryStore
from cloudzarr.storage.latency import LatencyStore


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("damage", ["truncate", "garbage"])
async def test_corrupt_chunk_raises_naming_array_and_key(zarr_format: int, damage: str) -> None:
    store = MemoryStore()
    meta = build_array_metadata(shape=(100,), dtype="f8", chunks=(50,), zarr_format=zarr_format)
    arr = await AsyncArray.create(store, "grp/arr", meta)
    await arr.setitem(..., np.arange(100.0))
    key = "grp/arr/c/1" if zarr_format == 3 else "grp/arr/1"
    good = store._data[key]
    bad = good[: len(good) // 2] if damage == "truncate" else b"\x00not zstd" * 5
    store._data[key] = bad
    with pytest.raises(ChunkDecodeError, match=r"grp/arr.*" + key):
        await arr.getitem(...)
    with pytest.raises(ChunkDecodeError, match=key):
        await arr.setitem(slice(60, 61), 1.0)  # a partial write must read the chunk first
    assert store._data[key] == bad  # nothing overwritten
    np.testing.assert_array_equal(await arr.getitem(slice(0, 50)), np.arange(50.0))


async def test_uncompressed_wrong_size_chunk_is_a_decode_error() -> None:
    store = MemoryStore()
    meta = build_array_metadata(shape=(10,), dtype="i4", chunks=(10,), compressors=None)
    arr = await AsyncArray.create(store, "a", meta)
    store._data["a/c/0"] = b"\x01\x02\x03"
    with pytest.raises(ChunkDecodeError, match="a/c/0"):
        await arr.getitem(...)


async def test_reading_many_chunks_overlaps_requests() -> None:
    inner = MemoryStore()
    meta = build_array_metadata(shape=(64, 64), dtype="u1", chunks=(8, 8))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., 1)
    slow = LatencyStore(inner, latency=0.005)
    reader = await AsyncArray.open(slow, "a")
    inner.limiter.reset_peak()
    out = await reader.getitem(...)
    assert (out == 1).all()
    assert inner.limiter.peak_in_flight > 1
    inner.limiter.reset_peak()
    await reader.setitem(..., 2)
    assert inner.limiter.peak_in_flight > 1


async def test_store_limiter_bounds_chunk_requests() -> None:
    inner = MemoryStore(concurrency=3)
    meta = build_array_metadata(shape=(40,), dtype="u1", chunks=(2,))
    arr = await AsyncArray.create(inner, "a", meta)
    await arr.setitem(..., 5)
    slow = LatencyStore(inner, latency=0.002)
    reader = await AsyncArray.open(slow, "a")
    inner.limiter.reset_peak()
    await reader.getitem(...)
    assert inner.limiter.peak_in_flight == 3


def test_large_chunks_decode_in_threads_and_match() -> None:
    # Chunks above the inline threshold go through the codec pool and the scratch buffers.
    store = MemoryStore()
    meta = build_array_metadata(shape=(64, 64, 64), dtype="f4", chunks=(32, 32, 32))
    arr = Array.create(store, "a", meta)
    data = np.random.default_rng(1).standard_normal((64, 64, 64), dtype=np.float32)
    arr[...] = data
    np.testing.assert_array_equal(arr[...], data)
    np.testing.assert_array_equal(arr[5:40, ::3, -1], data[5:40, ::3, -1])
    np.testing.assert_array_equal(arr[::-1, 3], data[::-1, 3])


def test_dask_from_array_and_store() -> None:
    import dask.array as da  # a test dependency: a missing dask must fail, not skip

    store = MemoryStore()
    src = Array.create(
        store, "src", build_array_metadata(shape=(30, 20), dtype="f8", chunks=(10, 5))
    )
    data = np.arange(600.0).reshape(30, 20)
    src[...] = data
    dst = Array.create(
        store, "dst", build_array_metadata(shape=(30, 20), dtype="f8", chunks=(10, 5))
    )
    darr = da.from_array(src, chunks=src.chunks)
    assert float(darr.sum().compute(scheduler="threads")) == data.sum()
    da.store(darr * 2, dst, lock=False, scheduler="threads")
    np.testing.assert_array_equal(dst[...], data * 2)


@pytest.mark.parametrize("chunks", [(64, 64), (32, 32)])
def test_valid_frame_of_wrong_size_is_a_decode_error(chunks: tuple[int, int]) -> None:
    # Decoding straight into the output must never leave part of it silently stale.
    import numcodecs

    store = MemoryStore()
    arr = Array.create(store, "a", build_array_metadata(shape=(64, 64), dtype="f4", chunks=chunks))
    arr[...] = 1
    store._data["a/c/0/0"] = numcodecs.Zstd().encode(np.ones(100, "f4"))
    with pytest.raises(ChunkDecodeError, match="a/c/0/0"):
        arr[...]
