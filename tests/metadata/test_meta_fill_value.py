from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudzarr.errors import InvalidMetadataError
from cloudzarr.metadata import (
    STRING_DTYPE,
    default_fill_value,
    encode_fill_value_v2,
    encode_fill_value_v3,
    fill_values_equal,
    normalize_fill_value,
    parse_fill_value_v2,
    parse_fill_value_v3,
)

INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOAT_TYPES = ["float16", "float32", "float64"]
COMPLEX_TYPES = ["complex64", "complex128"]
ALL_TYPES = ["bool", *INT_TYPES, *FLOAT_TYPES, *COMPLEX_TYPES]


def _round_trip(value: Any, dtype: np.dtype) -> None:
    for parse, encode in (
        (parse_fill_value_v3, encode_fill_value_v3),
        (parse_fill_value_v2, encode_fill_value_v2),
    ):
        parsed = parse(value, dtype, key="a/doc")
        assert fill_values_equal(parse(encode(parsed, dtype), dtype), parsed)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_default_fill_value_is_zero_of_dtype(name: str) -> None:
    value = default_fill_value(np.dtype(name))
    assert value.dtype == np.dtype(name) and value == 0


@pytest.mark.parametrize("name", INT_TYPES)
def test_integer_extremes_round_trip(name: str) -> None:
    info = np.iinfo(name)
    for value in (int(info.min), int(info.max), 0):
        parsed = parse_fill_value_v3(value, np.dtype(name))
        assert parsed.dtype == np.dtype(name) and int(parsed) == value
        assert encode_fill_value_v3(parsed, np.dtype(name)) == value


@pytest.mark.parametrize("name", INT_TYPES)
def test_out_of_range_integer_names_field(name: str) -> None:
    too_big = int(np.iinfo(name).max) + 1
    with pytest.raises(InvalidMetadataError, match=r"x/zarr\.json: fill_value.*out of range"):
        parse_fill_value_v3(too_big, np.dtype(name), key="x/zarr.json")


def test_uint8_300_is_refused_at_normalisation() -> None:
    with pytest.raises(InvalidMetadataError, match="fill_value: invalid fill value 300"):
        normalize_fill_value(300, np.dtype("uint8"))


@pytest.mark.parametrize("name", FLOAT_TYPES)
@pytest.mark.parametrize(
    ("json_value", "check"),
    [
        ("NaN", math.isnan),
        ("Infinity", lambda v: v == math.inf),
        ("-Infinity", lambda v: v == -math.inf),
        (1.5, lambda v: v == 1.5),
        (-0.0, lambda v: v == 0 and math.copysign(1, v) < 0),
        (3, lambda v: v == 3),
    ],
)
def test_float_encodings(name: str, json_value: Any, check: Any) -> None:
    dtype = np.dtype(name)
    parsed = parse_fill_value_v3(json_value, dtype)
    assert parsed.dtype == dtype and check(float(parsed))
    _round_trip(json_value, dtype)


@pytest.mark.parametrize(
    ("name", "hex_value", "expected"),
    [
        ("float32", "0x7fc00000", math.nan),
        ("float32", "0x3f800000", 1.0),
        ("float64", "0x3ff0000000000000", 1.0),
        ("float16", "0x3c00", 1.0),
        ("float16", "0x7c00", math.inf),
    ],
)
def test_hex_floats(name: str, hex_value: str, expected: float) -> None:
    parsed = parse_fill_value_v3(hex_value, np.dtype(name))
    assert parsed.dtype == np.dtype(name)
    if math.isnan(expected):
        assert math.isnan(parsed)
        assert encode_fill_value_v3(parsed, np.dtype(name)) == "NaN"
    else:
        assert float(parsed) == expected


def test_nan_payload_survives_as_hex() -> None:
    dtype = np.dtype("float32")
    parsed = parse_fill_value_v3("0x7fc00001", dtype)
    assert encode_fill_value_v3(parsed, dtype) == "0x7fc00001"
    assert not fill_values_equal(parsed, np.float32(np.nan))


@pytest.mark.parametrize("bad", ["0x7fc0", "0xZZZZZZZZ", "nan", "1.5", [1.0], True, None, {}])
def test_bad_float_fill_names_field(bad: Any) -> None:
    with pytest.raises(InvalidMetadataError, match=r"k: fill_value"):
        parse_fill_value_v3(bad, np.dtype("float32"), key="k")


def test_float32_overflow_is_refused() -> None:
    with pytest.raises(InvalidMetadataError, match="out of range"):
        parse_fill_value_v3(1e300, np.dtype("float32"))


@pytest.mark.parametrize("name", COMPLEX_TYPES)
@pytest.mark.parametrize(
    "pair", [[1.0, 2.0], ["NaN", 0.0], ["Infinity", "-Infinity"], [0, -3], ["0x3f800000", 1]]
)
def test_complex_pairs(name: str, pair: list[Any]) -> None:
    dtype = np.dtype(name)
    if name == "complex128" and isinstance(pair[0], str) and pair[0].startswith("0x"):
        pair = ["0x3ff0000000000000", 1]
    parsed = parse_fill_value_v3(pair, dtype)
    assert parsed.dtype == dtype
    encoded = encode_fill_value_v3(parsed, dtype)
    assert isinstance(encoded, list) and len(encoded) == 2
    _round_trip(pair, dtype)


@pytest.mark.parametrize("bad", [1.0, [1.0], [1, 2, 3], "NaN", None])
def test_complex_needs_a_pair(bad: Any) -> None:
    with pytest.raises(InvalidMetadataError, match="fill_value"):
        parse_fill_value_v3(bad, np.dtype("complex64"))


def test_bool() -> None:
    dtype = np.dtype("bool")
    assert parse_fill_value_v3(True, dtype) is np.True_
    assert encode_fill_value_v3(np.False_, dtype) is False
    with pytest.raises(InvalidMetadataError):
        parse_fill_value_v3(1, dtype)
    # zarr-python 2 sometimes wrote 0/1 for booleans in .zarray.
    assert parse_fill_value_v2(1, dtype) is np.True_


def test_integer_refuses_bool_and_fraction() -> None:
    with pytest.raises(InvalidMetadataError):
        parse_fill_value_v3(True, np.dtype("int32"))
    with pytest.raises(InvalidMetadataError, match="not an integer"):
        parse_fill_value_v3(1.5, np.dtype("int32"))
    assert parse_fill_value_v3(2.0, np.dtype("int32")) == 2


def test_strings() -> None:
    assert parse_fill_value_v3("abc", STRING_DTYPE) == "abc"
    assert encode_fill_value_v3("é", STRING_DTYPE) == "é"
    with pytest.raises(InvalidMetadataError):
        parse_fill_value_v3(0, STRING_DTYPE)
    # zarr-python 2 wrote 0 for object arrays; v2 reads it as the empty string.
    assert parse_fill_value_v2(0, STRING_DTYPE) == ""


def test_v2_null_and_v3_null() -> None:
    assert parse_fill_value_v2(None, np.dtype("int32")) is None
    assert encode_fill_value_v2(None, np.dtype("int32")) is None
    with pytest.raises(InvalidMetadataError, match="null"):
        parse_fill_value_v3(None, np.dtype("int32"), key="a/zarr.json")


@pytest.mark.parametrize(
    ("value", "name", "expected"),
    [
        (None, "float32", 0.0),
        (np.nan, "float32", math.nan),
        ("NaN", "float64", math.nan),
        (np.array(3), "int16", 3),
        (np.float64(2.5), "float16", 2.5),
        (1 + 2j, "complex64", 1 + 2j),
        ([1, 2], "complex128", 1 + 2j),
        (True, "bool", True),
    ],
)
def test_normalize_fill_value(value: Any, name: str, expected: Any) -> None:
    out = normalize_fill_value(value, np.dtype(name))
    assert out.dtype == np.dtype(name)
    if isinstance(expected, float) and math.isnan(expected):
        assert np.isnan(out)
    else:
        assert out == expected


@pytest.mark.parametrize(
    ("value", "name"), [("a", "int8"), (1.5, "int8"), (2, "bool"), (1, "string"), ([1], "f4")]
)
def test_normalize_fill_value_refuses(value: Any, name: str) -> None:
    dtype = STRING_DTYPE if name == "string" else np.dtype(name)
    with pytest.raises(InvalidMetadataError, match="fill_value"):
        normalize_fill_value(value, dtype)


@given(st.floats(width=32, allow_nan=True, allow_infinity=True))
def test_float32_round_trip_is_bitwise(value: float) -> None:
    dtype = np.dtype("float32")
    parsed = normalize_fill_value(value, dtype)
    assert fill_values_equal(
        parse_fill_value_v3(encode_fill_value_v3(parsed, dtype), dtype), parsed
    )


@given(st.integers(min_value=0, max_value=2**16 - 1))
def test_any_float16_bit_pattern_round_trips(bits: int) -> None:
    dtype = np.dtype("float16")
    value = np.frombuffer(bits.to_bytes(2, "little"), dtype="<f2")[0]
    encoded = encode_fill_value_v3(value, dtype)
    assert fill_values_equal(parse_fill_value_v3(encoded, dtype), value)


@given(st.complex_numbers(allow_nan=True, allow_infinity=True))
def test_complex128_round_trip(value: complex) -> None:
    dtype = np.dtype("complex128")
    parsed = normalize_fill_value(value, dtype)
    assert fill_values_equal(
        parse_fill_value_v3(encode_fill_value_v3(parsed, dtype), dtype), parsed
    )


@given(st.integers(min_value=-(2**63), max_value=2**64 - 1), st.sampled_from(INT_TYPES))
def test_integers_in_range_round_trip_and_out_of_range_fail(value: int, name: str) -> None:
    info = np.iinfo(name)
    dtype = np.dtype(name)
    if info.min <= value <= info.max:
        assert encode_fill_value_v3(parse_fill_value_v3(value, dtype), dtype) == value
    else:
        with pytest.raises(InvalidMetadataError, match="out of range"):
            parse_fill_value_v3(value, dtype)


@given(st.text())
def test_string_round_trip(value: str) -> None:
    assert parse_fill_value_v3(encode_fill_value_v3(value, STRING_DTYPE), STRING_DTYPE) == value


def test_v2_writes_nan_payloads_as_plain_nan_for_zarr_python() -> None:
    # zarr-python's v2 reader refuses "0x..." fill values; v2 keeps no NaN payload.
    dtype = np.dtype("<f4")
    parsed = parse_fill_value_v2("0x7fc00001", dtype)
    assert fill_values_equal(parsed, np.float32(np.nan))
    odd = np.frombuffer(bytes.fromhex("0100c0ff"), "<f4")[0]
    assert encode_fill_value_v2(odd, dtype) == "NaN"
    pair = np.array(complex(odd, 1), dtype="c8")[()]
    assert encode_fill_value_v2(pair, np.dtype("c8")) == ["NaN", 1.0]
