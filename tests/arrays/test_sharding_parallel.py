"""Whole-shard reads decode inner chunks in parallel, in place; results equal the serial path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cloudzarr.arrays import AsyncArray, build_array_metadata
from cloudzarr.arrays.chunk_io import ShardedChunkIO
from cloudzarr.config import config
from cloudzarr.storage import MemoryStore

DTYPES = ["bool", "u1", "i2", "u4", "i8", "f2", "f4", ">f8", "c8", "c16"]
CODECS: dict[str, Any] = {
    "zstd": "auto",
    "none": None,
    "gzip": {"name": "gzip", "configuration": {"level": 1}},
    "blosc": {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5}},
    "zstd+crc32c": [{"name": "zstd"}, {"name": "crc32c"}],
}
SHAPE = (70, 45)  # partial edge shards and inner chunks
CHUNKS = (8, 5)
SHARDS = (32, 20)  # 4 x 4 inner chunks per shard


def _data(dtype: str) -> np.ndarray:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 50, SHAPE)
    if dtype == "str":
        return np.array([f"s{v}" * (v % 4) for v in values.ravel()], dtype=object).reshape(SHAPE)
    arr = values.astype(np.dtype(dtype))
    arr[5:13, 10:20] = 0  # whole inner chunks of fill value: absent in the shard
    return arr


# Strings: the vlen-utf8 serialiser with the default compressor.
CASES = [(d, c) for d in DTYPES for c in CODECS] + [("str", "zstd")]


@pytest.mark.parametrize(("dtype", "codec"), CASES)
async def test_parallel_shard_decode_equals_serial(dtype: str, codec: str) -> None:
    store = MemoryStore()
    meta = build_array_metadata(
        shape=SHAPE,
        dtype=dtype,
        chunks=CHUNKS,
        shards=SHARDS,
        compressors=CODECS[codec],
        fill_value="" if dtype == "str" else 0,
    )
    data = _data(dtype)
    with config.set({"codec.threads": 3}):
        arr = await AsyncArray.create(store, "a", meta)
        await arr.setitem(..., data)  # whole shards: inner chunks encoded in parallel
        io = arr._chunk_io
        assert isinstance(io, ShardedChunkIO)
        # The serial path: each shard decoded inner chunk after inner chunk into a new array.
        serial = np.empty(SHAPE, dtype=arr.dtype)
        for i in range(0, SHAPE[0], SHARDS[0]):
            for j in range(0, SHAPE[1], SHARDS[1]):
                key = f"a/c/{i // SHARDS[0]}/{j // SHARDS[1]}"
                shard = io.codec.decode(store._data[key], arr.dtype, SHARDS)
                part = serial[i : i + SHARDS[0], j : j + SHARDS[1]]
                part[...] = shard[: part.shape[0], : part.shape[1]]
        parallel = await arr.getitem(...)
        np.testing.assert_array_equal(parallel, serial)
        np.testing.assert_array_equal(parallel, data.astype(arr.dtype))
        # A selection needing every inner chunk of a shard, but not all of each.
        np.testing.assert_array_equal(
            await arr.getitem((slice(1, 31), slice(1, 19))), serial[1:31, 1:19]
        )
        np.testing.assert_array_equal(await arr.getitem((slice(None), 7)), serial[:, 7])


async def test_sharding_is_a_registered_serialiser() -> None:
    from cloudzarr.arrays.sharding import ShardingCodec
    from cloudzarr.codecs.pipeline import CodecPipeline, V3CodecPipeline

    store = MemoryStore()
    meta = build_array_metadata(shape=(32, 20), dtype="i2", chunks=(8, 5), shards=(32, 20))
    arr = await AsyncArray.create(store, "a", meta)
    data = np.arange(640, dtype="i2").reshape(32, 20)
    data[:8, :5] = 0  # one absent inner chunk: reads as the fill value
    await arr.setitem(..., data)
    pipeline = CodecPipeline.from_metadata(arr.metadata)
    assert isinstance(pipeline, V3CodecPipeline)
    assert isinstance(pipeline.array_bytes, ShardingCodec)
    np.testing.assert_array_equal(pipeline.decode(store._data["a/c/0/0"]), data)
