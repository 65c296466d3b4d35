from __future__ import annotations

from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr.codecs as zc
import zarr.codecs.numcodecs as znc
from codec_zarr_chunks import NUMERIC, sample, zarr_read, zarr_write
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cloudzarr.codecs import BytesCodecChain, CodecPipeline
from cloudzarr.errors import ChunkDecodeError, UnsupportedCodecError
from cloudzarr.metadata import STRING_DTYPE, ArrayMetadataV3, CodecSpec

# (kwargs for zarr.create_array, dtypes to try)
V3_CODEC_CASES: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("default", {}, [*NUMERIC, str]),
    ("uncompressed", {"compressors": None}, NUMERIC),
    ("bytes-big", {"serializer": zc.BytesCodec(endian="big"), "compressors": None}, NUMERIC),
    ("transpose", {"filters": [zc.TransposeCodec(order=[1, 0])]}, ["int32", "float64", "bool"]),
    ("gzip", {"compressors": zc.GzipCodec(level=6)}, ["int16", "float32"]),
    ("zstd-checksum", {"compressors": zc.ZstdCodec(level=3, checksum=True)}, ["float64"]),
    (
        "blosc-shuffle",
        {"compressors": zc.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")},
        ["float32", "int64"],
    ),
    (
        "blosc-bitshuffle",
        {"compressors": zc.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")},
        ["uint8", "float32"],
    ),
    (
        "blosc-noshuffle",
        {"compressors": zc.BloscCodec(cname="zlib", clevel=1, shuffle="noshuffle")},
        ["int32"],
    ),
    ("crc32c", {"compressors": [zc.ZstdCodec(), zc.Crc32cCodec()]}, ["float32", str]),
    ("crc32c-only", {"compressors": [zc.Crc32cCodec()]}, ["uint16"]),
    (
        "numcodecs",
        {"filters": [znc.Delta(dtype="<i4")], "compressors": [znc.Zlib(level=3)]},
        ["int32"],
    ),
    ("numcodecs-lz4", {"compressors": [znc.LZ4()]}, ["float64"]),
    (
        "numcodecs-fixedscaleoffset",
        {"filters": [znc.FixedScaleOffset(offset=0, scale=10, dtype="<f8", astype="<i4")]},
        ["float64"],
    ),
    ("numcodecs-quantize", {"filters": [znc.Quantize(digits=2, dtype="<f8")]}, ["float64"]),
    (
        "numcodecs-astype",
        {"filters": [znc.AsType(encode_dtype="<f4", decode_dtype="<f8")]},
        ["float64"],
    ),
    ("numcodecs-bitround", {"filters": [znc.BitRound(keepbits=5)]}, ["float32"]),
]


_LOSSY = {"numcodecs.quantize", "numcodecs.bitround", "numcodecs.fixedscaleoffset"}


def _cases() -> list[Any]:
    return [
        pytest.param(kwargs, dtype, id=f"{name}-{getattr(dtype, '__name__', dtype)}")
        for name, kwargs, dtypes in V3_CODEC_CASES
        for dtype in dtypes
    ]


@pytest.mark.parametrize(("kwargs", "dtype"), _cases())
def test_zarr_python_v3_chunks_decode_and_encode_byte_exact(
    kwargs: dict[str, Any], dtype: Any
) -> None:
    data = sample(dtype)
    written = zarr_write(data, chunks=(3, 5), dtype=dtype, **kwargs)
    meta = written.metadata
    pipeline = CodecPipeline.from_metadata(meta)
    assert sorted(written.chunks) == ["c/0/0", "c/1/0"]
    # What zarr-python itself reads back (lossy filters change values).
    theirs = zarr_read(meta, written.chunks)
    for i, key in enumerate(["c/0/0", "c/1/0"]):
        decoded = pipeline.decode(written.chunks[key])
        assert decoded.dtype == meta.dtype and decoded.shape == (3, 5)
        np.testing.assert_array_equal(decoded, theirs[i * 3 : (i + 1) * 3])
        # Same numcodecs underneath: our encoding is byte-identical to zarr-python's.
        assert pipeline.encode(data[i * 3 : (i + 1) * 3]) == written.chunks[key]


@pytest.mark.parametrize(("kwargs", "dtype"), _cases())
def test_chunks_we_encode_read_back_in_zarr_python(kwargs: dict[str, Any], dtype: Any) -> None:
    data = sample(dtype)
    written = zarr_write(data, chunks=(3, 5), dtype=dtype, **kwargs)
    meta = written.metadata
    pipeline = CodecPipeline.from_metadata(meta)
    chunks = {meta.chunk_key((i, 0)): pipeline.encode(data[i * 3 : (i + 1) * 3]) for i in (0, 1)}
    np.testing.assert_array_equal(zarr_read(meta, chunks), zarr_read(meta, written.chunks))
    if not any(c.name in _LOSSY for c in meta.codecs):
        np.testing.assert_array_equal(zarr_read(meta, chunks), data)


def _meta(codecs: list[dict[str, Any]], dtype: str = "float32", shape=(4, 6)) -> ArrayMetadataV3:
    return ArrayMetadataV3(
        shape=shape, dtype=np.dtype(dtype), chunks=shape, fill_value=0, codecs=tuple(codecs)
    )


def test_crc32c_mismatch_is_a_chunk_decode_error() -> None:
    meta = _meta([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}])
    pipeline = CodecPipeline.from_metadata(meta)
    raw = bytearray(pipeline.encode(np.ones((4, 6), "f4")))
    raw[3] ^= 0xFF
    with pytest.raises(ChunkDecodeError, match="crc32c: checksum mismatch"):
        pipeline.decode(bytes(raw))
    with pytest.raises(ChunkDecodeError, match="crc32c"):
        pipeline.decode(b"\x00\x01")


@pytest.mark.parametrize(
    ("compressor", "name"),
    [
        ({"name": "zstd", "configuration": {"level": 1}}, "zstd"),
        ({"name": "gzip", "configuration": {"level": 1}}, "gzip"),
        (
            {
                "name": "blosc",
                "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 4},
            },
            "blosc",
        ),
    ],
)
def test_corrupt_and_truncated_chunks_name_the_codec(compressor: dict[str, Any], name: str) -> None:
    meta = _meta([{"name": "bytes", "configuration": {"endian": "little"}}, compressor])
    pipeline = CodecPipeline.from_metadata(meta)
    good = pipeline.encode(np.arange(24, dtype="f4").reshape(4, 6))
    for bad in (good[: len(good) // 2], b"garbage!" * 3):
        with pytest.raises(ChunkDecodeError, match=name):
            pipeline.decode(bad)
    # gzip turns b"" into b"": then the size check names the serialiser instead.
    with pytest.raises(ChunkDecodeError, match=f"{name}|bytes"):
        pipeline.decode(b"")


def test_uncompressed_chunk_of_wrong_size_is_refused() -> None:
    pipeline = CodecPipeline.from_metadata(
        _meta([{"name": "bytes", "configuration": {"endian": "little"}}])
    )
    with pytest.raises(ChunkDecodeError, match=r"codec bytes: expected 96 bytes"):
        pipeline.decode(b"\x00" * 95)


def test_vlen_utf8_garbage_is_a_chunk_decode_error() -> None:
    meta = ArrayMetadataV3(
        shape=(3,), dtype=STRING_DTYPE, chunks=(3,), fill_value="", codecs=({"name": "vlen-utf8"},)
    )
    pipeline = CodecPipeline.from_metadata(meta)
    with pytest.raises(ChunkDecodeError, match="vlen-utf8"):
        pipeline.decode(b"\xff\xff\xff\x7f")
    good = pipeline.encode(np.array(["a", "b"], dtype=object))
    with pytest.raises(ChunkDecodeError, match="vlen-utf8: header says 2 strings"):
        pipeline.decode(good)


def test_string_pipeline_accepts_object_and_unicode_arrays() -> None:
    meta = ArrayMetadataV3(
        shape=(3,),
        dtype=STRING_DTYPE,
        chunks=(3,),
        fill_value="",
        codecs=({"name": "vlen-utf8"}, {"name": "zstd"}),
    )
    pipeline = CodecPipeline.from_metadata(meta)
    expected = pipeline.encode(np.array(["a", "bé", ""], dtype=STRING_DTYPE))
    assert pipeline.encode(np.array(["a", "bé", ""], dtype=object)) == expected
    assert pipeline.encode(np.array(["a", "bé", ""])) == expected
    out = pipeline.decode(expected)
    assert out.dtype == STRING_DTYPE and out.tolist() == ["a", "bé", ""]


def test_big_endian_decodes_to_native_dtype() -> None:
    meta = _meta([{"name": "bytes", "configuration": {"endian": "big"}}], dtype="int32")
    pipeline = CodecPipeline.from_metadata(meta)
    data = np.arange(24, dtype="i4").reshape(4, 6)
    raw = pipeline.encode(data)
    assert raw == data.astype(">i4").tobytes()
    out = pipeline.decode(raw)
    assert out.dtype == np.dtype("int32") and out.dtype.isnative
    np.testing.assert_array_equal(out, data)


def test_transpose_stores_permuted_bytes() -> None:
    meta = _meta(
        [
            {"name": "transpose", "configuration": {"order": [1, 0]}},
            {"name": "bytes", "configuration": {"endian": "little"}},
        ],
        dtype="int16",
    )
    pipeline = CodecPipeline.from_metadata(meta)
    data = np.arange(24, dtype="i2").reshape(4, 6)
    raw = pipeline.encode(data)
    assert raw == np.ascontiguousarray(data.T).tobytes()
    np.testing.assert_array_equal(pipeline.decode(raw), data)


def test_encode_casts_other_dtypes_and_accepts_non_contiguous_input() -> None:
    pipeline = CodecPipeline.from_metadata(
        _meta(
            [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
            dtype="float64",
        )
    )
    base = np.arange(48, dtype="i4").reshape(8, 6)
    view = base[::2]
    np.testing.assert_array_equal(pipeline.decode(pipeline.encode(view)), view.astype("f8"))


def test_sharding_index_pipeline_has_a_fixed_size() -> None:
    index = CodecPipeline.from_v3(
        [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
        np.dtype("uint64"),
        (2, 2, 2),
    )
    assert index.encoded_size() == 2 * 2 * 2 * 8 + 4
    offsets = np.array([[[0, 10], [10, 20]], [[2**64 - 1, 2**64 - 1], [30, 5]]], dtype="u8")
    raw = index.encode(offsets)
    assert len(raw) == index.encoded_size()
    np.testing.assert_array_equal(index.decode(raw), offsets)
    compressed = CodecPipeline.from_v3(
        [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
        np.dtype("u8"),
        (2, 2),
    )
    assert compressed.encoded_size() is None


def test_bytes_chain_on_raw_bytes() -> None:
    chain = BytesCodecChain.from_v3(
        [CodecSpec("zstd", {"level": 1, "checksum": False}), CodecSpec("crc32c")]
    )
    raw = b"hello world" * 100
    assert bytes(chain.decode(chain.encode(raw))) == raw
    assert BytesCodecChain.from_v3([CodecSpec("crc32c")]).encoded_size(100) == 104
    assert chain.encoded_size(100) is None
    with pytest.raises(UnsupportedCodecError):
        BytesCodecChain.from_v3([CodecSpec("bytes", {"endian": "little"})])


def test_sharding_without_registered_implementation_is_unsupported() -> None:
    import cloudzarr.codecs.v3 as v3

    spec = CodecSpec(
        "sharding_indexed",
        {
            "chunk_shape": (2,),
            "codecs": (CodecSpec("bytes", {"endian": "little"}),),
            "index_codecs": (CodecSpec("bytes", {"endian": "little"}), CodecSpec("crc32c")),
            "index_location": "end",
        },
    )
    saved = v3._ARRAY_BYTES_FACTORIES.pop("sharding_indexed", None)
    try:
        with pytest.raises(UnsupportedCodecError, match="sharding_indexed"):
            CodecPipeline.from_v3([spec], np.dtype("i4"), (4,))
    finally:
        if saved is not None:
            v3._ARRAY_BYTES_FACTORIES["sharding_indexed"] = saved


def test_inner_pipeline_from_json_sub_list() -> None:
    pipeline = CodecPipeline.from_v3(
        [
            {"name": "bytes", "configuration": {"endian": "little"}},
            {"name": "gzip", "configuration": {"level": 1}},
        ],
        np.dtype("f4"),
        (2, 3),
    )
    data = np.arange(6, dtype="f4").reshape(2, 3)
    np.testing.assert_array_equal(pipeline.decode(pipeline.encode(data)), data)
    # decode at another shape (the pipeline itself is shape-agnostic for these codecs)
    np.testing.assert_array_equal(
        pipeline.decode(pipeline.encode(data.ravel()), (6,)), data.ravel()
    )


@settings(max_examples=40, deadline=None)
@given(
    data=hnp.arrays(
        dtype=st.sampled_from([np.dtype(n) for n in NUMERIC]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
    ),
    endian=st.sampled_from(["little", "big"]),
    compressor=st.sampled_from(
        [
            [],
            [{"name": "zstd", "configuration": {"level": 1, "checksum": True}}],
            [{"name": "gzip", "configuration": {"level": 1}}],
            [
                {
                    "name": "blosc",
                    "configuration": {"cname": "lz4", "clevel": 1, "shuffle": "bitshuffle"},
                }
            ],
            [{"name": "zstd"}, {"name": "crc32c"}],
        ]
    ),
    transpose=st.booleans(),
)
def test_round_trip_any_array(
    data: np.ndarray, endian: str, compressor: list[Any], transpose: bool
) -> None:
    codecs: list[Any] = []
    if transpose:
        codecs.append(
            {"name": "transpose", "configuration": {"order": list(range(data.ndim))[::-1]}}
        )
    codecs.append({"name": "bytes", "configuration": {"endian": endian}})
    codecs.extend(compressor)
    pipeline = CodecPipeline.from_v3(codecs, data.dtype, data.shape)
    out = pipeline.decode(pipeline.encode(data))
    assert out.dtype == data.dtype and out.shape == data.shape
    assert out.tobytes() == data.tobytes()  # bitwise, NaNs included


DIRECT_CASES = [
    [{"name": "bytes", "configuration": {"endian": "little"}}],
    [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
    [
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "zstd", "configuration": {"level": 3, "checksum": True}},
        {"name": "crc32c"},
    ],
    [
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}},
    ],
    [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "numcodecs.lz4"}],
    [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "gzip"}],
    [{"name": "bytes", "configuration": {"endian": "big"}}, {"name": "zstd"}],
    [
        {"name": "transpose", "configuration": {"order": [1, 0]}},
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "zstd"},
    ],
]


@pytest.mark.parametrize("codecs", DIRECT_CASES)
def test_decode_into_matches_decode(codecs: list[Any]) -> None:
    pipeline = CodecPipeline.from_v3(codecs, np.dtype("f4"), (64, 48))
    data = np.random.default_rng(0).random((64, 48), dtype="f4")
    raw = pipeline.encode(data)
    out = np.empty((64, 48), "f4")
    pipeline.decode_into(raw, out)
    np.testing.assert_array_equal(out, data)
    # A view into a bigger array (not contiguous) takes the copying path.
    big = np.zeros((64, 96), "f4")
    pipeline.decode_into(raw, big[:, ::2])
    np.testing.assert_array_equal(big[:, ::2], data)


@pytest.mark.parametrize("codecs", DIRECT_CASES[1:6])
def test_decode_into_refuses_a_chunk_of_another_size(codecs: list[Any]) -> None:
    small = CodecPipeline.from_v3(codecs, np.dtype("f4"), (32, 48))
    raw = small.encode(np.ones((32, 48), "f4"))
    pipeline = CodecPipeline.from_v3(codecs, np.dtype("f4"), (64, 48))
    out = np.full((64, 48), 7, "f4")
    with pytest.raises(ChunkDecodeError):
        pipeline.decode_into(raw, out)
    with pytest.raises(ChunkDecodeError):
        pipeline.decode_into(raw[: len(raw) // 2], out)


@pytest.mark.parametrize(
    "codec",
    [
        {"name": "zstd"},
        {"name": "gzip"},
        {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}},
        {"name": "numcodecs.lz4"},
        {"name": "numcodecs.zlib"},
    ],
)
def test_numcodecs_decode_into_a_larger_buffer_is_refused(codec: dict[str, Any]) -> None:
    # Plain numcodecs leaves the tail of a too-large `out` untouched and reports success; the
    # codecs the pipelines hold refuse instead, for anyone decoding into their own buffers.
    pipeline = CodecPipeline.from_v3(
        [{"name": "bytes", "configuration": {"endian": "little"}}, codec], np.dtype("f4"), (10,)
    )
    inner = pipeline.bytes_chain.codecs[0].codec  # type: ignore[attr-defined]
    raw = pipeline.encode(np.arange(10, dtype="f4"))
    exact = np.empty(10, "f4")
    assert inner.decode(raw, out=exact) is exact
    np.testing.assert_array_equal(exact, np.arange(10, dtype="f4"))
    with pytest.raises(ChunkDecodeError, match="expected 44"):
        inner.decode(raw, out=np.empty(11, "f4"))
    with pytest.raises(ValueError, match="contiguous"):
        inner.decode(raw, out=np.empty(20, "f4")[::2])


def test_concatenated_zstd_frames_still_decode() -> None:
    # numcodecs decodes multi-frame zstd; the size checks must not refuse such chunks.
    pipeline = CodecPipeline.from_v3(
        [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
        np.dtype("u1"),
        (150,),
    )
    zstd = numcodecs.Zstd()
    data = np.arange(150, dtype="u1")
    raw = zstd.encode(data[:100]) + zstd.encode(data[100:])
    np.testing.assert_array_equal(pipeline.decode(raw), data)
    out = np.empty(150, "u1")
    pipeline.decode_into(raw, out)
    np.testing.assert_array_equal(out, data)
    inner = pipeline.bytes_chain.codecs[0].codec  # type: ignore[attr-defined]
    out2 = np.empty(150, "u1")
    inner.decode(raw, out=out2)
    np.testing.assert_array_equal(out2, data)


def test_frame_announcing_too_much_is_refused_before_decompressing() -> None:
    pipeline = CodecPipeline.from_v3(
        [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
        np.dtype("u1"),
        (10,),
    )
    raw = numcodecs.Zstd().encode(np.zeros(1000, "u1"))
    with pytest.raises(ChunkDecodeError, match="zstd: frame holds 1000 bytes, expected 10"):
        pipeline.decode(raw)
    with pytest.raises(ChunkDecodeError, match="frame holds 1000 bytes"):
        pipeline.decode_into(raw, np.empty(10, "u1"))
