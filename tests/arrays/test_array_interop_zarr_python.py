"""Interop with zarr-python 3.4.2, both directions, both formats, local disk and the S3 emulator.

Each case writes a small array with one library (a partial write leaves some chunks empty, so
fill values matter) and reads it with the other, comparing values, dtype, shape, fill value,
attributes and dimension names. Every dtype runs with the default codecs; every codec runs with
a few dtypes, so the matrix stays small and fast.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
from zarr import codecs as zc

from cloudzarr.arrays import Array, build_array_metadata
from cloudzarr.storage.local import LocalStore

SHAPE = (7, 5)
CHUNKS = (3, 2)
SHARDS = (6, 4)
ATTRS = {"title": "interop", "nested": {"values": [1, 2.5, None]}}
DIMS = ("y", "x")

NUMERIC = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
]  # fmt: skip
ALL_DTYPES = [*NUMERIC, "str"]


def sample(dtype: str) -> tuple[np.ndarray, Any]:
    """Values of ``dtype`` for SHAPE, and a non-default fill value."""
    rng = np.random.default_rng(zlib.crc32(dtype.encode()))
    if dtype == "str":
        words = np.array(["", "a", "zarr", "ünïcode", "x" * 40, "fill"], dtype=object)
        return rng.choice(words, SHAPE).astype(np.dtypes.StringDType()), "fill"
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "b":
        return rng.integers(0, 2, SHAPE).astype(bool), True
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        return rng.integers(info.min, info.max, SHAPE, dtype=np_dtype, endpoint=True), 3
    values = rng.standard_normal(SHAPE) * 100
    if np_dtype.kind == "c":
        values = values + 1j * rng.standard_normal(SHAPE)
    return values.astype(np_dtype), 3


@dataclass(frozen=True)
class Codecs:
    """One codec configuration, spelled for both libraries."""

    name: str
    ours: dict[str, Any] = field(default_factory=dict)
    theirs: dict[str, Any] = field(default_factory=dict)
    strings: bool = True  # applies to string arrays too


V3_CODECS = [
    Codecs("default"),
    Codecs(
        "bytes-little",
        {
            "serializer": {"name": "bytes", "configuration": {"endian": "little"}},
            "compressors": None,
        },
        {"serializer": zc.BytesCodec(endian="little"), "compressors": None},
        strings=False,
    ),
    Codecs(
        "bytes-big",
        {"serializer": {"name": "bytes", "configuration": {"endian": "big"}}, "compressors": None},
        {"serializer": zc.BytesCodec(endian="big"), "compressors": None},
        strings=False,
    ),
    Codecs(
        "transpose",
        {"filters": [{"name": "transpose", "configuration": {"order": [1, 0]}}]},
        {"filters": [zc.TransposeCodec(order=(1, 0))]},
    ),
    Codecs(
        "gzip",
        {"compressors": {"name": "gzip", "configuration": {"level": 5}}},
        {"compressors": zc.GzipCodec(level=5)},
    ),
    Codecs(
        "zstd",
        {"compressors": {"name": "zstd", "configuration": {"level": 3, "checksum": True}}},
        {"compressors": zc.ZstdCodec(level=3, checksum=True)},
    ),
    Codecs(
        "blosc",
        {"compressors": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)},
        {"compressors": zc.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")},
    ),
    Codecs(
        "crc32c",
        {"compressors": [{"name": "zstd", "configuration": {"level": 1}}, {"name": "crc32c"}]},
        {"compressors": [zc.ZstdCodec(level=1), zc.Crc32cCodec()]},
    ),
    Codecs("sharding", {"shards": SHARDS}, {"shards": SHARDS}),
]

V2_CODECS = [
    Codecs("default"),
    Codecs("none", {"compressors": None}, {"compressors": None}),
    Codecs(
        "zstd", {"compressors": numcodecs.Zstd(level=3)}, {"compressors": numcodecs.Zstd(level=3)}
    ),
    Codecs("gzip", {"compressors": numcodecs.GZip(5)}, {"compressors": numcodecs.GZip(5)}),
    Codecs(
        "blosc",
        {"compressors": numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE)},
        {"compressors": numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE)},
    ),
    Codecs("zlib", {"compressors": numcodecs.Zlib(1)}, {"compressors": numcodecs.Zlib(1)}),
    Codecs(
        "delta-filter",
        {"filters": [numcodecs.Delta(dtype="<i4")]},
        {"filters": [numcodecs.Delta(dtype="<i4")]},
        strings=False,
    ),
]


def _cases() -> list[Any]:
    cases = []
    for fmt, codecs in ((3, V3_CODECS), (2, V2_CODECS)):
        for c in codecs:
            if c.name == "default":
                dtypes = ALL_DTYPES
            elif c.name == "delta-filter":
                dtypes = ["int32"]
            else:
                dtypes = ["int16", "float64", "complex64"] + (["str"] if c.strings else [])
            for dt in dtypes:
                cases.append(pytest.param(fmt, c, dt, id=f"v{fmt}-{c.name}-{dt}"))
    return cases


CASES = _cases()


# --- writers and readers ----------------------------------------------------------------------


def write_ours(store: Any, fmt: int, codecs: Codecs, dtype: str) -> np.ndarray:
    data, fill = sample(dtype)
    meta = build_array_metadata(
        shape=SHAPE,
        dtype=str if dtype == "str" else dtype,
        chunks=CHUNKS,
        fill_value=fill,
        attributes=ATTRS,
        dimension_names=DIMS if fmt == 3 else None,
        zarr_format=fmt,
        **codecs.ours,
    )
    arr = Array.create(store, "a", meta)
    # Leave the first block of chunks unwritten: it must read as the fill value.
    arr[3:, :] = data[3:, :]
    arr[:3, 2:] = data[:3, 2:]
    expected = data.copy()
    expected[:3, :2] = fill
    return expected


def write_theirs(zstore: Any, fmt: int, codecs: Codecs, dtype: str) -> np.ndarray:
    data, fill = sample(dtype)
    kwargs: dict[str, Any] = dict(codecs.theirs)
    if fmt == 3:
        kwargs["dimension_names"] = DIMS
    z = zarr.create_array(
        zstore,
        name="a",
        shape=SHAPE,
        dtype=str if dtype == "str" else dtype,
        chunks=CHUNKS,
        fill_value=fill,
        attributes=ATTRS,
        zarr_format=fmt,
        **kwargs,
    )
    z[3:, :] = data[3:, :]
    z[:3, 2:] = data[:3, 2:]
    expected = data.copy()
    expected[:3, :2] = fill
    return expected


def _same_values(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    if expected.dtype.kind in "TOU":
        assert [str(v) for v in got.ravel()] == [str(v) for v in expected.ravel()]
    else:
        np.testing.assert_array_equal(got, expected)


def _check_theirs_read(z: Any, expected: np.ndarray, fmt: int, dtype: str, fill: Any) -> None:
    _same_values(z[...], expected)
    assert z.shape == SHAPE
    if dtype == "str":
        assert z.dtype.kind in "TOU"
    else:
        assert np.dtype(z.dtype) == np.dtype(dtype)
    assert z.fill_value == fill
    assert dict(z.attrs) == ATTRS
    if fmt == 3:
        assert tuple(z.metadata.dimension_names) == DIMS


def _check_ours_read(arr: Array, expected: np.ndarray, fmt: int, dtype: str, fill: Any) -> None:
    _same_values(arr[...], expected)
    _same_values(arr[1:6:2, ::-1], expected[1:6:2, ::-1])
    assert arr.shape == SHAPE and arr.zarr_format == fmt
    if dtype == "str":
        assert arr.dtype.kind in "TO"
    else:
        assert arr.dtype == np.dtype(dtype)
    assert arr.fill_value == fill
    assert dict(arr.attrs) == ATTRS
    assert arr.dimension_names == (DIMS if fmt == 3 else None)


# --- local disk -------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "codecs", "dtype"), CASES)
def test_cloudzarr_writes_zarr_reads_local(
    tmp_path: Path, fmt: int, codecs: Codecs, dtype: str
) -> None:
    expected = write_ours(LocalStore(tmp_path), fmt, codecs, dtype)
    z = zarr.open_array(zarr.storage.LocalStore(tmp_path), path="a", mode="r")
    _check_theirs_read(z, expected, fmt, dtype, sample(dtype)[1])


@pytest.mark.parametrize(("fmt", "codecs", "dtype"), CASES)
def test_zarr_writes_cloudzarr_reads_local(
    tmp_path: Path, fmt: int, codecs: Codecs, dtype: str
) -> None:
    expected = write_theirs(zarr.storage.LocalStore(tmp_path), fmt, codecs, dtype)
    arr = Array.open(LocalStore(tmp_path), "a")
    _check_ours_read(arr, expected, fmt, dtype, sample(dtype)[1])


def test_nan_fill_value_both_ways(tmp_path: Path) -> None:
    for fmt in (2, 3):
        ours = Array.create(
            LocalStore(tmp_path / f"o{fmt}"),
            "a",
            build_array_metadata(
                shape=(4,), dtype="f4", chunks=(2,), fill_value=np.nan, zarr_format=fmt
            ),
        )
        ours[0] = 1.0
        z = zarr.open_array(zarr.storage.LocalStore(tmp_path / f"o{fmt}"), path="a", mode="r")
        assert np.isnan(z.fill_value)
        np.testing.assert_array_equal(z[...], [1.0, np.nan, np.nan, np.nan])
        zarr.create_array(
            zarr.storage.LocalStore(tmp_path / f"t{fmt}"),
            name="a",
            shape=(4,),
            dtype="f4",
            chunks=(2,),
            fill_value=np.nan,
            zarr_format=fmt,
        )[3] = 2.0
        theirs = Array.open(LocalStore(tmp_path / f"t{fmt}"), "a")
        assert np.isnan(theirs.fill_value)
        np.testing.assert_array_equal(theirs[...], [np.nan, np.nan, np.nan, 2.0])


def test_zarr_sharded_partial_read_fetches_only_needed(tmp_path: Path) -> None:
    data = np.arange(24 * 16, dtype="i4").reshape(24, 16)
    zarr.create_array(
        zarr.storage.LocalStore(tmp_path), name="a", data=data, chunks=(4, 4), shards=(12, 8)
    )
    store = LocalStore(tmp_path)
    arr = Array.open(store, "a")
    store.requests.reset()
    assert arr[13, 9] == data[13, 9]
    assert store.requests.total == 2  # the shard index + one inner chunk


# --- the S3 emulator --------------------------------------------------------------------------

S3_CASES = [
    pytest.param(3, V3_CODECS[0], "float32", id="v3-default-float32"),
    pytest.param(3, V3_CODECS[-1], "int16", id="v3-sharding-int16"),
    pytest.param(3, V3_CODECS[0], "str", id="v3-default-str"),
    pytest.param(2, V2_CODECS[2], "float64", id="v2-zstd-float64"),
]


def _zarr_s3(bucket: str, options: dict[str, Any], read_only: bool) -> Any:
    # skip_instance_cache: never reuse an s3fs instance bound to another test's event loop.
    return zarr.storage.FsspecStore.from_url(
        f"s3://{bucket}/root",
        storage_options={**options, "skip_instance_cache": True},
        read_only=read_only,
    )


@pytest.mark.parametrize(("fmt", "codecs", "dtype"), S3_CASES)
def test_cloudzarr_writes_zarr_reads_s3(
    s3_store: Any,
    s3_bucket: str,
    s3_storage_options: dict[str, Any],
    fmt: int,
    codecs: Codecs,
    dtype: str,
) -> None:
    expected = write_ours(s3_store, fmt, codecs, dtype)
    z = zarr.open_array(_zarr_s3(s3_bucket, s3_storage_options, True), path="a", mode="r")
    _check_theirs_read(z, expected, fmt, dtype, sample(dtype)[1])


@pytest.mark.parametrize(("fmt", "codecs", "dtype"), S3_CASES)
def test_zarr_writes_cloudzarr_reads_s3(
    s3_store: Any,
    s3_bucket: str,
    s3_storage_options: dict[str, Any],
    fmt: int,
    codecs: Codecs,
    dtype: str,
) -> None:
    expected = write_theirs(_zarr_s3(s3_bucket, s3_storage_options, False), fmt, codecs, dtype)
    arr = Array.open(s3_store, "a")
    _check_ours_read(arr, expected, fmt, dtype, sample(dtype)[1])


def test_zarr_sharded_partial_read_on_s3_sends_two_gets(
    s3_store: Any, s3_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    data = np.arange(24 * 16, dtype="i4").reshape(24, 16)
    zarr.create_array(
        _zarr_s3(s3_bucket, s3_storage_options, False),
        name="a",
        data=data,
        chunks=(4, 4),
        shards=(12, 8),
    )
    arr = Array.open(s3_store, "a")
    s3_store.requests.reset()
    assert arr[13, 9] == data[13, 9]
    # A suffix-range GET of the shard index, then a range GET of one inner chunk.
    assert s3_store.requests.snapshot() == {"GetObject": 2}
    np.testing.assert_array_equal(arr[2:22:3, ::-5], data[2:22:3, ::-5])
