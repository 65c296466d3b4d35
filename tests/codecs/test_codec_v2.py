from __future__ import annotations

from typing import Any

import numcodecs
import numpy as np
import pytest
from codec_zarr_chunks import NUMERIC, sample, zarr_read, zarr_write
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cloudzarr.codecs import CodecPipeline, V2CodecPipeline
from cloudzarr.errors import ChunkDecodeError, UnsupportedCodecError
from cloudzarr.metadata import STRING_DTYPE

V2_CASES: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("default", {}, [*NUMERIC, ">i4", ">f8", str]),
    ("none", {"compressors": None}, ["int16", ">u4", "complex128"]),
    ("blosc", {"compressors": numcodecs.Blosc(cname="lz4", clevel=5)}, ["float32", "uint8"]),
    (
        "blosc-bitshuffle",
        {"compressors": numcodecs.Blosc(cname="zstd", shuffle=numcodecs.Blosc.BITSHUFFLE)},
        ["int64"],
    ),
    ("gzip", {"compressors": numcodecs.GZip(level=4)}, ["float64", str]),
    ("zlib", {"compressors": numcodecs.Zlib(level=2)}, ["int32"]),
    ("lz4", {"compressors": numcodecs.LZ4()}, ["float32"]),
    ("bz2", {"compressors": numcodecs.BZ2(level=1)}, ["uint16"]),
    ("lzma", {"compressors": numcodecs.LZMA()}, ["int8"]),
    ("zstd-checksum", {"compressors": numcodecs.Zstd(level=2, checksum=True)}, ["float64"]),
    (
        "delta+zlib",
        {"filters": [numcodecs.Delta(dtype="<i4")], "compressors": numcodecs.Zlib()},
        ["int32"],
    ),
    (
        "fixedscaleoffset",
        {
            "filters": [numcodecs.FixedScaleOffset(offset=0, scale=10, dtype="<f8", astype="<i4")],
            "compressors": None,
        },
        ["float64"],
    ),
    ("order-F", {"order": "F"}, ["int32", "complex64", str]),
    ("order-F-none", {"order": "F", "compressors": None}, ["float64"]),
]


def _cases() -> list[Any]:
    return [
        pytest.param(kwargs, dtype, id=f"{name}-{getattr(dtype, '__name__', dtype)}")
        for name, kwargs, dtypes in V2_CASES
        for dtype in dtypes
    ]


def _data(dtype: Any) -> np.ndarray:
    data = sample(dtype)
    if isinstance(dtype, str) and dtype.startswith(">"):
        data = data.astype(dtype)
    return data


@pytest.mark.parametrize(("kwargs", "dtype"), _cases())
def test_zarr_python_v2_chunks_decode_and_encode_byte_exact(
    kwargs: dict[str, Any], dtype: Any
) -> None:
    data = _data(dtype)
    written = zarr_write(data, chunks=(3, 5), dtype=dtype, zarr_format=2, **kwargs)
    meta = written.metadata
    pipeline = CodecPipeline.from_metadata(meta)
    assert sorted(written.chunks) == ["0.0", "1.0"]
    for i, key in enumerate(["0.0", "1.0"]):
        expected = data[i * 3 : (i + 1) * 3]
        decoded = pipeline.decode(written.chunks[key])
        assert decoded.dtype == meta.dtype and decoded.shape == (3, 5)
        np.testing.assert_array_equal(decoded, expected)
        out = np.empty((3, 5), dtype=meta.dtype, order=meta.order)
        pipeline.decode_into(written.chunks[key], out)
        np.testing.assert_array_equal(out, expected)
        assert pipeline.encode(expected) == written.chunks[key]


@pytest.mark.parametrize(("kwargs", "dtype"), _cases())
def test_chunks_we_encode_read_back_in_zarr_python(kwargs: dict[str, Any], dtype: Any) -> None:
    data = _data(dtype)
    meta = zarr_write(data, chunks=(3, 5), dtype=dtype, zarr_format=2, **kwargs).metadata
    pipeline = CodecPipeline.from_metadata(meta)
    chunks = {meta.chunk_key((i, 0)): pipeline.encode(data[i * 3 : (i + 1) * 3]) for i in (0, 1)}
    np.testing.assert_array_equal(zarr_read(meta, chunks), data)


def test_order_f_stores_fortran_bytes() -> None:
    pipeline = V2CodecPipeline.from_v2(None, None, np.dtype("<i2"), "F", (2, 3))
    data = np.arange(6, dtype="<i2").reshape(2, 3)
    raw = pipeline.encode(data)
    assert raw == data.tobytes(order="F")
    np.testing.assert_array_equal(pipeline.decode(raw), data)


def test_instances_and_configs_are_equivalent() -> None:
    a = CodecPipeline.from_v2(numcodecs.Zstd(level=1), [numcodecs.Delta("<i4")], np.dtype("<i4"))
    b = CodecPipeline.from_v2(
        {"id": "zstd", "level": 1}, [{"id": "delta", "dtype": "<i4"}], np.dtype("<i4")
    )
    data = np.arange(100, dtype="<i4")
    assert a.encode(data) == b.encode(data)


def test_unknown_numcodecs_id_is_refused() -> None:
    with pytest.raises(UnsupportedCodecError, match="compressor"):
        CodecPipeline.from_v2({"id": "not-a-codec"}, None, np.dtype("f4"))
    with pytest.raises(UnsupportedCodecError, match=r"filters\[0\]"):
        CodecPipeline.from_v2(None, [{"id": "nope"}], np.dtype("f4"))


@pytest.mark.parametrize(
    "compressor",
    [numcodecs.Zstd(), numcodecs.Blosc(), numcodecs.GZip(), numcodecs.Zlib(), numcodecs.LZ4()],
)
def test_corrupt_and_truncated_chunks(compressor: Any) -> None:
    pipeline = CodecPipeline.from_v2(compressor, None, np.dtype("<f8"), "C", (10, 10))
    good = pipeline.encode(np.random.default_rng(1).random((10, 10)))
    for bad in (good[: len(good) // 2], b"\x00garbage" * 4):
        with pytest.raises(ChunkDecodeError, match=compressor.codec_id):
            pipeline.decode(bad)
        with pytest.raises(ChunkDecodeError):
            pipeline.decode_into(bad, np.empty((10, 10)))


def test_wrong_size_uncompressed_and_string_chunks() -> None:
    pipeline = CodecPipeline.from_v2(None, None, np.dtype("<u2"), "C", (4,))
    with pytest.raises(ChunkDecodeError, match="expected 8 bytes"):
        pipeline.decode(b"\x00" * 6)
    strings = CodecPipeline.from_v2(None, [{"id": "vlen-utf8"}], STRING_DTYPE, "C", (3,))
    raw = strings.encode(np.array(["a", "b", "c"], dtype=object))
    np.testing.assert_array_equal(
        strings.decode(raw), np.array(["a", "b", "c"], dtype=STRING_DTYPE)
    )
    with pytest.raises(ChunkDecodeError, match="vlen-utf8"):
        strings.decode(raw, (4,))
    with pytest.raises(ChunkDecodeError, match="vlen-utf8"):
        strings.decode(b"\xff\xff\xff\x7f")


def test_string_array_without_vlen_filter_cannot_be_encoded() -> None:
    pipeline = CodecPipeline.from_v2({"id": "zstd", "level": 0}, None, STRING_DTYPE, "C", (2,))
    with pytest.raises(UnsupportedCodecError, match="vlen-utf8"):
        pipeline.encode(np.array(["a", "b"], dtype=object))


@settings(max_examples=40, deadline=None)
@given(
    data=hnp.arrays(
        dtype=st.sampled_from(
            [np.dtype(n) for n in ("<i2", ">i4", "<u8", "<f4", ">f8", "<c8", "|b1")]
        ),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
    ),
    order=st.sampled_from(["C", "F"]),
    compressor=st.sampled_from(
        [
            None,
            {"id": "zstd", "level": 1},
            {"id": "blosc", "cname": "lz4", "shuffle": 2},
            {"id": "zlib", "level": 1},
        ]
    ),
)
def test_v2_round_trip_any_array(data: np.ndarray, order: str, compressor: Any) -> None:
    pipeline = CodecPipeline.from_v2(compressor, None, data.dtype, order, data.shape)  # type: ignore[arg-type]
    raw = pipeline.encode(data)
    out = pipeline.decode(raw)
    assert out.dtype == data.dtype and out.shape == data.shape
    assert np.ascontiguousarray(out).tobytes() == np.ascontiguousarray(data).tobytes()
    into = np.empty(data.shape, dtype=data.dtype, order=order)  # type: ignore[call-overload]
    pipeline.decode_into(raw, into)
    assert np.ascontiguousarray(into).tobytes() == np.ascontiguousarray(data).tobytes()


@settings(max_examples=30, deadline=None)
@given(
    strings=st.lists(st.text(st.characters(blacklist_categories=("Cs",))), min_size=1, max_size=12),
    order=st.sampled_from(["C", "F"]),
)
def test_strings_round_trip_both_formats(strings: list[str], order: str) -> None:
    arr = np.array(strings, dtype=STRING_DTYPE)
    v2 = CodecPipeline.from_v2(
        {"id": "zstd", "level": 0}, [{"id": "vlen-utf8"}], STRING_DTYPE, order, arr.shape
    )  # type: ignore[arg-type]
    v3 = CodecPipeline.from_v3([{"name": "vlen-utf8"}, {"name": "zstd"}], STRING_DTYPE, arr.shape)
    for pipeline in (v2, v3):
        out = pipeline.decode(pipeline.encode(arr))
        assert out.dtype == STRING_DTYPE and out.tolist() == strings


def test_zero_dimensional_chunks_both_formats() -> None:
    value = np.array(3.5, dtype="f8")
    v2 = CodecPipeline.from_v2({"id": "zstd", "level": 0}, None, np.dtype("<f8"), "C", ())
    v3 = CodecPipeline.from_v3(
        [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
        np.dtype("f8"),
        (),
    )
    for pipeline in (v2, v3):
        out = pipeline.decode(pipeline.encode(value))
        assert out.shape == () and out[()] == 3.5
        into = np.empty((), "f8")
        pipeline.decode_into(pipeline.encode(value), into)
        assert into[()] == 3.5
    written = zarr_write(np.array(7, dtype="i2"), zarr_format=2)
    assert list(written.chunks) == ["0"]
    assert CodecPipeline.from_metadata(written.metadata).decode(written.chunks["0"])[()] == 7


def test_v2_frame_announcing_too_much_is_refused() -> None:
    pipeline = CodecPipeline.from_v2(
        {"id": "blosc", "cname": "lz4"}, None, np.dtype("<i4"), "C", (4,)
    )
    raw = numcodecs.Blosc(cname="lz4").encode(np.zeros(1000, "<i4"))
    with pytest.raises(ChunkDecodeError, match="blosc: frame holds 4000 bytes, expected 16"):
        pipeline.decode(raw)
