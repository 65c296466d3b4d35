from __future__ import annotations

from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr.codecs as zc

from cloudzarr.codecs import (
    DEFAULT_V2_COMPRESSOR,
    normalize_v2_compressor,
    normalize_v2_filters,
    normalize_v3_codecs,
)
from cloudzarr.errors import InvalidMetadataError, UnsupportedCodecError
from cloudzarr.metadata import STRING_DTYPE, CodecSpec
from cloudzarr.metadata.codec_specs import codecs_to_json

F4 = np.dtype("float32")


def v3(**kwargs: Any) -> list[dict[str, Any]]:
    kwargs.setdefault("dtype", F4)
    kwargs.setdefault("ndim", 2)
    return codecs_to_json(normalize_v3_codecs(**kwargs))


def test_v3_defaults_match_zarr_python() -> None:
    assert v3() == [
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "zstd", "configuration": {"level": 0, "checksum": False}},
    ]
    assert v3(dtype=np.dtype("u1")) == [
        {"name": "bytes"},
        {"name": "zstd", "configuration": {"level": 0, "checksum": False}},
    ]
    assert v3(dtype=STRING_DTYPE)[0] == {"name": "vlen-utf8", "configuration": {}}
    assert v3(compressors=None) == [{"name": "bytes", "configuration": {"endian": "little"}}]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            numcodecs.Zstd(level=3),
            {"name": "zstd", "configuration": {"level": 3, "checksum": False}},
        ),
        (numcodecs.GZip(level=2), {"name": "gzip", "configuration": {"level": 2}}),
        (
            numcodecs.Blosc(cname="zstd", clevel=2, shuffle=numcodecs.Blosc.AUTOSHUFFLE),
            {
                "name": "blosc",
                "configuration": {
                    "typesize": 4,
                    "cname": "zstd",
                    "clevel": 2,
                    "shuffle": "shuffle",
                    "blocksize": 0,
                },
            },
        ),
        (numcodecs.Zlib(level=4), {"name": "numcodecs.zlib", "configuration": {"level": 4}}),
        ({"id": "gzip", "level": 7}, {"name": "gzip", "configuration": {"level": 7}}),
        (
            {"name": "zstd", "configuration": {"level": 9}},
            {"name": "zstd", "configuration": {"level": 9, "checksum": False}},
        ),
        (
            zc.ZstdCodec(level=4, checksum=True),
            {"name": "zstd", "configuration": {"level": 4, "checksum": True}},
        ),
        (CodecSpec("gzip", {"level": 1}), {"name": "gzip", "configuration": {"level": 1}}),
        ("crc32c", {"name": "crc32c"}),
    ],
)
def test_v3_compressor_forms(given: Any, expected: dict[str, Any]) -> None:
    assert v3(compressors=given)[1:] == [expected]
    assert v3(compressors=[given])[1:] == [expected]


def test_v3_blosc_autoshuffle_is_bitshuffle_for_bytes() -> None:
    out = v3(dtype=np.dtype("u1"), compressors=numcodecs.Blosc(shuffle=-1))
    assert out[1]["configuration"]["shuffle"] == "bitshuffle"
    assert out[1]["configuration"]["typesize"] == 1


def test_v3_filters_and_serializer() -> None:
    out = v3(
        filters=[{"name": "transpose", "configuration": {"order": [1, 0]}}, numcodecs.Delta("<f4")],
        serializer={"name": "bytes", "configuration": {"endian": "big"}},
        compressors=[numcodecs.Zstd(), {"name": "crc32c"}],
    )
    assert [c["name"] for c in out] == ["transpose", "numcodecs.delta", "bytes", "zstd", "crc32c"]
    assert out[2]["configuration"] == {"endian": "big"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"compressors": {"name": "unheard-of"}}, UnsupportedCodecError, r"compressors|unheard-of"),
        (
            {"compressors": [{"name": "bytes", "configuration": {"endian": "little"}}]},
            InvalidMetadataError,
            "array->bytes",
        ),
        ({"filters": [{"name": "zstd"}]}, InvalidMetadataError, "array->array"),
        ({"compressors": [3]}, InvalidMetadataError, r"compressors\[0\]"),
        (
            {"filters": [{"name": "transpose", "configuration": {"order": [0, 0]}}]},
            InvalidMetadataError,
            "permutation",
        ),
    ],
)
def test_v3_bad_input_names_the_argument(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        v3(**kwargs)


def test_v2_defaults() -> None:
    assert (
        normalize_v2_compressor("auto", F4) == DEFAULT_V2_COMPRESSOR == {"id": "zstd", "level": 0}
    )
    assert normalize_v2_filters("auto", F4) is None
    assert normalize_v2_filters("auto", STRING_DTYPE) == ({"id": "vlen-utf8"},)
    assert normalize_v2_compressor(None, F4) is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (numcodecs.Zstd(level=3), {"id": "zstd", "level": 3}),
        (numcodecs.Zstd(level=3, checksum=True), {"id": "zstd", "level": 3, "checksum": True}),
        (numcodecs.Zlib(level=2), {"id": "zlib", "level": 2}),
        ([numcodecs.GZip(level=2)], {"id": "gzip", "level": 2}),
        (
            {"id": "blosc", "cname": "lz4"},
            {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
        ),
        (
            {
                "name": "blosc",
                "configuration": {"cname": "zstd", "clevel": 1, "shuffle": "bitshuffle"},
            },
            {"id": "blosc", "cname": "zstd", "clevel": 1, "shuffle": 2, "blocksize": 0},
        ),
        ({"name": "gzip", "configuration": {"level": 3}}, {"id": "gzip", "level": 3}),
        ({"name": "numcodecs.zlib", "configuration": {"level": 5}}, {"id": "zlib", "level": 5}),
        (zc.ZstdCodec(level=2), {"id": "zstd", "level": 2}),
    ],
)
def test_v2_compressor_forms(given: Any, expected: dict[str, Any]) -> None:
    assert normalize_v2_compressor(given, F4) == expected


def test_v2_refusals() -> None:
    with pytest.raises(InvalidMetadataError, match="one compressor"):
        normalize_v2_compressor([numcodecs.Zstd(), numcodecs.GZip()], F4)
    with pytest.raises(UnsupportedCodecError, match="crc32c"):
        normalize_v2_compressor({"name": "crc32c"}, F4)
    with pytest.raises(UnsupportedCodecError, match=r"filters\[0\]"):
        normalize_v2_filters([{"id": "no-such"}], F4)


def test_v2_string_filters_put_vlen_utf8_first_once() -> None:
    out = normalize_v2_filters([numcodecs.VLenUTF8()], STRING_DTYPE)
    assert out == ({"id": "vlen-utf8"},)
    assert normalize_v2_filters(None, STRING_DTYPE) == ({"id": "vlen-utf8"},)
    assert normalize_v2_filters([numcodecs.Delta("<i4")], np.dtype("<i4")) == (
        {"id": "delta", "dtype": "<i4", "astype": "<i4"},
    )
