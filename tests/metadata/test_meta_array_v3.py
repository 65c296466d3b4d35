from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
import zarr
from meta_zarr_docs import zarr_documents

from cloudzarr.errors import (
    InvalidMetadataError,
    UnsupportedCodecError,
    UnsupportedDataTypeError,
    UnsupportedError,
    UnsupportedFormatError,
)
from cloudzarr.metadata import (
    STRING_DTYPE,
    ArrayMetadataV3,
    ChunkKeyEncoding,
    CodecSpec,
    fill_values_equal,
    load_document,
    thaw,
)

KEY = "grp/arr/zarr.json"

DTYPE_FILLS: list[tuple[Any, Any]] = [
    ("bool", True),
    ("int8", -128),
    ("int16", 7),
    ("int32", -1),
    ("int64", 2**62),
    ("uint8", 255),
    ("uint16", 1),
    ("uint32", 2**32 - 1),
    ("uint64", 2**64 - 1),
    ("float16", np.inf),
    ("float32", np.nan),
    ("float32", -np.inf),
    ("float64", 0.1),
    ("complex64", 1 + 2j),
    ("complex128", complex(np.nan, -np.inf)),
    (str, "fill"),
]


def base_doc() -> dict[str, Any]:
    return copy.deepcopy(
        {
            "shape": [10, 20],
            "data_type": "float32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5, 5]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0.0,
            "codecs": [
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "zstd", "configuration": {"level": 0, "checksum": False}},
            ],
            "attributes": {"a": {"b": [1, 2]}},
            "zarr_format": 3,
            "node_type": "array",
            "storage_transformers": [],
        }
    )


@pytest.mark.parametrize(("dtype", "fill"), DTYPE_FILLS)
def test_zarr_python_documents_parse_and_round_trip(dtype: Any, fill: Any) -> None:
    doc = zarr_documents(
        shape=(6, 4),
        chunks=(3, 2),
        dtype=dtype,
        fill_value=fill,
        attributes={"units": "m", "nested": {"list": [1, None]}},
        dimension_names=["y", None],
    )["zarr.json"]
    meta = ArrayMetadataV3.from_dict(doc, key=KEY)
    expected = STRING_DTYPE if dtype is str else np.dtype(dtype)
    assert meta.dtype == expected
    assert meta.shape == (6, 4) and meta.chunks == (3, 2)
    assert meta.dimension_names == ("y", None)
    assert thaw(meta.attributes) == {"units": "m", "nested": {"list": [1, None]}}
    want = fill if dtype is str else np.asarray(fill).astype(expected)[()]
    assert fill_values_equal(meta.fill_value, want)
    # What we write is what zarr-python wrote, and parses back equal.
    assert meta.to_dict() == doc
    assert ArrayMetadataV3.from_dict(meta.to_dict()) == meta
    reparsed = load_document(meta.to_documents()["zarr.json"], KEY)
    assert ArrayMetadataV3.from_dict(reparsed) == meta


def test_zarr_python_opens_our_document() -> None:
    meta = ArrayMetadataV3(
        shape=(4,),
        dtype=np.dtype("complex64"),
        chunks=(2,),
        fill_value=complex(1, np.nan),
        codecs=(CodecSpec("bytes", {"endian": "big"}), CodecSpec("gzip", {"level": 3})),
        attributes={"k": [1, 2]},
        dimension_names=("t",),
    )
    store = zarr.storage.MemoryStore()
    proto = zarr.core.buffer.default_buffer_prototype()
    store._store_dict["x/zarr.json"] = proto.buffer.from_bytes(meta.to_documents()["zarr.json"])
    arr = zarr.open_array(store, path="x", mode="r")
    assert arr.shape == (4,) and arr.chunks == (2,)
    assert arr.metadata.dimension_names == ("t",)
    assert arr.attrs["k"] == [1, 2]
    assert arr.fill_value.real == 1 and np.isnan(arr.fill_value.imag)


@pytest.mark.parametrize(
    ("encoding", "coords", "key"),
    [
        (ChunkKeyEncoding("default", "/"), (1, 2), "c/1/2"),
        (ChunkKeyEncoding("default", "."), (1, 2), "c.1.2"),
        (ChunkKeyEncoding("default", "/"), (), "c"),
        (ChunkKeyEncoding("v2", "."), (0, 3), "0.3"),
        (ChunkKeyEncoding("v2", "/"), (0, 3), "0/3"),
        (ChunkKeyEncoding("v2", "."), (), "0"),
    ],
)
def test_chunk_keys(encoding: ChunkKeyEncoding, coords: tuple[int, ...], key: str) -> None:
    assert encoding.encode(coords) == key
    assert ChunkKeyEncoding.from_dict(encoding.to_dict()) == encoding


def test_chunk_key_encoding_defaults_and_zarr_python_v2_encoding() -> None:
    assert ChunkKeyEncoding.from_dict({"name": "default"}).separator == "/"
    assert ChunkKeyEncoding.from_dict({"name": "v2"}).separator == "."
    doc = zarr_documents(
        shape=(4, 4), chunks=(2, 2), dtype="i4", chunk_key_encoding={"name": "v2", "separator": "/"}
    )["zarr.json"]
    meta = ArrayMetadataV3.from_dict(doc)
    assert meta.chunk_key((1, 0)) == "1/0"


def test_zero_dimensional_array() -> None:
    doc = zarr_documents(shape=(), dtype="i4", fill_value=5)["zarr.json"]
    meta = ArrayMetadataV3.from_dict(doc)
    assert meta.shape == () and meta.chunks == () and meta.chunk_key(()) == "c"
    assert meta.to_dict() == doc


def test_metadata_is_deeply_immutable() -> None:
    doc = base_doc()
    meta = ArrayMetadataV3.from_dict(doc)
    doc["attributes"]["a"]["b"].append(3)  # the caller's dict is not shared
    assert thaw(meta.attributes) == {"a": {"b": [1, 2]}}
    with pytest.raises(TypeError):
        meta.attributes["a"]["c"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        meta.shape = (1, 1)  # type: ignore[misc]


def test_with_attributes_and_with_shape_copy() -> None:
    meta = ArrayMetadataV3.from_dict(base_doc())
    other = meta.with_attributes({"x": 1}).with_shape((30, 40))
    assert thaw(other.attributes) == {"x": 1} and other.shape == (30, 40)
    assert thaw(meta.attributes) == {"a": {"b": [1, 2]}} and meta.shape == (10, 20)
    with pytest.raises(InvalidMetadataError, match="number of dimensions"):
        meta.with_shape((1,))


def test_must_understand_false_extension_is_kept() -> None:
    doc = base_doc()
    doc["consolidated_thing"] = {"must_understand": False, "payload": [1, {"x": "y"}]}
    meta = ArrayMetadataV3.from_dict(doc, key=KEY)
    assert meta.to_dict()["consolidated_thing"] == doc["consolidated_thing"]
    assert json.loads(meta.to_documents()["zarr.json"]) == doc


@pytest.mark.parametrize("value", [{"must_understand": True, "x": 1}, {"x": 1}, 5, "string", [1]])
def test_unknown_extension_without_must_understand_false_is_refused(value: Any) -> None:
    doc = base_doc()
    doc["my_extension"] = value
    with pytest.raises(UnsupportedCodecError, match=r"grp/arr/zarr\.json: my_extension"):
        ArrayMetadataV3.from_dict(doc, key=KEY)


def test_unknown_codec_names_codec_and_key() -> None:
    doc = base_doc()
    doc["codecs"].append({"name": "lzma9000", "configuration": {}})
    with pytest.raises(UnsupportedCodecError, match=r"grp/arr/zarr\.json: codecs\[2\].*lzma9000"):
        ArrayMetadataV3.from_dict(doc, key=KEY)


def test_unknown_data_type_names_type_and_key() -> None:
    doc = base_doc()
    doc["data_type"] = "float128"
    with pytest.raises(UnsupportedDataTypeError, match=r"grp/arr/zarr\.json: data_type.*float128"):
        ArrayMetadataV3.from_dict(doc, key=KEY)


@pytest.mark.parametrize(
    "field", ["shape", "data_type", "chunk_grid", "chunk_key_encoding", "fill_value", "codecs"]
)
def test_missing_field_is_named(field: str) -> None:
    doc = base_doc()
    del doc[field]
    with pytest.raises(InvalidMetadataError, match=rf"grp/arr/zarr\.json: .*'{field}'"):
        ArrayMetadataV3.from_dict(doc, key=KEY)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("shape", [10, -1], "shape"),
        ("shape", "10", "shape"),
        ("shape", [10, True], "shape"),
        ("chunk_grid", {"name": "regular", "configuration": {"chunk_shape": [5]}}, "chunk_grid"),
        ("chunk_grid", {"name": "regular", "configuration": {"chunk_shape": [0, 5]}}, "chunk_grid"),
        ("fill_value", "zero", "fill_value"),
        ("codecs", [], "codecs"),
        ("codecs", [{"name": "zstd"}], "codecs"),
        ("codecs", [{"name": "bytes"}], r"codecs\[0\].*endian"),
        ("codecs", [{"name": "bytes", "configuration": {"endian": "middle"}}], "endian"),
        ("attributes", [1], "attributes"),
        ("dimension_names", ["x"], "dimension_names"),
        ("dimension_names", ["x", 3], "dimension_names"),
        ("chunk_key_encoding", {"name": "default", "configuration": {"separator": "-"}}, "sep"),
    ],
)
def test_wrong_types_are_named(field: str, value: Any, match: str) -> None:
    doc = base_doc()
    doc[field] = value
    with pytest.raises(InvalidMetadataError, match=rf"grp/arr/zarr\.json: .*{match}"):
        ArrayMetadataV3.from_dict(doc, key=KEY)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("zarr_format", 2, UnsupportedFormatError),
        ("node_type", "group", UnsupportedFormatError),
        ("chunk_grid", {"name": "rectilinear", "configuration": {}}, UnsupportedError),
        ("chunk_key_encoding", {"name": "fancy"}, UnsupportedError),
        ("storage_transformers", [{"name": "x"}], UnsupportedError),
    ],
)
def test_unsupported_structures(field: str, value: Any, error: type[Exception]) -> None:
    doc = base_doc()
    doc[field] = value
    with pytest.raises(error, match=r"grp/arr/zarr\.json"):
        ArrayMetadataV3.from_dict(doc, key=KEY)


def test_codec_order_is_validated() -> None:
    doc = base_doc()
    doc["codecs"] = [doc["codecs"][1], doc["codecs"][0]]
    with pytest.raises(InvalidMetadataError, match="array->array"):
        ArrayMetadataV3.from_dict(doc, key=KEY)


def test_sharding_codec_is_parsed_with_nested_specs() -> None:
    doc = zarr_documents(shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="u2")["zarr.json"]
    meta = ArrayMetadataV3.from_dict(doc)
    assert meta.chunks == (4, 4)
    shard = meta.sharding
    assert shard is not None
    assert shard.configuration["chunk_shape"] == (2, 2)
    assert [c.name for c in shard.configuration["codecs"]] == ["bytes", "zstd"]
    assert [c.name for c in shard.configuration["index_codecs"]] == ["bytes", "crc32c"]
    assert shard.configuration["index_location"] == "end"
    assert meta.to_dict() == doc
    uneven = copy.deepcopy(doc)
    uneven["codecs"][0]["configuration"]["chunk_shape"] = [3, 2]
    with pytest.raises(InvalidMetadataError, match=r"zarr\.json: codecs: .*does not divide"):
        ArrayMetadataV3.from_dict(uneven, key=KEY)
    bad = copy.deepcopy(doc)
    bad["codecs"][0]["configuration"]["codecs"].append({"name": "nope"})
    with pytest.raises(UnsupportedCodecError, match="nope"):
        ArrayMetadataV3.from_dict(bad, key=KEY)


def test_every_v3_codec_from_zarr_python_parses() -> None:
    codecs = zarr.codecs
    docs = [
        zarr_documents(
            shape=(4, 6),
            chunks=(2, 3),
            dtype="f8",
            filters=[codecs.TransposeCodec(order=[1, 0])],
            serializer=codecs.BytesCodec(endian="big"),
            compressors=[codecs.GzipCodec(level=4), codecs.Crc32cCodec()],
        ),
        zarr_documents(
            shape=(4,),
            chunks=(2,),
            dtype="i2",
            compressors=codecs.BloscCodec(cname="lz4", clevel=3, shuffle="bitshuffle"),
        ),
        zarr_documents(
            shape=(4,),
            chunks=(2,),
            dtype="i2",
            compressors=codecs.ZstdCodec(level=5, checksum=True),
        ),
    ]
    for docset in docs:
        doc = docset["zarr.json"]
        meta = ArrayMetadataV3.from_dict(doc, key=KEY)
        assert meta.to_dict() == doc


def test_programmatic_construction_is_validated() -> None:
    with pytest.raises(InvalidMetadataError, match="chunk_shape"):
        ArrayMetadataV3(
            shape=(4,),
            dtype=np.dtype("i4"),
            chunks=(2, 2),
            fill_value=0,
            codecs=(CodecSpec("bytes", {"endian": "little"}),),
        )
    with pytest.raises(InvalidMetadataError, match="fill_value"):
        ArrayMetadataV3(
            shape=(4,),
            dtype=np.dtype("u1"),
            chunks=(2,),
            fill_value=300,
            codecs=(CodecSpec("bytes"),),
        )
    meta = ArrayMetadataV3(
        shape=(4,),
        dtype=np.dtype(">i4"),
        chunks=(2,),
        fill_value=None,
        codecs=({"name": "bytes", "configuration": {"endian": "little"}},),
    )
    assert meta.dtype == np.dtype("i4") and meta.fill_value == 0
    assert isinstance(meta.codecs[0], CodecSpec)
    assert hash(meta) == hash(ArrayMetadataV3.from_dict(meta.to_dict()))


def test_constructor_accepts_user_spellings_of_dtypes() -> None:
    meta = ArrayMetadataV3(
        shape=(2,), dtype=str, chunks=(2,), fill_value=None, codecs=({"name": "vlen-utf8"},)
    )
    assert meta.dtype == STRING_DTYPE and meta.fill_value == ""
    meta = ArrayMetadataV3(
        shape=(2,),
        dtype="float64",
        chunks=(2,),
        fill_value="NaN",
        codecs=({"name": "bytes", "configuration": {"endian": "little"}},),
    )
    assert meta.dtype == np.dtype("f8") and np.isnan(meta.fill_value)
    with pytest.raises(UnsupportedDataTypeError):
        ArrayMetadataV3(shape=(2,), dtype=object, chunks=(2,), fill_value=0, codecs=())


@pytest.mark.parametrize(
    ("dtype", "fill"),
    [
        ("float32", "0x7fc00001"),
        ("float32", "0xffc00000"),
        ("float64", "-Infinity"),
        ("complex64", ["0x7fc00001", 1.0]),
        ("float64", -0.0),
        ("uint64", 2**64 - 1),
    ],
)
def test_zarr_python_reads_our_special_fill_values(dtype: str, fill: Any) -> None:
    meta = ArrayMetadataV3(
        shape=(2,),
        dtype=np.dtype(dtype),
        chunks=(2,),
        fill_value=fill,
        codecs=({"name": "bytes", "configuration": {"endian": "little"}},),
    )
    store = zarr.storage.MemoryStore()
    proto = zarr.core.buffer.default_buffer_prototype()
    store._store_dict["x/zarr.json"] = proto.buffer.from_bytes(meta.to_documents()["zarr.json"])
    arr = zarr.open_array(store, path="x", mode="r")
    assert fill_values_equal(np.asarray(arr.fill_value).astype(meta.dtype)[()], meta.fill_value)


def test_sharding_without_index_codecs_defaults_like_zarr_python() -> None:
    # The spec requires index_codecs; a document without them must still be read as
    # zarr-python 3.4.2 reads it (bytes + crc32c), or the two libraries disagree on the index.
    from zarr.codecs import ShardingCodec

    doc = zarr_documents(shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="u2")["zarr.json"]
    sharding = copy.deepcopy(doc["codecs"][0])
    del sharding["configuration"]["index_codecs"]
    doc["codecs"] = [sharding]
    shard = ArrayMetadataV3.from_dict(doc).sharding
    assert shard is not None
    ours = [c.name for c in shard.configuration["index_codecs"]]
    theirs = ShardingCodec.from_dict(sharding).to_dict()["configuration"]["index_codecs"]
    assert ours == [c["name"] for c in theirs] == ["bytes", "crc32c"]


def test_nested_shard_that_does_not_divide_is_refused_at_parse() -> None:
    doc = zarr_documents(shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="u2")["zarr.json"]
    outer = doc["codecs"][0]["configuration"]
    outer["chunk_shape"] = [4, 4]  # one inner chunk per shard, itself a shard of 3x2 chunks
    outer["codecs"] = [
        {
            "name": "sharding_indexed",
            "configuration": {
                "chunk_shape": [3, 2],
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                "index_codecs": outer["index_codecs"],
                "index_location": "end",
            },
        }
    ]
    with pytest.raises(InvalidMetadataError, match=r"chunk_shape \[3, 2\] does not divide"):
        ArrayMetadataV3.from_dict(doc, key=KEY)
    outer["codecs"][0]["configuration"]["chunk_shape"] = [2, 2]
    assert ArrayMetadataV3.from_dict(doc, key=KEY).chunks == (4, 4)
