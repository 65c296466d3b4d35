from __future__ import annotations

import numpy as np
import pytest

from cloudzarr.errors import UnsupportedDataTypeError
from cloudzarr.metadata import (
    STRING_DTYPE,
    normalize_dtype,
    parse_v2_dtype,
    parse_v3_data_type,
    v2_dtype_string,
    v3_data_type_name,
)

V3_NAMES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]


@pytest.mark.parametrize("name", V3_NAMES)
def test_v3_numeric_names_round_trip(name: str) -> None:
    dtype = parse_v3_data_type(name, key="a/zarr.json")
    assert dtype == np.dtype(name)
    assert v3_data_type_name(dtype) == name
    # Byte order is the bytes codec's business in v3.
    assert v3_data_type_name(dtype.newbyteorder(">")) == name


def test_v3_string() -> None:
    assert parse_v3_data_type("string") == STRING_DTYPE
    assert v3_data_type_name(STRING_DTYPE) == "string"
    # An object array is variable-length bytes (zarr-python's in-memory form for them).
    assert v3_data_type_name(np.dtype("O")) == "variable_length_bytes"
    assert parse_v3_data_type("variable_length_bytes") == np.dtype("O")


@pytest.mark.parametrize("value", ["float8", "r16", {"name": "numpy.datetime64"}, 3, None])
def test_v3_unknown_data_type_names_key_and_type(value: object) -> None:
    with pytest.raises(UnsupportedDataTypeError, match=r"g/a/zarr\.json: data_type") as info:
        parse_v3_data_type(value, key="g/a/zarr.json")
    if isinstance(value, str):
        assert value in str(info.value)


@pytest.mark.parametrize(
    "text", ["|b1", "<i1", "|u1", "<i2", ">i4", "<i8", "<u8", "<f2", ">f4", "<f8", "<c8", ">c16"]
)
def test_v2_dtype_strings_keep_byte_order(text: str) -> None:
    dtype = parse_v2_dtype(text, key="a/.zarray")
    assert dtype == np.dtype(text)
    assert v2_dtype_string(dtype) == np.dtype(text).str


def test_v2_object_needs_vlen_utf8_filter() -> None:
    assert parse_v2_dtype("|O", filters=[{"id": "vlen-utf8"}]) == STRING_DTYPE
    assert v2_dtype_string(STRING_DTYPE) == "|O"
    with pytest.raises(UnsupportedDataTypeError, match=r"a/\.zarray: dtype.*vlen-utf8"):
        parse_v2_dtype("|O", filters=[{"id": "pickle"}], key="a/.zarray")


@pytest.mark.parametrize(
    "text", ["nonsense", [["a", "<i4", [2]]], [["a", "<i4"], "b"], "|V0", "<U0", 7, {"a": 1}]
)
def test_v2_unsupported_dtypes_name_key(text: object) -> None:
    with pytest.raises(UnsupportedDataTypeError, match=r"a/\.zarray: dtype"):
        parse_v2_dtype(text, key="a/.zarray")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("f4", np.dtype("float32")),
        (np.int16, np.dtype("int16")),
        ("float64", np.dtype("float64")),
        (">u2", np.dtype(">u2")),
        (bool, np.dtype("bool")),
        (str, STRING_DTYPE),
        ("string", STRING_DTYPE),
        ("U4", np.dtype("<U4")),
        (">U4", np.dtype(">U4")),
        ("S3", np.dtype("S3")),
        ("V8", np.dtype("V8")),
        ("M8[s]", np.dtype("<M8[s]")),
        ("m8[10ms]", np.dtype("<m8[10ms]")),
        ("i4,f8", np.dtype("i4,f8")),
        (STRING_DTYPE, STRING_DTYPE),
    ],
)
def test_normalize_dtype(given: object, expected: np.dtype) -> None:
    assert normalize_dtype(given) == expected


@pytest.mark.parametrize("given", [object, "O", "no-such-type", "(2,)i4", [("a", "i4", (2,))]])
def test_normalize_dtype_refuses_unsupported(given: object) -> None:
    with pytest.raises(UnsupportedDataTypeError, match="dtype"):
        normalize_dtype(given)
