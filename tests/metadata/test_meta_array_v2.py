from __future__ import annotations

import copy
import json
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
from meta_zarr_docs import zarr_documents

from cloudzarr.errors import InvalidMetadataError, UnsupportedDataTypeError, UnsupportedFormatError
from cloudzarr.metadata import STRING_DTYPE, ArrayMetadataV2, fill_values_equal, thaw

KEY = "grp/arr/.zarray"

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
    ("float64", -np.inf),
    (">f8", 0.1),
    ("complex64", 1 + 2j),
    ("complex128", complex(np.nan, 3)),
    (str, "fill"),
]


def base_doc() -> dict[str, Any]:
    return copy.deepcopy(
        {
            "shape": [10, 20],
            "chunks": [5, 5],
            "dtype": "<f4",
            "fill_value": "NaN",
            "order": "C",
            "filters": None,
            "dimension_separator": ".",
            "compressor": {"id": "zstd", "level": 0},
            "zarr_format": 2,
        }
    )


@pytest.mark.parametrize(("dtype", "fill"), DTYPE_FILLS)
def test_zarr_python_documents_parse_and_round_trip(dtype: Any, fill: Any) -> None:
    docs = zarr_documents(
        shape=(6, 4),
        chunks=(3, 2),
        dtype=dtype,
        fill_value=fill,
        attributes={"units": "m"},
        zarr_format=2,
    )
    meta = ArrayMetadataV2.from_dict(docs[".zarray"], attributes=docs[".zattrs"], key=KEY)
    expected = STRING_DTYPE if dtype is str else np.dtype(dtype)
    assert meta.dtype == expected
    assert meta.shape == (6, 4) and meta.chunks == (3, 2)
    assert thaw(meta.attributes) == {"units": "m"}
    want = fill if dtype is str else np.asarray(fill).astype(expected)[()]
    assert fill_values_equal(meta.fill_value, want)
    assert meta.to_dict() == docs[".zarray"]
    out = meta.to_documents()
    assert set(out) == {".zarray", ".zattrs"}
    assert json.loads(out[".zattrs"]) == {"units": "m"}
    again = ArrayMetadataV2.from_dict(json.loads(out[".zarray"]), attributes=meta.attributes)
    assert again == meta


def test_no_zattrs_without_attributes() -> None:
    meta = ArrayMetadataV2.from_dict(base_doc(), key=KEY)
    assert set(meta.to_documents()) == {".zarray"}


def test_null_fill_value() -> None:
    doc = base_doc()
    doc["fill_value"] = None
    meta = ArrayMetadataV2.from_dict(doc, key=KEY)
    assert meta.fill_value is None
    assert meta.effective_fill_value == 0 and meta.effective_fill_value.dtype == np.float32
    assert meta.to_dict()["fill_value"] is None
    assert ArrayMetadataV2.from_dict(meta.to_dict()) == meta


@pytest.mark.parametrize(("sep", "key"), [(".", "1.2"), ("/", "1/2")])
def test_chunk_keys(sep: str, key: str) -> None:
    doc = base_doc()
    doc["dimension_separator"] = sep
    meta = ArrayMetadataV2.from_dict(doc)
    assert meta.chunk_key((1, 2)) == key


def test_missing_dimension_separator_defaults_to_dot_and_zero_d_key() -> None:
    doc = base_doc()
    del doc["dimension_separator"]
    assert ArrayMetadataV2.from_dict(doc).dimension_separator == "."
    zero_d = zarr_documents(shape=(), dtype="i4", zarr_format=2)[".zarray"]
    assert ArrayMetadataV2.from_dict(zero_d).chunk_key(()) == "0"


def test_zarr_python_opens_our_document() -> None:
    meta = ArrayMetadataV2(
        shape=(4, 3),
        dtype=np.dtype(">i2"),
        chunks=(2, 3),
        fill_value=-5,
        order="F",
        compressor={"id": "zlib", "level": 2},
        filters=({"id": "delta", "dtype": ">i2"},),
        dimension_separator="/",
        attributes={"a": [1]},
    )
    store = zarr.storage.MemoryStore()
    proto = zarr.core.buffer.default_buffer_prototype()
    for name, raw in meta.to_documents().items():
        store._store_dict[f"x/{name}"] = proto.buffer.from_bytes(raw)
    arr = zarr.open_array(store, path="x", mode="r")
    assert arr.shape == (4, 3) and arr.dtype == np.dtype(">i2") and arr.fill_value == -5
    assert arr.attrs["a"] == [1]
    np.testing.assert_array_equal(arr[:], np.full((4, 3), -5))


def test_filters_and_compressor_are_frozen_configs() -> None:
    docs = zarr_documents(
        shape=(4,),
        dtype="i2",
        zarr_format=2,
        filters=[numcodecs.Delta(dtype="<i2")],
        compressors=numcodecs.Blosc(cname="zstd", clevel=2),
    )
    meta = ArrayMetadataV2.from_dict(docs[".zarray"])
    assert meta.filters == ({"id": "delta", "dtype": "<i2", "astype": "<i2"},)
    assert meta.compressor is not None and meta.compressor["cname"] == "zstd"
    with pytest.raises(TypeError):
        meta.compressor["clevel"] = 9  # type: ignore[index]
    assert meta.to_dict() == docs[".zarray"]


def test_empty_filters_list_reads_as_none() -> None:
    doc = base_doc()
    doc["filters"] = []
    assert ArrayMetadataV2.from_dict(doc).filters is None


@pytest.mark.parametrize(
    "field", ["shape", "chunks", "dtype", "compressor", "fill_value", "order", "filters"]
)
def test_missing_field_is_named(field: str) -> None:
    doc = base_doc()
    del doc[field]
    with pytest.raises(InvalidMetadataError, match=rf"grp/arr/\.zarray: .*'{field}'"):
        ArrayMetadataV2.from_dict(doc, key=KEY)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("shape", [10], "chunks"),
        ("shape", [10, "2"], "shape"),
        ("chunks", [0, 5], "chunks"),
        ("order", "K", "order"),
        ("dimension_separator", ":", "dimension_separator"),
        ("compressor", {"level": 1}, "compressor"),
        ("compressor", "zstd", "compressor"),
        ("filters", {"id": "delta"}, "filters"),
        ("filters", [{"no_id": 1}], r"filters\[0\]"),
        ("fill_value", "abc", "fill_value"),
        ("unexpected", 1, "unknown field"),
    ],
)
def test_wrong_types_are_named(field: str, value: Any, match: str) -> None:
    doc = base_doc()
    doc[field] = value
    with pytest.raises(InvalidMetadataError, match=rf"grp/arr/\.zarray: .*{match}"):
        ArrayMetadataV2.from_dict(doc, key=KEY)


def test_wrong_format_and_dtype() -> None:
    doc = base_doc()
    doc["zarr_format"] = 3
    with pytest.raises(UnsupportedFormatError, match=r"grp/arr/\.zarray: zarr_format"):
        ArrayMetadataV2.from_dict(doc, key=KEY)
    doc = base_doc()
    doc["dtype"] = "<M8[ns5]"
    with pytest.raises(UnsupportedDataTypeError, match=r"grp/arr/\.zarray: dtype.*M8"):
        ArrayMetadataV2.from_dict(doc, key=KEY)
    doc = base_doc()
    doc["dtype"] = "|O"
    doc["filters"] = [{"id": "pickle"}]
    doc["fill_value"] = None
    with pytest.raises(UnsupportedDataTypeError, match="vlen-utf8"):
        ArrayMetadataV2.from_dict(doc, key=KEY)


def test_zattrs_must_be_an_object() -> None:
    with pytest.raises(InvalidMetadataError, match=r"\.zattrs"):
        ArrayMetadataV2.from_dict(base_doc(), attributes=[1, 2], key=KEY)  # type: ignore[arg-type]


def test_copies_and_immutability() -> None:
    meta = ArrayMetadataV2.from_dict(base_doc(), attributes={"x": {"y": 1}})
    bigger = meta.with_shape((20, 20)).with_attributes({"z": 2})
    assert bigger.shape == (20, 20) and thaw(bigger.attributes) == {"z": 2}
    assert meta.shape == (10, 20) and thaw(meta.attributes) == {"x": {"y": 1}}
    assert meta.dimension_names is None and meta.zarr_format == 2 and meta.node_type == "array"
    with pytest.raises(AttributeError):
        meta.order = "F"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("dtype", "fill"),
    [
        ("<f4", np.frombuffer(bytes.fromhex("0100c07f"), "<f4")[0]),
        ("<f8", -np.inf),
        ("<c16", [np.nan, 2]),
    ],
)
def test_zarr_python_reads_our_special_fill_values(dtype: str, fill: Any) -> None:
    meta = ArrayMetadataV2(shape=(2,), dtype=np.dtype(dtype), chunks=(2,), fill_value=fill)
    store = zarr.storage.MemoryStore()
    proto = zarr.core.buffer.default_buffer_prototype()
    for name, raw in meta.to_documents().items():
        store._store_dict[f"x/{name}"] = proto.buffer.from_bytes(raw)
    arr = zarr.open_array(store, path="x", mode="r")
    assert fill_values_equal(np.asarray(arr.fill_value).astype(meta.dtype)[()], meta.fill_value)
