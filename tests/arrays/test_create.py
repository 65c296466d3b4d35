"""build_array_metadata: defaults, auto chunking and validation naming the argument."""

from __future__ import annotations

import math

import numcodecs
import numpy as np
import pytest

from cloudzarr.arrays import build_array_metadata
from cloudzarr.arrays.create import guess_chunks
from cloudzarr.errors import InvalidMetadataError, UnsupportedCodecError, UnsupportedFormatError
from cloudzarr.metadata.array_v2 import ArrayMetadataV2
from cloudzarr.metadata.array_v3 import ArrayMetadataV3, ChunkKeyEncoding
from cloudzarr.storage import MemoryStore


def test_v3_defaults_match_zarr_python() -> None:
    meta = build_array_metadata(shape=(100, 80), dtype="float32", chunks=(10, 10))
    assert isinstance(meta, ArrayMetadataV3)
    doc = meta.to_dict()
    assert doc["codecs"] == [
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "zstd", "configuration": {"level": 0, "checksum": False}},
    ]
    assert doc["fill_value"] == 0.0
    assert doc["chunk_key_encoding"] == {"name": "default", "configuration": {"separator": "/"}}


def test_v2_defaults_and_options() -> None:
    meta = build_array_metadata(
        shape=(10,),
        dtype="<i8",
        zarr_format=2,
        compressors=numcodecs.GZip(level=4),
        chunk_key_encoding="/",
        order="F",
    )
    assert isinstance(meta, ArrayMetadataV2)
    assert dict(meta.compressor or {}) == {"id": "gzip", "level": 4}
    assert meta.dimension_separator == "/" and meta.order == "F"


def test_sharded_layout() -> None:
    meta = build_array_metadata(shape=(100,), dtype="u1", chunks=(10,), shards=(50,))
    assert isinstance(meta, ArrayMetadataV3)
    assert meta.chunks == (50,)
    cfg = meta.codecs[0].configuration
    assert meta.codecs[0].name == "sharding_indexed" and tuple(cfg["chunk_shape"]) == (10,)
    assert [c.name for c in cfg["index_codecs"]] == ["bytes", "crc32c"]
    assert cfg["index_location"] == "end"


@pytest.mark.parametrize(
    ("shape", "itemsize"), [((1000, 1000, 100), 4), ((10_000,), 8), ((3, 5), 1), ((0, 7), 2)]
)
def test_guessed_chunks_are_sane(shape: tuple[int, ...], itemsize: int) -> None:
    chunks = guess_chunks(shape, itemsize)
    assert len(chunks) == len(shape)
    assert all(1 <= c <= max(n, 1) for c, n in zip(chunks, shape, strict=True))
    assert math.prod(chunks) * itemsize <= 64 * 2**20
    if math.prod(shape) * itemsize <= 128 * 2**10:
        assert chunks == tuple(max(n, 1) for n in shape)  # small arrays: one chunk


def test_auto_chunks_when_none() -> None:
    meta = build_array_metadata(shape=(4000, 4000), dtype="f8")
    assert meta.chunks == guess_chunks((4000, 4000), 8)
    assert math.prod(meta.chunks) < 4000 * 4000


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"chunks": (3,), "shards": (8,)}, InvalidMetadataError, "shards"),
        ({"chunks": (0,)}, InvalidMetadataError, "chunks"),
        ({"chunks": (2, 2)}, InvalidMetadataError, "chunks"),
        ({"shape": (-1,)}, InvalidMetadataError, "shape"),
        ({"zarr_format": 2, "shards": (4,)}, InvalidMetadataError, "shards"),
        ({"zarr_format": 2, "dimension_names": ["x"]}, InvalidMetadataError, "dimension_names"),
        ({"zarr_format": 4}, UnsupportedFormatError, "zarr_format"),
        ({"compressors": {"name": "nope"}}, UnsupportedCodecError, "nope"),
    ],
)
def test_invalid_arguments_name_the_field(
    kwargs: dict[str, object], error: type[Exception], field: str
) -> None:
    args: dict[str, object] = {"shape": (10,), "dtype": "i4", **kwargs}
    with pytest.raises(error, match=field):
        build_array_metadata(**args)  # type: ignore[arg-type]


async def test_sharding_must_be_the_only_codec() -> None:
    from cloudzarr.arrays import AsyncArray
    from cloudzarr.metadata.codec_specs import CodecSpec

    base = build_array_metadata(shape=(8,), dtype="i2", chunks=(2,), shards=(4,))
    assert isinstance(base, ArrayMetadataV3)
    meta = ArrayMetadataV3(
        shape=(8,),
        dtype=np.dtype("i2"),
        chunks=(4,),
        fill_value=0,
        codecs=(*base.codecs, CodecSpec("crc32c")),
        chunk_key_encoding=ChunkKeyEncoding(),
    )
    with pytest.raises(UnsupportedCodecError, match="only codec"):
        AsyncArray(MemoryStore(), "a", meta)
