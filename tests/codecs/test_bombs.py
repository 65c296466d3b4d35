"""Decompression bombs and absurd shard indexes are refused within bounded memory."""

from __future__ import annotations

import json
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import numcodecs
import numpy as np
import pytest

from cloudzarr.arrays import AsyncArray, build_array_metadata
from cloudzarr.codecs.bounded import decode_at_most, decode_exact
from cloudzarr.errors import ChunkDecodeError, InvalidMetadataError
from cloudzarr.storage import MemoryStore

GiB = 2**30
CHUNK = (512, 512)  # float32: 1 MiB decoded
CHUNK_NBYTES = 512 * 512 * 4


def zstd_bomb(nbytes: int) -> bytes:
    """A zstd frame declaring no content size, of RLE blocks: 4 bytes per 128 KiB of zeros."""
    header = (0xFD2FB528).to_bytes(4, "little") + bytes([0x00, (17 - 10) << 3])
    blocks = nbytes // 2**17
    rle = (1 << 1) | (2**17 << 3)
    body = bytearray()
    for i in range(blocks):
        body += (rle | (1 if i == blocks - 1 else 0)).to_bytes(3, "little") + b"\x00"
    return header + bytes(body)


def deflate_bomb(nbytes: int, wbits: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(2**20)
    parts = [comp.compress(block) for _ in range(nbytes // 2**20)]
    return b"".join(parts) + comp.flush()


def test_zstd_bomb_is_a_small_valid_frame() -> None:
    bomb = zstd_bomb(GiB)
    assert len(bomb) < 33_000
    # The frame is valid: decoding a small prefix of it works.
    assert bytes(decode_at_most(numcodecs.Zstd(), "zstd", zstd_bomb(2**18), 2**18)) == bytes(2**18)


def _peak_during(func: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        func()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


BOMBS: dict[str, tuple[Any, Callable[[], bytes]]] = {
    "zstd": ("zstd", lambda: zstd_bomb(GiB)),
    "gzip": ("gzip", lambda: deflate_bomb(256 * 2**20, 31)),
}


@pytest.mark.parametrize("codec", list(BOMBS))
async def test_bomb_in_a_chunk_is_refused_in_bounded_memory(codec: str) -> None:
    store = MemoryStore()
    meta = build_array_metadata(shape=(1024, 512), dtype="f4", chunks=CHUNK, compressors=codec)
    arr = await AsyncArray.create(store, "a", meta)
    await arr.setitem(..., 1.0)
    store._data["a/c/1/0"] = BOMBS[codec][1]()

    async def read(selection: Any) -> None:
        with pytest.raises(ChunkDecodeError, match=r"'/a'.*a/c/1/0"):
            await arr.getitem(selection)

    for selection in [(slice(512, 1024),), (slice(600, 700), slice(3, 9))]:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            await read(selection)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        assert peak < 2 * CHUNK_NBYTES, peak
    assert (await arr.getitem(slice(0, 512)) == 1.0).all()


@pytest.mark.parametrize(
    ("codec", "data"),
    [
        (numcodecs.Zstd(), lambda: zstd_bomb(GiB)),
        (numcodecs.GZip(), lambda: deflate_bomb(64 * 2**20, 31)),
        (numcodecs.Zlib(), lambda: deflate_bomb(64 * 2**20, 15)),
        (numcodecs.BZ2(), lambda: numcodecs.BZ2().encode(bytes(16 * 2**20))),
        (numcodecs.LZMA(), lambda: numcodecs.LZMA().encode(bytes(16 * 2**20))),
    ],
    ids=["zstd", "gzip", "zlib", "bz2", "lzma"],
)
def test_bounded_decoders_stop_at_the_limit(codec: Any, data: Callable[[], bytes]) -> None:
    raw = data()
    limit = 2**20
    # lzma's decoder holds its dictionary (8 MiB at the default preset) whatever the output.
    own = 9 * 2**20 if codec.codec_id == "lzma" else 0
    for decode in (decode_exact, decode_at_most):

        def run(decode: Callable[..., Any] = decode) -> None:
            with pytest.raises(ChunkDecodeError):
                decode(codec, "c", raw, limit)

        peak = _peak_during(run)
        assert peak < 2 * limit + own, (decode.__name__, peak)


@pytest.mark.parametrize(
    "codec",
    [
        numcodecs.Zstd(),
        numcodecs.GZip(),
        numcodecs.Zlib(),
        numcodecs.BZ2(),
        numcodecs.LZMA(),
        numcodecs.LZ4(),
        numcodecs.Blosc(),
    ],
    ids=lambda c: c.codec_id,
)
def test_bounded_decoders_decode_exact_and_shorter_data(codec: Any) -> None:
    data = np.arange(10_000, dtype="i4")
    raw = codec.encode(data)
    assert bytes(decode_exact(codec, "c", raw, data.nbytes)) == data.tobytes()
    assert bytes(decode_at_most(codec, "c", raw, data.nbytes + 100)) == data.tobytes()
    with pytest.raises(ChunkDecodeError):
        decode_exact(codec, "c", raw, data.nbytes + 4)
    with pytest.raises(ChunkDecodeError):
        decode_exact(codec, "c", raw, data.nbytes - 4)
    with pytest.raises(ChunkDecodeError):
        decode_at_most(codec, "c", raw, data.nbytes - 4)


def test_v2_bomb_is_refused() -> None:
    from cloudzarr.codecs.pipeline import CodecPipeline

    pipeline = CodecPipeline.from_v2({"id": "zlib", "level": 1}, None, np.dtype("f4"), "C", CHUNK)
    raw = deflate_bomb(64 * 2**20, 15)
    out = np.empty(CHUNK, "f4")
    with pytest.raises(ChunkDecodeError, match="zlib"):
        pipeline.decode_into(raw, out)
    with pytest.raises(ChunkDecodeError, match="zlib"):
        pipeline.decode(raw)


def _absurd_sharded_document(chunks_per_side: int) -> bytes:
    doc = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [chunks_per_side, chunks_per_side],
        "data_type": "uint8",
        "chunk_grid": {
            "name": "regular",
            "configuration": {"chunk_shape": [chunks_per_side, chunks_per_side]},
        },
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": [1, 1],
                    "codecs": [{"name": "bytes"}],
                    "index_codecs": [
                        {"name": "bytes", "configuration": {"endian": "little"}},
                        {"name": "crc32c"},
                    ],
                    "index_location": "end",
                },
            }
        ],
        "attributes": {},
    }
    return json.dumps(doc).encode()


async def test_absurd_shard_index_is_refused_without_allocating_it() -> None:
    store = MemoryStore()
    store._data["big/zarr.json"] = _absurd_sharded_document(2**13)  # 2^26 inner chunks
    tracemalloc.start()
    try:
        with pytest.raises(InvalidMetadataError, match="67108864 inner chunks"):
            await AsyncArray.open(store, "big")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak
