"""Fill values: parsing, encoding and validation for every supported dtype, both formats.

A parsed fill value is a numpy scalar of the array's dtype (``np.float32(nan)``, ``np.int16(3)``,
``np.bool_(False)``, ``np.complex64(1+2j)``), or a ``str`` for string arrays (the scalar type of
``StringDType``). Zarr v2 also allows ``null`` (no fill value): :func:`parse_fill_value_v2`
returns ``None`` for it and readers use :func:`default_fill_value` for missing chunks.

JSON encodings (the Zarr v3 spec; zarr-python 3.4.2 uses the same for v2 except hex floats,
which its v2 reader refuses: v2 writes every NaN as ``"NaN"`` and keeps no NaN payload):

- bool: ``true`` / ``false``; integers: JSON integers, range-checked against the dtype;
- floats: a JSON number, ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, or a hex string of the
  IEEE bits, big-endian (``"0x7fc00000"`` for a float32). NaNs other than the canonical quiet NaN
  are written as hex, so their payload survives a round trip;
- complex: ``[real, imag]``, each part encoded as a float;
- strings and fixed-width unicode (``U``): a JSON string;
- datetime64 / timedelta64: the int64 count of units, ``NaT`` being ``-2**63``;
- fixed-width bytes (``S``) and raw bytes (``V``): base64 of the bytes;
- structs: v3 an object ``{field: encoded field value}``, v2 base64 of the element's bytes.

This is what zarr-python 3.4.2 writes; the default fill value of a datetime is ``NaT`` like there.

Fill values compare bitwise (:func:`fill_values_equal`), so NaN equals itself.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

from cloudzarr.errors import InvalidMetadataError
from cloudzarr.metadata.dtypes import is_string_dtype, is_vlen_bytes_dtype

__all__ = [
    "canonical_nans",
    "default_fill_value",
    "encode_fill_value_v2",
    "encode_fill_value_v3",
    "fill_values_equal",
    "normalize_fill_value",
    "parse_fill_value_v2",
    "parse_fill_value_v3",
]

_FLOAT_MAX = {n: float(np.finfo(f"f{n}").max) for n in (2, 4, 8)}
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _where(key: str | None, field: str) -> str:
    return f"{key}: {field}" if key else field


def _native(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return dtype.newbyteorder("=") if dtype.byteorder in ("<", ">") else dtype


_NAT = -(2**63)


def _time_scalar(count: int, dtype: np.dtype[Any]) -> Any:
    return np.array(count, dtype=np.int64).view(_native(dtype))[()]


def default_fill_value(dtype: np.dtype[Any]) -> Any:
    """The fill value used when none is given: zero, ``False``, ``0j``, ``""``, ``NaT``,
    empty bytes, or all-zero bytes for raw and struct types (zarr-python 3.4.2's defaults)."""
    if is_vlen_bytes_dtype(dtype):
        return b""
    if is_string_dtype(dtype):
        return ""
    kind = dtype.kind
    if kind in "Mm":
        return _time_scalar(_NAT, dtype)
    if kind == "U":
        return np.str_("")
    if kind == "S":
        return np.bytes_(b"")
    if kind == "V":
        return np.zeros((), dtype=dtype)[()]
    return _native(dtype).type(0)


def _b64decode(value: Any, dtype: np.dtype[Any], where: str) -> bytes:
    if not isinstance(value, str):
        raise _error(where, value, dtype, "expected a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _error(where, value, dtype, "not base64") from None


def _parse_time(value: Any, dtype: np.dtype[Any], where: str) -> Any:
    if isinstance(value, str) and value == "NaT":
        return _time_scalar(_NAT, dtype)
    # np.timedelta64 is an np.integer: it is not a bare count of units.
    if isinstance(value, bool | np.timedelta64) or not isinstance(value, int | np.integer):
        raise _error(where, value, dtype, "expected an integer count of units")
    if not _NAT <= int(value) < 2**63:
        raise _error(where, value, dtype, "out of the int64 range")
    return _time_scalar(int(value), dtype)


def _parse_sized(value: Any, dtype: np.dtype[Any], where: str) -> Any:
    """Fill values of ``U``, ``S``, ``V`` and struct types from their JSON form."""
    kind = dtype.kind
    if kind == "U":
        if not isinstance(value, str):
            raise _error(where, value, dtype)
        if len(value) > dtype.itemsize // 4:
            raise _error(where, value, dtype, "longer than the type")
        return np.str_(value)
    if dtype.fields is not None and isinstance(value, dict):
        out = np.zeros((), dtype=dtype)
        for name in dtype.names or ():
            if name not in value:
                raise _error(where, value, dtype, f"field {name!r} missing")
            field_dtype = dtype.fields[name][0]
            out[name] = _parse_json(value[name], field_dtype, where, lenient=False)
        return out[()]
    raw = _b64decode(value, dtype, where)
    if kind == "S":
        if len(raw) > dtype.itemsize:
            raise _error(where, value, dtype, "longer than the type")
        return np.bytes_(raw)
    if len(raw) != dtype.itemsize:
        raise _error(where, value, dtype, f"expected {dtype.itemsize} bytes")
    return np.frombuffer(raw, dtype=dtype)[0]


def _error(where: str, value: Any, dtype: np.dtype[Any], why: str = "") -> InvalidMetadataError:
    name = "string" if is_string_dtype(dtype) else _native(dtype).name
    if is_vlen_bytes_dtype(dtype):
        name = "variable_length_bytes"
    suffix = f" ({why})" if why else ""
    return InvalidMetadataError(f"{where}: invalid fill value {value!r} for dtype {name}{suffix}")


def _parse_hex_float(text: str, dtype: np.dtype[Any], where: str) -> Any:
    digits = text[2:]
    if len(digits) != 2 * dtype.itemsize:
        raise _error(where, text, dtype, f"hex must have {2 * dtype.itemsize} digits")
    try:
        raw = int(digits, 16).to_bytes(dtype.itemsize, "big")
    except ValueError:
        raise _error(where, text, dtype, "not a hex number") from None
    return np.frombuffer(raw, dtype=_native(dtype).newbyteorder(">"))[0].astype(_native(dtype))


def _parse_float(value: Any, dtype: np.dtype[Any], where: str) -> Any:
    native = _native(dtype)
    if isinstance(value, str):
        if value in _SPECIAL_FLOATS:
            return native.type(_SPECIAL_FLOATS[value])
        if value.startswith(("0x", "0X")):
            return _parse_hex_float(value, native, where)
        raise _error(where, value, dtype)
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _error(where, value, dtype)
    as_float = float(value)
    # Checked by hand: np.errstate costs more than the whole parse of a small document.
    if math.isfinite(as_float) and abs(as_float) > _FLOAT_MAX[native.itemsize]:
        raise _error(where, value, dtype, "out of range")
    return native.type(value)


def _parse_int(value: Any, dtype: np.dtype[Any], where: str) -> Any:
    if isinstance(value, bool | np.bool_):
        raise _error(where, value, dtype)
    if isinstance(value, float | np.floating):
        if not float(value).is_integer():
            raise _error(where, value, dtype, "not an integer")
        value = int(value)
    if not isinstance(value, int | np.integer):
        raise _error(where, value, dtype)
    info = np.iinfo(dtype)
    if not info.min <= int(value) <= info.max:
        raise _error(where, value, dtype, f"out of range [{info.min}, {info.max}]")
    return _native(dtype).type(int(value))


def _parse_json(value: Any, dtype: np.dtype[Any], where: str, *, lenient: bool) -> Any:
    if is_vlen_bytes_dtype(dtype):
        if lenient and value == 0 and not isinstance(value, bool):
            return b""
        return _b64decode(value, dtype, where)
    if is_string_dtype(dtype):
        if isinstance(value, str):
            return value
        if lenient and value == 0 and not isinstance(value, bool):
            # zarr-python 2 wrote 0 as the fill value of object (string) arrays.
            return ""
        raise _error(where, value, dtype)
    kind = dtype.kind
    if kind == "b":
        if isinstance(value, bool | np.bool_):
            return np.bool_(value)
        if lenient and isinstance(value, int) and value in (0, 1):
            return np.bool_(value)
        raise _error(where, value, dtype)
    if kind in "iu":
        return _parse_int(value, dtype, where)
    if kind == "f":
        return _parse_float(value, dtype, where)
    if kind == "c":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise _error(where, value, dtype, "complex fill values are [real, imag] pairs")
        part = np.dtype(f"f{dtype.itemsize // 2}")
        re = _parse_float(value[0], part, where)
        im = _parse_float(value[1], part, where)
        out = np.zeros((), dtype=_native(dtype))
        out.real = re
        out.imag = im
        return out[()]
    if kind in "Mm":
        return _parse_time(value, dtype, where)
    if kind in "USV":
        return _parse_sized(value, dtype, where)
    raise _error(where, value, dtype, "unsupported dtype")


def parse_fill_value_v3(
    value: Any, dtype: np.dtype[Any], *, key: str | None = None, field: str = "fill_value"
) -> Any:
    """Parse a v3 JSON fill value into a scalar of ``dtype``.

    Raises
    ------
    InvalidMetadataError
        If the value is missing, of the wrong form, or out of range; names key and field.
    """
    where = _where(key, field)
    if value is None:
        raise InvalidMetadataError(f"{where}: fill_value must not be null in Zarr v3")
    return _parse_json(value, dtype, where, lenient=False)


def parse_fill_value_v2(
    value: Any, dtype: np.dtype[Any], *, key: str | None = None, field: str = "fill_value"
) -> Any:
    """Parse a v2 JSON fill value; ``null`` gives ``None`` (no fill value).

    Raises
    ------
    InvalidMetadataError
        If the value is of the wrong form or out of range; names key and field.
    """
    if value is None:
        return None
    return canonical_nans(_parse_json(value, dtype, _where(key, field), lenient=True), dtype)


def canonical_nans(value: Any, dtype: np.dtype[Any]) -> Any:
    """``value`` with any NaN (or NaN part of a complex) replaced by the canonical quiet NaN.

    Zarr v2 fill values go through this: zarr-python's v2 reader refuses hex-encoded floats,
    so a NaN payload cannot be written to ``.zarray`` and is not kept in v2 metadata.
    """
    if value is None or is_string_dtype(dtype) or dtype.kind not in "fc":
        return value
    native = _native(dtype)
    if dtype.kind == "f":
        return native.type(np.nan) if np.isnan(value) else value
    real = np.nan if np.isnan(value.real) else value.real
    imag = np.nan if np.isnan(value.imag) else value.imag
    out = np.zeros((), dtype=native)
    out.real = real
    out.imag = imag
    return out[()]


def _encode_float(value: Any, dtype: np.dtype[Any]) -> Any:
    native = _native(dtype)
    scalar = native.type(value)
    if np.isnan(scalar):
        if scalar.tobytes() == native.type(np.nan).tobytes():
            return "NaN"
        bits = int.from_bytes(np.asarray(scalar, dtype=native.newbyteorder(">")).tobytes(), "big")
        return f"0x{bits:0{2 * native.itemsize}x}"
    if np.isinf(scalar):
        return "Infinity" if scalar > 0 else "-Infinity"
    return float(scalar)


def encode_fill_value_v3(value: Any, dtype: np.dtype[Any]) -> Any:
    """Encode a parsed fill value as v3 JSON (see the module docstring)."""
    if is_vlen_bytes_dtype(dtype):
        return base64.b64encode(bytes(value)).decode("ascii")
    if is_string_dtype(dtype):
        return str(value)
    kind = dtype.kind
    if kind in "Mm":
        return int(np.asarray(value, dtype=_native(dtype)).view(np.int64))
    if kind == "U":
        return str(value)
    if kind == "S":
        return base64.b64encode(bytes(value)).decode("ascii")
    if dtype.fields is not None:
        element = np.asarray(value, dtype=dtype)
        return {
            name: encode_fill_value_v3(element[name][()], dtype.fields[name][0])
            for name in dtype.names or ()
        }
    if kind == "V":
        return base64.b64encode(np.asarray(value, dtype=dtype).tobytes()).decode("ascii")
    if kind == "b":
        return bool(value)
    if kind in "iu":
        return int(value)
    if kind == "f":
        return _encode_float(value, dtype)
    if kind == "c":
        part = np.dtype(f"f{dtype.itemsize // 2}")
        scalar = _native(dtype).type(value)
        return [_encode_float(scalar.real, part), _encode_float(scalar.imag, part)]
    raise _error("fill_value", value, dtype, "unsupported dtype")


def encode_fill_value_v2(value: Any, dtype: np.dtype[Any]) -> Any:
    """Encode a parsed fill value (or ``None``) as v2 JSON, the way zarr-python 3.4.2 does
    (any NaN as ``"NaN"``: its v2 reader refuses hex floats)."""
    if value is None:
        return None
    if dtype.fields is not None:
        return base64.b64encode(np.asarray(value, dtype=dtype).tobytes()).decode("ascii")
    return encode_fill_value_v3(canonical_nans(value, dtype), dtype)


def normalize_fill_value(
    value: Any, dtype: np.dtype[Any], *, field: str = "fill_value", key: str | None = None
) -> Any:
    """Turn a user-given fill value into a scalar of ``dtype``; ``None`` gives the default.

    Accepts Python and numpy scalars, 0-d arrays, and the JSON encodings (``"NaN"``, hex...).

    Raises
    ------
    InvalidMetadataError
        If the value does not fit the dtype (300 for uint8, 1.5 for int32, "a" for float32...).
    """
    where = _where(key, field)
    if value is None:
        return default_fill_value(dtype)
    if isinstance(value, np.ndarray):
        if value.shape != ():
            raise _error(where, value, dtype, "must be a scalar")
        value = value[()]
    if is_vlen_bytes_dtype(dtype):
        if isinstance(value, bytes):
            return bytes(value)
        raise _error(where, value, dtype, "expected bytes")
    if is_string_dtype(dtype):
        if isinstance(value, str | np.str_):
            return str(value)
        raise _error(where, value, dtype)
    kind = dtype.kind
    if kind == "b":
        if isinstance(value, bool | np.bool_) or (isinstance(value, int) and value in (0, 1)):
            return np.bool_(bool(value))
        raise _error(where, value, dtype)
    if kind in "iu":
        return _parse_int(value, dtype, where)
    if kind == "f":
        return _parse_float(value, dtype, where)
    if kind == "c":
        if isinstance(value, list | tuple):
            return _parse_json(value, dtype, where, lenient=False)
        if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | complex | np.number
        ):
            raise _error(where, value, dtype)
        return _native(dtype).type(value)
    if kind in "Mm":
        if isinstance(value, int | np.integer) and not isinstance(
            value, bool | np.bool_ | np.timedelta64
        ):
            return _parse_time(value, dtype, where)
        if not isinstance(value, str | np.datetime64 | np.timedelta64):
            raise _error(where, value, dtype)
        try:
            return np.asarray(value).astype(_native(dtype))[()]
        except (TypeError, ValueError):
            raise _error(where, value, dtype) from None
    if kind == "U" and isinstance(value, str):
        return _parse_sized(value, dtype, where)
    if kind == "S" and isinstance(value, bytes):
        if len(value) > dtype.itemsize:
            raise _error(where, value, dtype, "longer than the type")
        return np.bytes_(value)
    if kind == "V":
        if isinstance(value, bytes) and dtype.fields is None:
            if len(value) != dtype.itemsize:
                raise _error(where, value, dtype, f"expected {dtype.itemsize} bytes")
            return np.frombuffer(value, dtype=dtype)[0]
        if isinstance(value, dict):
            return _parse_sized(value, dtype, where)
        try:
            return np.asarray(value, dtype=dtype)[()]
        except (TypeError, ValueError):
            raise _error(where, value, dtype) from None
    raise _error(where, value, dtype, "unsupported dtype")


def fill_values_equal(a: Any, b: Any) -> bool:
    """Bitwise equality of two parsed fill values (NaN equals NaN with the same payload)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    aa, bb = np.asarray(a), np.asarray(b)
    return aa.dtype == bb.dtype and aa.tobytes() == bb.tobytes()
