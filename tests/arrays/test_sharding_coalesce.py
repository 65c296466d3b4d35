"""Partial shard reads coalesce nearby inner chunks into one range request: exact request
counts on memory and the cloud emulators, bytes transferred, per-call overrides, and results
identical to decoding the whole shard."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import zarr

from cloudzarr.arrays import Array, AsyncArray, build_array_metadata
from cloudzarr.arrays.chunk_io import ShardedChunkIO
from cloudzarr.arrays.sharding import COALESCE_MAX_BYTES, COALESCE_MAX_GAP, ShardingCodec
from cloudzarr.errors import ChunkDecodeError, StoreError
from cloudzarr.metadata.array_v3 import ArrayMetadataV3
from cloudzarr.storage import MemoryStore, Store
from cloudzarr.storage.byte_range import CoalescedRange, coalesce_ranges
from cloudzarr.storage.instrumented import InstrumentedStore
from cloudzarr.storage.latency import LatencyStore

# --- coalesce_ranges ----------------------------------------------------------------------------


def test_defaults_are_documented_sizes() -> None:
    assert COALESCE_MAX_GAP == 64 * 1024
    assert COALESCE_MAX_BYTES == 16 * 1024 * 1024


def test_touching_ranges_merge_in_start_order_whatever_the_input_order() -> None:
    got = coalesce_ranges([(20, 30), (0, 10), (10, 20)], max_gap=0, max_size=100)
    assert got == [CoalescedRange(0, 30, (1, 2, 0))]


def test_gap_threshold_is_inclusive() -> None:
    ranges = [(0, 10), (15, 20), (26, 30)]  # gaps of 5 then 6
    assert coalesce_ranges(ranges, max_gap=5, max_size=100) == [
        CoalescedRange(0, 20, (0, 1)),
        CoalescedRange(26, 30, (2,)),
    ]
    assert coalesce_ranges(ranges, max_gap=6, max_size=100) == [CoalescedRange(0, 30, (0, 1, 2))]


def test_minus_one_gap_keeps_touching_ranges_apart() -> None:
    got = coalesce_ranges([(0, 10), (10, 20)], max_gap=-1, max_size=100)
    assert got == [CoalescedRange(0, 10, (0,)), CoalescedRange(10, 20, (1,))]


def test_size_cap_splits_but_never_splits_one_range() -> None:
    ranges = [(0, 40), (40, 80), (80, 120), (120, 400)]
    assert coalesce_ranges(ranges, max_gap=0, max_size=80) == [
        CoalescedRange(0, 80, (0, 1)),
        CoalescedRange(80, 120, (2,)),
        CoalescedRange(120, 400, (3,)),  # larger than the cap on its own
    ]


def test_overlapping_and_duplicate_ranges_share_a_request() -> None:
    got = coalesce_ranges([(0, 50), (10, 20), (0, 50)], max_gap=0, max_size=50)
    assert got == [CoalescedRange(0, 50, (0, 2, 1))]


def test_empty_input_and_bad_arguments() -> None:
    assert coalesce_ranges([], max_gap=0, max_size=0) == []
    with pytest.raises(StoreError, match="gap"):
        coalesce_ranges([(0, 1)], max_gap=-2, max_size=10)
    with pytest.raises(StoreError, match="size"):
        coalesce_ranges([(0, 1)], max_gap=0, max_size=-1)
    with pytest.raises(StoreError, match=r"\[5, 4\)"):
        coalesce_ranges([(5, 4)], max_gap=0, max_size=10)


# --- request counts through arrays ------------------------------------------------------------

# One 1024 x 512 float64 shard of 16 x 8 inner chunks of 64 x 64, stored raw: each inner chunk is
# exactly 32 KiB, written in C order, so a row of inner chunks is one contiguous run and two
# vertically adjacent inner chunks are 7 * 32 KiB = 224 KiB apart (more than the 64 KiB gap).
BIG = {"shape": (1024, 512), "chunks": (64, 64), "shards": (1024, 512)}
INNER = 64 * 64 * 8
INDEX = 16 * 8 * 2 * 8 + 4  # (offset, length) uint64 pairs + crc32c


async def _filled(store: Store, geometry: dict[str, Any]) -> tuple[AsyncArray, np.ndarray]:
    meta = build_array_metadata(dtype="f8", compressors=None, fill_value=-1.0, **geometry)
    arr = await AsyncArray.create(store, "a", meta)
    data = np.random.default_rng(7).random(geometry["shape"])
    await arr.setitem(..., data)
    return arr, data


@pytest.mark.parametrize(
    ("selection", "gets"),
    [
        pytest.param((slice(64, 128), slice(None)), 2, id="row-of-8-inner-chunks"),
        pytest.param((slice(0, 256), slice(0, 512)), 2, id="4-rows-of-8-contiguous"),
        pytest.param((slice(0, 128), slice(0, 256)), 3, id="2x4-box-two-runs"),
        pytest.param((slice(None), slice(0, 64)), 17, id="column-of-16-far-apart"),
        pytest.param((0, slice(0, 512, 128)), 2, id="chunks-0-2-4-6-gaps-of-32k"),
        pytest.param((slice(0, 1024, 1023), 0), 3, id="first-and-last-row-far-apart"),
        pytest.param((5, 5), 2, id="one-element"),
    ],
)
async def test_memory_request_counts(selection: tuple[Any, ...], gets: int) -> None:
    store = MemoryStore()
    arr, data = await _filled(store, BIG)
    store.requests.reset()
    np.testing.assert_array_equal(await arr.getitem(selection), data[selection])
    assert store.requests.snapshot() == {"get": gets}


async def test_gap_bytes_are_transferred_once_and_counted() -> None:
    inner = MemoryStore()
    await _filled(inner, BIG)
    store = InstrumentedStore(inner)
    arr = await AsyncArray.open(store, "a")
    store.reset()
    # Inner chunks (0, 0) and (0, 2): one range spanning the unneeded (0, 1) between them.
    await arr.getitem((slice(0, 64), slice(0, 192, 128)))
    stats = store.stats()["get"]
    assert stats.count == 2
    assert stats.bytes_out == INDEX + 3 * INNER


def _codec_and_extent(arr: AsyncArray) -> tuple[ShardingCodec, tuple[int, ...]]:
    meta = arr.metadata
    assert isinstance(meta, ArrayMetadataV3)
    io = ShardedChunkIO(meta, "a")
    return io.codec, io.grid_chunks


@pytest.mark.parametrize(
    ("max_gap", "max_request", "gets"),
    [
        pytest.param(None, None, 1 + 1, id="defaults"),
        pytest.param(-1, None, 1 + 8, id="no-coalescing"),
        pytest.param(0, 2 * INNER, 1 + 4, id="cap-two-chunks"),
        pytest.param(0, 2 * INNER - 1, 1 + 8, id="cap-below-two-chunks"),
        pytest.param(0, 0, 1 + 8, id="zero-cap"),
    ],
)
async def test_per_call_overrides(max_gap: int | None, max_request: int | None, gets: int) -> None:
    store = MemoryStore()
    arr, data = await _filled(store, BIG)
    codec, extent = _codec_and_extent(arr)
    selection = (slice(64, 128), slice(None))
    target = np.empty((64, 512))
    store.requests.reset()
    await codec.read_into(
        store, "a/c/0/0", selection, extent, target, max_gap=max_gap, max_request=max_request
    )
    np.testing.assert_array_equal(target, data[selection])
    assert store.requests.snapshot() == {"get": gets}


async def test_a_wide_gap_joins_far_apart_chunks() -> None:
    store = MemoryStore()
    arr, data = await _filled(store, BIG)
    codec, extent = _codec_and_extent(arr)
    selection = (slice(None), slice(0, 64))  # 16 inner chunks, 224 KiB apart
    target = np.empty((1024, 64))
    store.requests.reset()
    await codec.read_into(store, "a/c/0/0", selection, extent, target, max_gap=7 * INNER)
    np.testing.assert_array_equal(target, data[selection])
    assert store.requests.snapshot() == {"get": 2}


# One 256 x 512 float64 shard of 8 x 16 inner chunks of 32 x 32 (8 KiB raw each): a row of inner
# chunks is contiguous, vertical neighbours are 15 * 8 KiB = 120 KiB apart. 1 MiB in all.
SMALL = {"shape": (256, 512), "chunks": (32, 32), "shards": (256, 512)}

_CLOUD_GET = {"s3": "GetObject", "gcs": "GET object"}


@pytest.fixture(params=["memory", "s3", "gcs", "azure"])
def kind_and_store(request: pytest.FixtureRequest) -> tuple[str, Store]:
    """A fresh store of each kind (a sync fixture: async ones cannot be requested in a test)."""
    store: Store = request.getfixturevalue(f"{request.param}_store")
    return request.param, store


@pytest.mark.parametrize(
    ("selection", "chunk_gets"),
    [
        pytest.param((slice(0, 32), slice(0, 256)), 1, id="row-of-8-contiguous"),
        pytest.param((slice(0, 256, 224), slice(0, 512, 480)), 4, id="4-corners"),
        pytest.param((slice(0, 32, 31), slice(0, 512, 511)), 2, id="2-far-apart"),
        pytest.param((slice(None), 40), 8, id="column-of-8-far-apart"),
    ],
)
async def test_request_counts_on_every_kind_of_store(
    kind_and_store: tuple[str, Store], selection: tuple[Any, ...], chunk_gets: int
) -> None:
    kind, store = kind_and_store
    arr, data = await _filled(store, SMALL)
    store.requests.reset()
    np.testing.assert_array_equal(await arr.getitem(selection), data[selection])
    got = store.requests.snapshot()
    if kind == "memory":
        assert got == {"get": 1 + chunk_gets}
    elif kind == "azure":
        # No suffix ranges on Azure Blob: the index read costs a size lookup first.
        assert got == {"GetBlobProperties": 1, "GetBlob": 1 + chunk_gets}
    else:
        assert got == {_CLOUD_GET[kind]: 1 + chunk_gets}


# --- identical to decoding the whole shard -----------------------------------------------------


def _random_selection(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[Any, ...]:
    sel: list[Any] = []
    for n in shape:
        kind = rng.integers(3)
        if kind == 0:
            sel.append(int(rng.integers(-n, n)))
        else:
            start = int(rng.integers(0, n))
            stop = int(rng.integers(start + 1, n + 1))
            step = 1 if kind == 1 else int(rng.integers(1, 7))
            sel.append(slice(start, stop, step))
    return tuple(sel)


@pytest.mark.parametrize("index_location", ["end", "start"])
@pytest.mark.parametrize(
    ("max_gap", "max_request"), [(-1, None), (0, None), (None, None), (40, 100), (10**9, 10**9)]
)
async def test_partial_reads_match_the_whole_shard(
    index_location: str, max_gap: int | None, max_request: int | None
) -> None:
    store = MemoryStore()
    # 12 x 10 shard of 4 x 5 inner chunks of 3 x 2, zstd-compressed (so lengths differ), with
    # holes: some inner chunks all fill value (absent from the index), one edge shard partial.
    meta = build_array_metadata(
        shape=(20, 14), dtype="i4", chunks=(3, 2), shards=(12, 10), fill_value=-7
    )
    assert isinstance(meta, ArrayMetadataV3)
    spec = meta.codecs[0]
    cfg = {**spec.configuration, "index_location": index_location}
    doc = meta.to_dict()
    doc["codecs"] = [{"name": "sharding_indexed", "configuration": _plain(cfg)}]
    meta = ArrayMetadataV3.from_dict(doc)
    arr = await AsyncArray.create(store, "a", meta)
    rng = np.random.default_rng(11)
    data = rng.integers(0, 1000, size=(20, 14)).astype("i4")
    data[0:3, 2:6] = -7  # two whole inner chunks of shard (0, 0) are fill
    data[6:9, 0:2] = -7
    data[12:15, :] = -7  # a whole row of inner chunks of the edge shards
    await arr.setitem(..., data)
    io = ShardedChunkIO(meta, "a")
    codec = io.codec
    for shard_coords in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        key = "a/c/" + "/".join(map(str, shard_coords))
        shard = codec.decode(store._data[key], codec.dtype, codec.shard_shape)
        extent = io._extent(shard_coords)
        inside = shard[tuple(slice(0, e) for e in extent)]
        for _ in range(25):
            sel = _random_selection(rng, extent)
            expected = inside[sel]
            target = np.empty(np.shape(expected), dtype="i4")
            await codec.read_into(
                store, key, sel, extent, target, max_gap=max_gap, max_request=max_request
            )
            assert target.tobytes() == np.ascontiguousarray(expected).tobytes(), (key, sel)
    np.testing.assert_array_equal(await arr.getitem(...), data)


def _plain(value: Any) -> Any:
    """A codec configuration as JSON-like dicts and lists (CodecSpec tuples turned back)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict | tuple | list):
        if isinstance(value, dict):
            return {k: _plain(v) for k, v in value.items()}
        return [_plain(v) for v in value]
    return value


async def test_missing_shard_and_all_absent_selection_read_fill() -> None:
    store = MemoryStore()
    arr, _ = await _filled(store, BIG)
    await arr.setitem((slice(0, 64), slice(0, 128)), -1.0)  # inner chunks (0,0),(0,1): fill
    store.requests.reset()
    out = await arr.getitem((slice(0, 64), slice(0, 128)))
    assert (out == -1.0).all()
    assert store.requests.snapshot() == {"get": 1}  # the index says both are absent
    await arr.setitem(..., -1.0)
    store.requests.reset()
    assert (await arr.getitem((slice(0, 10), 3)) == -1.0).all()
    assert store.requests.snapshot() == {"get": 1}


async def test_truncated_shard_in_a_coalesced_range_names_the_inner_chunk() -> None:
    store = MemoryStore()
    arr, _ = await _filled(store, BIG)
    shard = store._data["a/c/0/0"]
    # Keep the index (at the end) but drop the body from inner chunk (0, 5) on.
    store._data["a/c/0/0"] = shard[: 5 * INNER] + shard[-INDEX:]
    with pytest.raises(ChunkDecodeError, match=r"'/a'.*a/c/0/0.*\[0, 5\].*past the end"):
        await arr.getitem((slice(0, 64), slice(0, 512)))
    assert len(store._data["a/c/0/0"]) == 5 * INNER + INDEX  # untouched


# --- shards written by zarr-python (inner chunks in Morton order) -------------------------------


@pytest.fixture(params=["local", "s3"])
def zarr_and_our_store(request: pytest.FixtureRequest, tmp_path: Any) -> tuple[Any, Store]:
    """zarr-python's store and ours on the same place: local disk, or the S3 emulator."""
    if request.param == "local":
        ours: Store = request.getfixturevalue("local_store")
        return zarr.storage.LocalStore(tmp_path / "store"), ours
    ours = request.getfixturevalue("s3_store")
    bucket = request.getfixturevalue("s3_bucket")
    options = request.getfixturevalue("s3_storage_options")
    theirs = zarr.storage.FsspecStore.from_url(f"s3://{bucket}/root", storage_options=options)
    return theirs, ours


@pytest.mark.parametrize(
    ("selection", "chunk_gets"),
    [
        # A 4 x 4 block of inner chunks is one contiguous run in Morton order.
        pytest.param((slice(0, 256), slice(0, 256)), 1, id="aligned-4x4-block"),
        # Row 0 of inner chunks sits at Morton positions 0 2 8 10 32 34 40 42: pairs 32 KiB
        # apart merge, the pairs themselves are 160 KiB or more apart.
        pytest.param((slice(0, 64), slice(None)), 4, id="row-of-8"),
        pytest.param((slice(0, 512, 448), slice(0, 512, 448)), 4, id="4-corners"),
    ],
)
def test_zarr_python_layout_request_counts(
    zarr_and_our_store: tuple[Any, Store], selection: tuple[Any, ...], chunk_gets: int
) -> None:
    theirs, store = zarr_and_our_store
    data = np.random.default_rng(2).random((512, 512))
    zarr.create_array(
        theirs, name="a", data=data, chunks=(64, 64), shards=(512, 512), compressors=None
    )
    arr = Array.open(store, "a")
    store.requests.reset()
    np.testing.assert_array_equal(arr[selection], data[selection])
    get = "GetObject" if "s3" in type(store).__name__.lower() else "get"
    assert store.requests.snapshot() == {get: 1 + chunk_gets}


async def test_coalesced_requests_run_concurrently_within_the_limiter() -> None:
    inner = MemoryStore(concurrency=4)
    store = LatencyStore(inner, latency=0.005)  # each request holds its limiter slot a while
    arr, data = await _filled(store, BIG)
    selection = (slice(None), slice(0, 64))  # 16 inner chunks 224 KiB apart: 16 ranges
    store.limiter.reset_peak()
    inner.requests.reset()
    np.testing.assert_array_equal(await arr.getitem(selection), data[selection])
    assert inner.requests.snapshot() == {"get": 17}
    assert store.limiter.peak_in_flight == 4  # overlapped, and never more than the limit
