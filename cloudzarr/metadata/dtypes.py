"""Zarr data types <-> numpy dtypes, for both formats.

Supported: ``bool``, ``int8``..``int64``, ``uint8``..``uint64``, ``float16/32/64``,
``complex64/128`` and variable-length UTF-8 strings.

- Zarr v3 names carry no byte order (``"float32"``); the numpy dtype of a v3 array is native and
  the ``bytes`` codec decides the stored order. Strings are ``"string"`` (what zarr-python 3.4.2
  writes) with the ``vlen-utf8`` codec.
- Zarr v2 strings keep their byte order (``"<i4"``, ``">f8"``, ``"|b1"``); the numpy dtype keeps
  it too, so a document round-trips exactly. Strings are ``"|O"`` with a ``vlen-utf8`` filter.
- Strings map to ``numpy.dtypes.StringDType()`` (what zarr-python 3.4.2 returns with numpy 2);
  object arrays of ``str`` are accepted on write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from cloudzarr.errors import UnsupportedDataTypeError

__all__ = [
    "STRING_DTYPE",
    "V3_DATA_TYPES",
    "is_string_dtype",
    "normalize_dtype",
    "parse_v2_dtype",
    "parse_v3_data_type",
    "v2_dtype_string",
    "v3_data_type_name",
]

STRING_DTYPE: np.dtype[Any] = np.dtypes.StringDType()

#: v3 data type name -> native numpy dtype.
V3_DATA_TYPES: dict[str, np.dtype[Any]] = {
    "bool": np.dtype("bool"),
    "int8": np.dtype("int8"),
    "int16": np.dtype("int16"),
    "int32": np.dtype("int32"),
    "int64": np.dtype("int64"),
    "uint8": np.dtype("uint8"),
    "uint16": np.dtype("uint16"),
    "uint32": np.dtype("uint32"),
    "uint64": np.dtype("uint64"),
    "float16": np.dtype("float16"),
    "float32": np.dtype("float32"),
    "float64": np.dtype("float64"),
    "complex64": np.dtype("complex64"),
    "complex128": np.dtype("complex128"),
    "string": STRING_DTYPE,
}

_NUMERIC_KINDS = {"b", "i", "u", "f", "c"}
_VLEN_STRING_FILTER_IDS = {"vlen-utf8"}


def _where(key: str | None, field: str) -> str:
    return f"{key}: {field}" if key else field


def is_string_dtype(dtype: np.dtype[Any]) -> bool:
    """Whether ``dtype`` is the variable-length string type (StringDType or object)."""
    return isinstance(dtype, np.dtypes.StringDType) or dtype == np.dtype("O")


def normalize_dtype(dtype: Any, *, field: str = "dtype") -> np.dtype[Any]:
    """Turn user input into a supported numpy dtype.

    Accepts numpy dtypes and their spellings (``"f4"``, ``np.float32``, ``">i8"``), v3 names
    (``"float32"``, ``"string"``), ``str`` / ``"str"`` / ``object`` / ``"O"`` for strings
    (fixed-width ``"U5"`` too: it becomes variable-length).

    Raises
    ------
    UnsupportedDataTypeError
        Naming the rejected type.
    """
    if isinstance(dtype, str) and dtype in V3_DATA_TYPES:
        return V3_DATA_TYPES[dtype]
    if dtype is str or dtype == "str":
        return STRING_DTYPE
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        raise UnsupportedDataTypeError(f"{field}: unsupported data type {dtype!r}") from None
    if np_dtype.kind in ("O", "U", "T"):
        return STRING_DTYPE
    if np_dtype.kind not in _NUMERIC_KINDS or np_dtype.fields is not None or np_dtype.shape:
        raise UnsupportedDataTypeError(f"{field}: unsupported data type {np_dtype.str!r}")
    return np_dtype


def parse_v3_data_type(
    value: Any, *, key: str | None = None, field: str = "data_type"
) -> np.dtype[Any]:
    """Parse a v3 ``data_type`` into a native numpy dtype.

    Raises
    ------
    UnsupportedDataTypeError
        For names outside :data:`V3_DATA_TYPES` (extension data types included), naming the key.
    """
    if isinstance(value, Mapping):
        name = value.get("name")
        raise UnsupportedDataTypeError(
            f"{_where(key, field)}: unsupported data type extension {name!r}"
        )
    if not isinstance(value, str) or value not in V3_DATA_TYPES:
        raise UnsupportedDataTypeError(f"{_where(key, field)}: unsupported data type {value!r}")
    return V3_DATA_TYPES[value]


def v3_data_type_name(dtype: np.dtype[Any]) -> str:
    """The v3 ``data_type`` name of a supported numpy dtype (byte order ignored)."""
    if is_string_dtype(dtype):
        return "string"
    native = dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype
    for name, candidate in V3_DATA_TYPES.items():
        if candidate == native:
            return name
    raise UnsupportedDataTypeError(f"data_type: unsupported data type {dtype.str!r}")


def parse_v2_dtype(
    value: Any,
    *,
    filters: Iterable[Mapping[str, Any]] | None = None,
    key: str | None = None,
    field: str = "dtype",
) -> np.dtype[Any]:
    """Parse a v2 ``dtype`` string, keeping its byte order.

    ``"|O"`` is accepted only with a ``vlen-utf8`` filter (strings); other object codecs
    (pickle, msgpack, vlen-bytes) are refused.

    Raises
    ------
    UnsupportedDataTypeError
        Naming the key and the dtype.
    """
    where = _where(key, field)
    if not isinstance(value, str):
        # Structured dtypes are lists in v2; none are supported.
        raise UnsupportedDataTypeError(f"{where}: unsupported data type {value!r}")
    if value in ("|O", "O", "<O", ">O"):
        ids = {f.get("id") for f in (filters or ()) if isinstance(f, Mapping)}
        if ids & _VLEN_STRING_FILTER_IDS:
            return STRING_DTYPE
        raise UnsupportedDataTypeError(
            f"{where}: object data type {value!r} without a vlen-utf8 filter is not supported"
        )
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        raise UnsupportedDataTypeError(f"{where}: unsupported data type {value!r}") from None
    if np_dtype.kind not in _NUMERIC_KINDS or np_dtype.fields is not None or np_dtype.shape:
        raise UnsupportedDataTypeError(f"{where}: unsupported data type {value!r}")
    return np_dtype


def v2_dtype_string(dtype: np.dtype[Any]) -> str:
    """The v2 ``dtype`` string (``"<f4"``, ``"|b1"``, ``"|O"`` for strings)."""
    if is_string_dtype(dtype):
        return "|O"
    if dtype.kind not in _NUMERIC_KINDS:
        raise UnsupportedDataTypeError(f"dtype: unsupported data type {dtype.str!r}")
    return dtype.str
