"""Nested sharding (a ``sharding_indexed`` inside a shard's inner codecs): reads and writes,
interop with zarr-python 3.4.2 both ways on local disk, request counts, bad configurations."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from zarr import codecs as zc

import cloudzarr.api.asynchronous
from cloudzarr.arrays import Array, AsyncArray, build_array_metadata
from cloudzarr.arrays.chunk_io import ShardedChunkIO
from cloudzarr.arrays.sharding import MAX_UINT64, NESTED_WHOLE_MAX_BYTES, ShardingCodec
from cloudzarr.errors import ChunkDecodeError, InvalidMetadataError
from cloudzarr.metadata.array_v3 import ArrayMetadataV3
from cloudzarr.storage import MemoryStore, Store
from cloudzarr.storage.local import LocalStore

SHAPE = (20, 15)  # edge shards are partial in both dimensions
SHARDS = (16, 12)  # outer shards of 2 x 2 nested shards
NESTED = (8, 6)  # nested shards of 4 x 2 inner chunks
INNER = (2, 3)
FILL = -1

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
ZSTD = {"name": "zstd", "configuration": {"level": 1}}


def nested_spec(**config: Any) -> dict[str, Any]:
    """A ``sharding_indexed`` codec for the nested shards (our JSON spelling)."""
    return {
        "name": "sharding_indexed",
        "configuration": {
            "chunk_shape": list(INNER),
            "codecs": [BYTES, ZSTD],
            "index_codecs": [BYTES, {"name": "crc32c"}],
            "index_location": "end",
            **config,
        },
    }


def sample() -> np.ndarray:
    """Values with holes: inner chunks, a nested shard and part of an edge shard are fill."""
    data = np.random.default_rng(3).integers(0, 10_000, SHAPE).astype("i4")
    data[0:2, 3:6] = FILL  # one inner chunk of nested shard (0, 0)
    data[8:16, 0:6] = FILL  # the whole nested shard (1, 0) of outer shard (0, 0)
    data[16:20, 12:15] = FILL  # the whole outer shard (1, 1)
    return data


def _selections() -> list[tuple[Any, ...]]:
    return [
        (...,),
        (5, 4),
        (slice(1, 19, 3), slice(1, None, 2)),
        (slice(8, 16), slice(0, 12)),
        (slice(0, 2), slice(0, 15)),
        (-1, slice(2, 14)),
        (slice(6, 18), 7),
    ]


# --- zarr-python writes, cloudzarr reads ---------------------------------------------------------

THEIRS = {
    "plain": zc.ShardingCodec(
        chunk_shape=NESTED,
        codecs=[zc.ShardingCodec(chunk_shape=INNER, codecs=[zc.BytesCodec(), zc.ZstdCodec()])],
    ),
    "index-at-start": zc.ShardingCodec(
        chunk_shape=NESTED,
        codecs=[
            zc.ShardingCodec(chunk_shape=INNER, codecs=[zc.BytesCodec()], index_location="start")
        ],
        index_location="start",
    ),
    # The nested shard's chunk shape is in the transposed (6, 8) frame.
    "transpose-crc32c": zc.ShardingCodec(
        chunk_shape=NESTED,
        codecs=[
            zc.TransposeCodec(order=(1, 0)),
            zc.ShardingCodec(chunk_shape=(3, 2), codecs=[zc.BytesCodec(), zc.GzipCodec()]),
            zc.Crc32cCodec(),
        ],
    ),
}


def _write_theirs(path: Path, serializer: Any) -> np.ndarray:
    data = sample()
    with warnings.catch_warnings():
        # zarr-python warns that codecs around a nested shard disable its partial reads.
        warnings.simplefilter("ignore")
        z = zarr.create_array(
            zarr.storage.LocalStore(path),
            name="a",
            shape=SHAPE,
            chunks=SHARDS,
            dtype="i4",
            serializer=serializer,
            compressors=None,
            fill_value=FILL,
        )
        z[...] = data
    return data


@pytest.mark.parametrize("case", list(THEIRS))
def test_zarr_writes_nested_cloudzarr_reads(tmp_path: Path, case: str) -> None:
    data = _write_theirs(tmp_path, THEIRS[case])
    arr = Array.open(LocalStore(tmp_path), "a")
    assert arr.shape == SHAPE and arr.dtype == np.dtype("i4") and arr.fill_value == FILL
    assert arr.shards == SHARDS and arr.chunks == NESTED
    for sel in _selections():
        np.testing.assert_array_equal(arr[sel], data[sel])
    np.testing.assert_array_equal(arr[::-3, ::-2], data[::-3, ::-2])  # steps zarr-python refuses
    # The outer shard (1, 1) is all fill: zarr-python did not store it.
    assert not (tmp_path / "a" / "c" / "1" / "1").exists()


@pytest.mark.parametrize("case", list(THEIRS))
def test_cloudzarr_writes_into_zarr_nested_and_zarr_reads(tmp_path: Path, case: str) -> None:
    data = _write_theirs(tmp_path, THEIRS[case])
    arr = Array.open(LocalStore(tmp_path), "a")
    arr[9:11, 1:5] = 77  # partial write into a nested shard zarr-python left empty
    arr[0, :] = 5  # touches every outer shard of the first row
    data[9:11, 1:5] = 77
    data[0, :] = 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.open_array(zarr.storage.LocalStore(tmp_path), path="a", mode="r")
        np.testing.assert_array_equal(z[...], data)
    np.testing.assert_array_equal(arr[...], data)


# --- cloudzarr writes, zarr-python reads ---------------------------------------------------------

OURS: dict[str, dict[str, Any]] = {
    "plain": {"serializer": nested_spec()},
    "index-at-start": {"serializer": nested_spec(codecs=[BYTES], index_location="start")},
    "filter-before-nested": {
        "filters": [{"name": "transpose", "configuration": {"order": [1, 0]}}],
        "serializer": nested_spec(chunk_shape=[3, 2]),
        "compressors": [{"name": "crc32c"}],
    },
}


def _create_ours(store: Any, codecs: dict[str, Any]) -> Array:
    meta = build_array_metadata(
        shape=SHAPE,
        dtype="i4",
        chunks=NESTED,
        shards=SHARDS,
        fill_value=FILL,
        **{"compressors": None, **codecs},
    )
    return Array.create(store, "a", meta)


@pytest.mark.parametrize("case", list(OURS))
def test_cloudzarr_writes_nested_zarr_reads(tmp_path: Path, case: str) -> None:
    arr = _create_ours(LocalStore(tmp_path), OURS[case])
    data = sample()
    arr[...] = data
    arr[3:5, 2:9] = 11  # a partial rewrite of existing nested shards
    data[3:5, 2:9] = 11
    codecs = arr.metadata.to_dict()["codecs"]
    assert codecs[0]["configuration"]["codecs"][len(OURS[case].get("filters", []))]["name"] == (
        "sharding_indexed"
    )
    assert not (tmp_path / "a" / "c" / "1" / "1").exists()  # all fill: not stored
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.open_array(zarr.storage.LocalStore(tmp_path), path="a", mode="r")
        assert z.shape == SHAPE and z.dtype == np.dtype("i4") and z.fill_value == FILL
        for sel in _selections():
            np.testing.assert_array_equal(z[sel], data[sel])
        # zarr-python writes into our nested shards; we read its result.
        zw = zarr.open_array(zarr.storage.LocalStore(tmp_path), path="a", mode="r+")
        zw[12:20, 0:4] = 9
    data[12:20, 0:4] = 9
    np.testing.assert_array_equal(arr[...], data)


def _outer_index(shard: bytes, n: int) -> np.ndarray:
    """The outer index (index at the end, bytes + crc32c) of a shard of ``n`` nested shards."""
    return np.frombuffer(shard[-(16 * n + 4) : -4], dtype="<u8").reshape(n, 2)


async def test_nested_shards_omit_fill_at_both_levels() -> None:
    store = MemoryStore()
    meta = build_array_metadata(
        shape=SHAPE,
        dtype="i4",
        chunks=NESTED,
        shards=SHARDS,
        fill_value=FILL,
        serializer=nested_spec(codecs=[BYTES]),
        compressors=None,
    )
    arr = await AsyncArray.create(store, "a", meta)
    await arr.setitem(..., sample())
    shard = store._data["a/c/0/0"]
    outer = _outer_index(shard, 4)
    # Nested shard (1, 0) is all fill: absent from the outer index.
    assert (outer[2] == MAX_UINT64).all() and (outer[[0, 1, 3]] != MAX_UINT64).all()
    # Nested shard (0, 0): 8 inner chunks of 2 x 3 int32 (24 bytes raw), one of them all fill.
    off, n = (int(v) for v in outer[0])
    nested = shard[off : off + n]
    inner = np.frombuffer(nested[-(16 * 8 + 4) : -4], dtype="<u8").reshape(8, 2)
    assert (inner[1] == MAX_UINT64).all()
    assert n == 7 * 24 + 16 * 8 + 4


# --- partial reads: requests -------------------------------------------------------------------


async def test_nested_partial_read_requests() -> None:
    store = MemoryStore()
    a = await AsyncArray.create(store, "a", nested_meta())
    data = sample()
    data[8:16, 0:6] = 3  # no empty nested shard in outer shard (0, 0)
    await a.setitem(..., data)
    cases: list[tuple[tuple[Any, ...], int]] = [
        ((5, 4), 2),  # the outer index + one nested shard
        ((slice(0, 8), slice(0, 12)), 2),  # nested shards (0, 0), (0, 1): adjacent, one range
        ((slice(0, 16, 15), slice(0, 12, 11)), 1),  # every nested shard: the shard whole
        ((slice(0, 16, 8), 0), 2),  # nested (0, 0) and (1, 0), (0, 1) between: one range
    ]
    for sel, gets in cases:
        store.requests.reset()
        np.testing.assert_array_equal(await a.getitem(sel), data[sel])
        assert store.requests.snapshot() == {"get": gets}, sel


def nested_meta() -> ArrayMetadataV3:
    meta = build_array_metadata(
        shape=SHAPE,
        dtype="i4",
        chunks=NESTED,
        shards=SHARDS,
        fill_value=FILL,
        serializer=nested_spec(),
        compressors=None,
    )
    assert isinstance(meta, ArrayMetadataV3)
    return meta


# --- bad configurations --------------------------------------------------------------------------


async def test_nested_chunk_shape_not_dividing_is_refused_before_anything_is_written() -> None:
    store = MemoryStore()
    with pytest.raises(InvalidMetadataError, match=r"codecs: .*\[3, 3\].*\[8, 6\]"):
        await cloudzarr.api.asynchronous.create_array(
            store,
            name="g/a",
            shape=SHAPE,
            dtype="i4",
            chunks=NESTED,
            shards=SHARDS,
            serializer=nested_spec(chunk_shape=[3, 3]),  # 3 does not divide 8
            compressors=None,
        )
    assert [k async for k in store.list()] == []  # neither the array nor its parent group


async def test_corrupt_nested_index_names_outer_key_and_inner_chunk() -> None:
    store = MemoryStore()
    arr = await AsyncArray.create(store, "a", nested_meta())
    await arr.setitem(..., 4)
    shard = bytearray(store._data["a/c/0/0"])
    off, n = (int(v) for v in _outer_index(bytes(shard), 4)[1])
    shard[off + n - 1] ^= 0xFF  # the crc32c of nested shard (0, 1)'s index
    store._data["a/c/0/0"] = bytes(shard)
    with pytest.raises(ChunkDecodeError, match=r"'/a'.*a/c/0/0, nested shard \[0, 1\]': index"):
        await arr.getitem((0, 7))
    np.testing.assert_array_equal(await arr.getitem((0, slice(0, 6))), 4)  # (0, 0) still reads


# --- partial reads inside large nested shards ----------------------------------------------------


def _codec_for(meta: ArrayMetadataV3) -> tuple[ShardingCodec, ShardedChunkIO]:
    io = ShardedChunkIO(meta, "a")
    assert io.codec.nested is not None
    return io.codec, io


@pytest.mark.parametrize(
    ("selection", "gets"),
    [
        # outer index + nested (0, 0)'s index + one inner chunk
        pytest.param((5, 4), 3, id="one-element"),
        # outer index + for nested (0, 0) and (0, 1): its index + one range (2 adjacent chunks)
        pytest.param((0, slice(0, 12)), 5, id="a-row-across-two-nested"),
        # nested (0, 0) needed whole: one range; nested (0, 1): index + one chunk
        pytest.param((slice(0, 8), slice(0, 7)), 4, id="one-whole-one-partial"),
        # every nested shard needed whole: the outer index + one coalesced range
        pytest.param((slice(0, 16), slice(0, 12, 3)), 2, id="all-nested-whole"),
    ],
)
async def test_nested_shards_read_by_ranges(selection: tuple[Any, ...], gets: int) -> None:
    store = MemoryStore()
    meta = nested_meta()
    arr = await AsyncArray.create(store, "a", meta)
    data = np.arange(20 * 15, dtype="i4").reshape(SHAPE)
    await arr.setitem(..., data)
    codec, _ = _codec_for(meta)
    expected = data[:16, :12][selection]
    target = np.empty(np.shape(expected), dtype="i4")
    store.requests.reset()
    await codec.read_into(store, "a/c/0/0", selection, SHARDS, target, max_nested_whole=0)
    np.testing.assert_array_equal(target, expected)
    assert store.requests.snapshot() == {"get": gets}


@pytest.mark.parametrize("nested_whole", [0, None], ids=["by-ranges", "fetched-whole"])
@pytest.mark.parametrize("index_location", ["end", "start"])
async def test_nested_range_reads_match_the_whole_shard(
    index_location: str, nested_whole: int | None
) -> None:
    store = MemoryStore()
    meta = build_array_metadata(
        shape=SHAPE,
        dtype="i4",
        chunks=NESTED,
        shards=SHARDS,
        fill_value=FILL,
        serializer=nested_spec(index_location=index_location),
        compressors=None,
    )
    assert isinstance(meta, ArrayMetadataV3)
    arr = await AsyncArray.create(store, "a", meta)
    await arr.setitem(..., sample())
    codec, io = _codec_for(meta)
    rng = np.random.default_rng(5)
    for coords in [(0, 0), (0, 1), (1, 0)]:
        key = "a/c/" + "/".join(map(str, coords))
        shard = codec.decode(store._data[key], codec.dtype, codec.shard_shape)
        extent = io._extent(coords)
        inside = shard[tuple(slice(0, e) for e in extent)]
        for _ in range(30):
            sel = tuple(
                int(rng.integers(0, e))
                if rng.integers(3) == 0
                else slice(int(rng.integers(0, e)), e, int(rng.integers(1, 5)))
                for e in extent
            )
            expected = inside[sel]
            target = np.empty(np.shape(expected), dtype="i4")
            await codec.read_into(
                store, key, sel, extent, target, max_nested_whole=nested_whole, max_gap=0
            )
            assert target.tobytes() == np.ascontiguousarray(expected).tobytes(), (key, sel)


@pytest.fixture(params=["memory", "s3"])
def memory_or_s3(request: pytest.FixtureRequest) -> Store:
    store: Store = request.getfixturevalue(f"{request.param}_store")
    return store


async def test_large_nested_shards_are_read_by_ranges_by_default(memory_or_s3: Store) -> None:
    # One shard of two nested shards of 768 x 256 float64 (1.5 MiB raw each, more than
    # NESTED_WHOLE_MAX_BYTES) in 12 x 4 inner chunks of 64 x 64 (32 KiB each).
    store = memory_or_s3
    meta = build_array_metadata(
        shape=(768, 512),
        dtype="f8",
        chunks=(768, 256),
        shards=(768, 512),
        serializer={
            "name": "sharding_indexed",
            "configuration": {"chunk_shape": [64, 64], "codecs": [BYTES]},
        },
        compressors=None,
    )
    arr = await AsyncArray.create(store, "a", meta)
    data = np.random.default_rng(1).random((768, 512))
    await arr.setitem(..., data)
    store.requests.reset()
    assert await arr.getitem((300, 400)) == data[300, 400]
    get = "GetObject" if store.requests.snapshot().get("GetObject") else "get"
    # The outer index, the nested shard's index, one 32 KiB inner chunk.
    assert store.requests.snapshot() == {get: 3}
    store.requests.reset()
    sel = (slice(0, 64), slice(128, 384))  # 2 inner chunks in each nested shard
    np.testing.assert_array_equal(await arr.getitem(sel), data[sel])
    assert store.requests.snapshot() == {get: 1 + 2 * 2}
    assert NESTED_WHOLE_MAX_BYTES < 768 * 256 * 8


async def test_partial_write_into_a_nested_shard_leaves_its_other_chunks_encoded_as_they_were() -> (
    None
):
    store = MemoryStore()
    meta = build_array_metadata(
        shape=SHAPE,
        dtype="i4",
        chunks=NESTED,
        shards=SHARDS,
        fill_value=FILL,
        serializer=nested_spec(codecs=[BYTES, {"name": "crc32c"}]),
        compressors=None,
    )
    arr = await AsyncArray.create(store, "a", meta)
    data = np.arange(20 * 15, dtype="i4").reshape(SHAPE)
    await arr.setitem(..., data)
    # Corrupt inner chunk (3, 1) of nested shard (0, 0) (its crc32c no longer matches).
    shard = bytearray(store._data["a/c/0/0"])
    base, length = (int(v) for v in _outer_index(bytes(shard), 4)[0])
    nested = bytes(shard[base : base + length])
    inner = np.frombuffer(nested[-(16 * 8 + 4) : -4], dtype="<u8").reshape(8, 2)
    off = base + int(inner[7, 0])
    shard[off] ^= 0xFF
    store._data["a/c/0/0"] = bytes(shard)
    corrupt = bytes(shard[off : off + int(inner[7, 1])])
    # A write to inner chunk (0, 0) re-encodes only that one: the corrupt bytes are not decoded.
    await arr.setitem((0, 0), 42)
    data[0, 0] = 42
    after = store._data["a/c/0/0"]
    assert corrupt in after
    np.testing.assert_array_equal(await arr.getitem((slice(0, 6), slice(0, 6))), data[:6, :6])
    with pytest.raises(
        ChunkDecodeError, match=r"a/c/0/0, nested shard \[0, 0\]'.*inner chunk \[3, 1\]"
    ):
        await arr.getitem((7, 4))
    # Two partial writes leave nested shard (0, 0) all fill: it leaves the outer index.
    await arr.setitem((slice(0, 8), slice(0, 3)), FILL)
    assert (_outer_index(store._data["a/c/0/0"], 4)[0] != MAX_UINT64).all()
    await arr.setitem((slice(0, 8), slice(3, 6)), FILL)
    assert (_outer_index(store._data["a/c/0/0"], 4)[0] == MAX_UINT64).all()
    data[0:8, 0:6] = FILL
    np.testing.assert_array_equal(await arr.getitem(...), data)
