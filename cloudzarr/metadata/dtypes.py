"""Zarr data types <-> numpy dtypes, for both formats, as zarr-python 3.4.2 writes them.

Supported: ``bool``, ``int8``..``int64``, ``uint8``..``uint64``, ``float16/32/64``,
``complex64/128``, ``datetime64`` / ``timedelta64`` in every unit (scale factors too: ``M8[10s]``),
fixed-width unicode (``U``), fixed-width bytes (``S``), raw bytes (``V``), structured dtypes
without subarray fields, variable-length UTF-8 strings and variable-length bytes.

- Zarr v3 names carry no byte order (``"float32"``); the numpy dtype of a v3 array is native and
  the ``bytes`` codec decides the stored order. The other types are objects, as zarr-python
  names them: ``{"name": "numpy.datetime64", "configuration": {"unit": "ns", "scale_factor": 1}}``,
  ``fixed_length_utf32`` / ``null_terminated_bytes`` / ``raw_bytes`` with ``length_bytes``, and
  ``struct`` with a list of ``{"name", "data_type"}`` fields. Strings are ``"string"`` with the
  ``vlen-utf8`` codec, bytes ``"variable_length_bytes"`` with ``vlen-bytes``.
- Zarr v2 strings keep their byte order (``"<i4"``, ``">M8[ns]"``, ``"|S5"``); the numpy dtype keeps
  it too, so a document round-trips exactly. Structured dtypes are lists of ``[name, dtype]``.
  Variable strings are ``"|O"`` with a ``vlen-utf8`` filter, variable bytes ``"|O"`` with
  ``vlen-bytes``.
- Variable strings map to ``numpy.dtypes.StringDType()`` (what zarr-python 3.4.2 returns with
  numpy 2); fixed-width ``"<U8"`` stays ``<U8``. Variable bytes are an object array of ``bytes``
  (``dtype="variable_length_bytes"`` creates one). ``dtype=object`` is refused, as zarr-python
  does: it does not say which object codec to use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from cloudzarr.errors import UnsupportedDataTypeError

__all__ = [
    "BYTES_DTYPE",
    "DATETIME_UNITS",
    "STRING_DTYPE",
    "V3_DATA_TYPES",
    "has_byte_order",
    "is_string_dtype",
    "is_vlen_bytes_dtype",
    "normalize_dtype",
    "parse_v2_dtype",
    "parse_v3_data_type",
    "v2_dtype_string",
    "v3_data_type_name",
]

STRING_DTYPE: np.dtype[Any] = np.dtypes.StringDType()
#: Variable-length bytes: an object array of ``bytes``, as zarr-python holds them.
BYTES_DTYPE: np.dtype[Any] = np.dtype("O")

#: v3 data type name -> native numpy dtype (the types named by a plain string).
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
    "variable_length_bytes": BYTES_DTYPE,
}

#: numpy's datetime/timedelta units ("generic" is a unit-less ``M8`` / ``m8``).
DATETIME_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as", "generic")

_NUMERIC_KINDS = {"b", "i", "u", "f", "c"}
_FIXED_KINDS = _NUMERIC_KINDS | {"M", "m", "U", "S", "V"}
_VLEN_STRING_FILTER_IDS = {"vlen-utf8"}
_TIME_NAMES = {"M": "numpy.datetime64", "m": "numpy.timedelta64"}
_SIZED_NAMES = {"U": "fixed_length_utf32", "S": "null_terminated_bytes", "V": "raw_bytes"}


def _where(key: str | None, field: str) -> str:
    return f"{key}: {field}" if key else field


def is_string_dtype(dtype: np.dtype[Any]) -> bool:
    """Whether ``dtype`` is the variable-length string type (StringDType or object)."""
    return isinstance(dtype, np.dtypes.StringDType) or dtype == np.dtype("O")


def is_vlen_bytes_dtype(dtype: np.dtype[Any]) -> bool:
    """Whether ``dtype`` is the variable-length bytes type (an object array of ``bytes``)."""
    return not isinstance(dtype, np.dtypes.StringDType) and dtype == BYTES_DTYPE


def has_byte_order(dtype: np.dtype[Any]) -> bool:
    """Whether the stored bytes of ``dtype`` depend on byte order (the ``bytes`` codec then
    needs ``endian``): multi-byte numbers, datetimes, UTF-32 and structs holding any of them."""
    if is_string_dtype(dtype):
        return False
    if dtype.fields is not None:
        return any(has_byte_order(dtype.fields[name][0]) for name in dtype.names or ())
    return dtype.byteorder != "|"


def _check_fixed(np_dtype: np.dtype[Any], text: Any, where: str) -> np.dtype[Any]:
    """``np_dtype`` if it is a supported fixed-size type, else a typed error naming ``text``."""
    if np_dtype.shape:
        raise UnsupportedDataTypeError(f"{where}: unsupported data type {text!r} (subarray)")
    if np_dtype.fields is not None:
        for name in np_dtype.names or ():
            field = np_dtype.fields[name][0]
            if field.shape or field.fields is not None:
                raise UnsupportedDataTypeError(
                    f"{where}: unsupported data type {text!r} (field {name!r} is a subarray or "
                    "nested struct, which zarr-python 3.4.2 does not store either)"
                )
            _check_fixed(field, text, where)
        return np_dtype
    if np_dtype.kind not in _FIXED_KINDS:
        raise UnsupportedDataTypeError(f"{where}: unsupported data type {text!r}")
    if np_dtype.kind in "USV" and np_dtype.itemsize == 0:
        raise UnsupportedDataTypeError(f"{where}: data type {text!r} has no length")
    return np_dtype


def normalize_dtype(dtype: Any, *, field: str = "dtype") -> np.dtype[Any]:
    """Turn user input into a supported numpy dtype.

    Accepts numpy dtypes and their spellings (``"f4"``, ``np.float32``, ``">i8"``,
    ``"M8[ns]"``, ``"<U8"``, ``"S5"``, structured lists), v3 names (``"float32"``, ``"string"``)
    and ``str`` / ``"str"`` / StringDType for variable-length strings.

    Raises
    ------
    UnsupportedDataTypeError
        Naming the rejected type (``object`` included: it is ambiguous, as in zarr-python).
    """
    if isinstance(dtype, str) and dtype in V3_DATA_TYPES:
        return V3_DATA_TYPES[dtype]
    if dtype is str or dtype == "str":
        return STRING_DTYPE
    if isinstance(dtype, np.dtype) and is_vlen_bytes_dtype(dtype):
        # Only a dtype instance (what an opened array holds): the spellings object / "O" stay
        # refused, as in zarr-python; "variable_length_bytes" names the type.
        return BYTES_DTYPE
    if isinstance(dtype, Mapping):
        return parse_v3_data_type(dtype, field=field)
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        raise UnsupportedDataTypeError(f"{field}: unsupported data type {dtype!r}") from None
    if np_dtype.kind == "T":
        return STRING_DTYPE
    if np_dtype.kind == "O":
        raise UnsupportedDataTypeError(
            f"{field}: data type object is ambiguous (which object codec?); use str or "
            "'string' for variable-length strings"
        )
    return _check_fixed(np_dtype, np_dtype.str, field)


def _length(config: Any, where: str, multiple: int = 1) -> int:
    length = config.get("length_bytes") if isinstance(config, Mapping) else None
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise UnsupportedDataTypeError(f"{where}: configuration.length_bytes must be an int >= 1")
    if length % multiple:
        raise UnsupportedDataTypeError(
            f"{where}: configuration.length_bytes must be a multiple of {multiple}"
        )
    return length


def _parse_named(value: Mapping[str, Any], where: str) -> np.dtype[Any]:
    name = value.get("name")
    config = value.get("configuration", {})
    if name in ("numpy.datetime64", "numpy.timedelta64"):
        unit = config.get("unit") if isinstance(config, Mapping) else None
        scale = config.get("scale_factor", 1) if isinstance(config, Mapping) else None
        if unit not in DATETIME_UNITS:
            raise UnsupportedDataTypeError(f"{where}: {name}: unknown unit {unit!r}")
        if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale < 2**31:
            raise UnsupportedDataTypeError(f"{where}: {name}: scale_factor must be an int >= 1")
        letter = "M" if name == "numpy.datetime64" else "m"
        if unit == "generic":
            return np.dtype(letter + "8")
        return np.dtype(f"{letter}8[{'' if scale == 1 else scale}{unit}]")
    if name == "fixed_length_utf32":
        return np.dtype(f"U{_length(config, where, 4) // 4}")
    if name == "null_terminated_bytes":
        return np.dtype(f"S{_length(config, where)}")
    if name == "raw_bytes":
        return np.dtype(f"V{_length(config, where)}")
    if name == "struct":
        fields = config.get("fields") if isinstance(config, Mapping) else None
        if not isinstance(fields, list) or not fields:
            raise UnsupportedDataTypeError(f"{where}: struct: configuration.fields must be a list")
        parts: list[tuple[str, np.dtype[Any]]] = []
        for i, item in enumerate(fields):
            if isinstance(item, Mapping):
                fname, ftype = item.get("name"), item.get("data_type")
            elif isinstance(item, list | tuple) and len(item) == 2:
                fname, ftype = item
            else:
                raise UnsupportedDataTypeError(f"{where}: struct: field {i} is malformed")
            if not isinstance(fname, str) or not fname:
                raise UnsupportedDataTypeError(f"{where}: struct: field {i} has no name")
            fdt = parse_v3_data_type(ftype, field=f"{where}: struct field {fname!r}")
            if is_string_dtype(fdt) or fdt.fields is not None:
                raise UnsupportedDataTypeError(
                    f"{where}: struct field {fname!r}: only fixed-size, non-struct types"
                )
            parts.append((fname, fdt))
        try:
            return np.dtype(parts)
        except (TypeError, ValueError) as exc:
            raise UnsupportedDataTypeError(f"{where}: struct: {exc}") from None
    raise UnsupportedDataTypeError(f"{where}: unsupported data type extension {name!r}")


def parse_v3_data_type(
    value: Any, *, key: str | None = None, field: str = "data_type"
) -> np.dtype[Any]:
    """Parse a v3 ``data_type`` (a name or a ``{"name", "configuration"}`` object) into a
    native numpy dtype.

    Raises
    ------
    UnsupportedDataTypeError
        For unknown names or malformed configurations, naming the key.
    """
    where = _where(key, field)
    if isinstance(value, Mapping):
        return _parse_named(value, where)
    if not isinstance(value, str) or value not in V3_DATA_TYPES:
        raise UnsupportedDataTypeError(f"{where}: unsupported data type {value!r}")
    return V3_DATA_TYPES[value]


def _native(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return dtype.newbyteorder("=") if dtype.byteorder in ("<", ">") else dtype


def v3_data_type_name(dtype: np.dtype[Any]) -> str | dict[str, Any]:
    """The v3 ``data_type`` of a supported numpy dtype (byte order ignored), as zarr-python
    3.4.2 writes it: a name, or an object for datetimes, fixed-width and struct types."""
    if is_vlen_bytes_dtype(dtype):
        return "variable_length_bytes"
    if is_string_dtype(dtype):
        return "string"
    if dtype.fields is not None:
        fields = [
            {"name": name, "data_type": v3_data_type_name(dtype.fields[name][0])}
            for name in dtype.names or ()
        ]
        return {"name": "struct", "configuration": {"fields": fields}}
    kind = dtype.kind
    if kind in _TIME_NAMES:
        unit, scale = np.datetime_data(dtype)
        return {"name": _TIME_NAMES[kind], "configuration": {"unit": unit, "scale_factor": scale}}
    if kind in _SIZED_NAMES:
        return {"name": _SIZED_NAMES[kind], "configuration": {"length_bytes": dtype.itemsize}}
    native = _native(dtype)
    for name, candidate in V3_DATA_TYPES.items():
        if candidate == native:
            return name
    raise UnsupportedDataTypeError(f"data_type: unsupported data type {dtype.str!r}")


def native_v3_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype a v3 array of ``dtype`` holds in memory (native byte order, fields too)."""
    return parse_v3_data_type(v3_data_type_name(dtype))


def parse_v2_dtype(
    value: Any,
    *,
    filters: Iterable[Mapping[str, Any]] | None = None,
    key: str | None = None,
    field: str = "dtype",
) -> np.dtype[Any]:
    """Parse a v2 ``dtype`` (a string, or a list of ``[name, dtype]`` for structs), keeping
    its byte order.

    ``"|O"`` is accepted with a ``vlen-utf8`` filter (strings) or a ``vlen-bytes`` filter
    (bytes); other object codecs (pickle, msgpack, JSON) are refused.

    Raises
    ------
    UnsupportedDataTypeError
        Naming the key and the dtype.
    """
    where = _where(key, field)
    if isinstance(value, list):
        parts: list[tuple[str, str]] = []
        for item in value:
            if (
                not isinstance(item, list)
                or len(item) != 2
                or not all(isinstance(x, str) for x in item)
            ):
                raise UnsupportedDataTypeError(
                    f"{where}: unsupported structured field {item!r} (only [name, dtype])"
                )
            parts.append((item[0], item[1]))
        try:
            np_dtype = np.dtype(parts)
        except (TypeError, ValueError) as exc:
            raise UnsupportedDataTypeError(f"{where}: unsupported data type: {exc}") from None
        return _check_fixed(np_dtype, value, where)
    if not isinstance(value, str):
        raise UnsupportedDataTypeError(f"{where}: unsupported data type {value!r}")
    if value in ("|O", "O", "<O", ">O"):
        ids = {f.get("id") for f in (filters or ()) if isinstance(f, Mapping)}
        if ids & _VLEN_STRING_FILTER_IDS:
            return STRING_DTYPE
        if "vlen-bytes" in ids:
            return BYTES_DTYPE
        raise UnsupportedDataTypeError(
            f"{where}: object data type {value!r} without a vlen-utf8 or vlen-bytes filter "
            "is not supported"
        )
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        raise UnsupportedDataTypeError(f"{where}: unsupported data type {value!r}") from None
    return _check_fixed(np_dtype, value, where)


def v2_dtype_string(dtype: np.dtype[Any]) -> str | list[list[str]]:
    """The v2 ``dtype`` (``"<f4"``, ``"|b1"``, ``"<M8[ns]"``, ``"|O"`` for strings, a list of
    ``[name, dtype]`` for structs)."""
    if is_string_dtype(dtype):
        return "|O"
    if dtype.fields is not None:
        _check_fixed(dtype, dtype.descr, "dtype")
        return [[name, dtype.fields[name][0].str] for name in dtype.names or ()]
    _check_fixed(dtype, dtype.str, "dtype")
    return dtype.str
