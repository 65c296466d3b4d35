"""Datetimes, fixed-width text and bytes, raw bytes and structs: names and fill values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cloudzarr.errors import InvalidMetadataError, UnsupportedDataTypeError
from cloudzarr.metadata.dtypes import (
    has_byte_order,
    parse_v2_dtype,
    parse_v3_data_type,
    v2_dtype_string,
    v3_data_type_name,
)
from cloudzarr.metadata.fill_value import (
    default_fill_value,
    encode_fill_value_v2,
    encode_fill_value_v3,
    normalize_fill_value,
    parse_fill_value_v2,
    parse_fill_value_v3,
)

STRUCT = np.dtype([("a", "<i4"), ("b", "<f8"), ("c", "S2")])


@pytest.mark.parametrize(
    ("dtype", "name"),
    [
        (
            "M8[ns]",
            {"name": "numpy.datetime64", "configuration": {"unit": "ns", "scale_factor": 1}},
        ),
        (
            "M8[10s]",
            {"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 10}},
        ),
        (
            "m8",
            {"name": "numpy.timedelta64", "configuration": {"unit": "generic", "scale_factor": 1}},
        ),
        ("U3", {"name": "fixed_length_utf32", "configuration": {"length_bytes": 12}}),
        ("S5", {"name": "null_terminated_bytes", "configuration": {"length_bytes": 5}}),
        ("V7", {"name": "raw_bytes", "configuration": {"length_bytes": 7}}),
        (
            STRUCT,
            {
                "name": "struct",
                "configuration": {
                    "fields": [
                        {"name": "a", "data_type": "int32"},
                        {"name": "b", "data_type": "float64"},
                        {
                            "name": "c",
                            "data_type": {
                                "name": "null_terminated_bytes",
                                "configuration": {"length_bytes": 2},
                            },
                        },
                    ]
                },
            },
        ),
    ],
)
def test_v3_names_round_trip(dtype: Any, name: Any) -> None:
    np_dtype = np.dtype(dtype)
    assert v3_data_type_name(np_dtype) == name
    assert parse_v3_data_type(name) == np_dtype


@pytest.mark.parametrize(
    "value",
    [
        {"name": "numpy.datetime64", "configuration": {"unit": "parsec", "scale_factor": 1}},
        {"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 0}},
        {"name": "fixed_length_utf32", "configuration": {"length_bytes": 6}},
        {"name": "raw_bytes", "configuration": {"length_bytes": 0}},
        {"name": "struct", "configuration": {"fields": []}},
        {"name": "struct", "configuration": {"fields": [{"name": "a", "data_type": "string"}]}},
    ],
)
def test_v3_bad_configurations_name_key(value: Any) -> None:
    with pytest.raises(UnsupportedDataTypeError, match=r"a/zarr\.json: data_type"):
        parse_v3_data_type(value, key="a/zarr.json")


@pytest.mark.parametrize("text", ["<M8[ns]", ">m8[10ms]", "<U4", ">U2", "|S5", "|V3"])
def test_v2_strings_keep_byte_order(text: str) -> None:
    assert v2_dtype_string(parse_v2_dtype(text)) == text


def test_v2_struct_is_a_list_of_pairs() -> None:
    doc = [["a", "<i4"], ["b", ">f8"], ["c", "|S2"]]
    dtype = parse_v2_dtype(doc)
    assert dtype == np.dtype([("a", "<i4"), ("b", ">f8"), ("c", "S2")])
    assert v2_dtype_string(dtype) == doc


def test_byte_order_matters_only_where_bytes_are_ordered() -> None:
    assert [has_byte_order(np.dtype(t)) for t in ("S5", "V3", "b1", "u1", "U1", "M8[s]")] == [
        False,
        False,
        False,
        False,
        True,
        True,
    ]
    assert has_byte_order(STRUCT) and not has_byte_order(np.dtype([("a", "u1"), ("b", "S2")]))


@pytest.mark.parametrize(
    ("dtype", "value", "v3", "v2"),
    [
        ("M8[ns]", np.datetime64("NaT", "ns"), -(2**63), -(2**63)),
        ("m8[s]", np.timedelta64(5, "s"), 5, 5),
        ("U3", "ab", "ab", "ab"),
        ("S3", b"x\x00y", "eAB5", "eAB5"),
        ("V2", b"\x01\x02", "AQI=", "AQI="),
        (STRUCT, (1, 2.5, b"x"), {"a": 1, "b": 2.5, "c": "eA=="}, "AQAAAAAAAAAAAARAeAA="),
    ],
)
def test_fill_values_encode_as_zarr_python(dtype: Any, value: Any, v3: Any, v2: Any) -> None:
    np_dtype = np.dtype(dtype)
    fill = normalize_fill_value(value, np_dtype)
    assert encode_fill_value_v3(fill, np_dtype) == v3
    assert encode_fill_value_v2(fill, np_dtype) == v2
    for parsed in (parse_fill_value_v3(v3, np_dtype), parse_fill_value_v2(v2, np_dtype)):
        assert np.asarray(parsed, np_dtype).tobytes() == np.asarray(fill, np_dtype).tobytes()


def test_defaults_are_zarr_pythons() -> None:
    assert np.isnat(default_fill_value(np.dtype("M8[ns]")))
    assert np.isnat(default_fill_value(np.dtype("m8[D]")))
    assert default_fill_value(np.dtype("U3")) == ""
    assert default_fill_value(np.dtype("S3")) == b""
    assert default_fill_value(STRUCT).tobytes() == bytes(STRUCT.itemsize)


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        ("S2", "not base64!"),
        ("S2", "eHl6"),  # three bytes for S2
        ("V2", "AQ=="),  # one byte for V2
        ("U2", "abc"),
        ("M8[s]", 1.5),
        ("M8[s]", True),
        (STRUCT, {"a": 1}),
    ],
)
def test_bad_fill_values_name_key(dtype: Any, value: Any) -> None:
    with pytest.raises(InvalidMetadataError, match=r"k: fill_value: invalid fill value"):
        parse_fill_value_v3(value, np.dtype(dtype), key="k")
