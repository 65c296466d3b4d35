"""Values assigned to an array, checked and shaped before any chunk is written."""

from __future__ import annotations

from typing import Any

import numpy as np

from cloudzarr.arrays.casting import castable
from cloudzarr.errors import ArrayShapeError
from cloudzarr.metadata.dtypes import is_string_dtype

__all__ = ["prepare_value"]


def prepare_value(
    value: Any, dtype: np.dtype[Any], shape: tuple[int, ...], where: str
) -> np.ndarray[Any, Any]:
    """``value`` as an array of ``dtype`` broadcast to ``shape``, or ArrayShapeError naming
    ``where`` (values that do not fit, ragged lists, None in a string array...)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise ArrayShapeError(f"{where}: value is not an array: {exc}") from None
    if dtype == np.dtype("O"):  # variable-length bytes
        arr = _as_bytes_objects(value, arr, where)
    elif is_string_dtype(dtype):
        if arr.dtype.kind not in "UTO":
            raise ArrayShapeError(
                f"{where}: cannot assign values of dtype {arr.dtype} to a string array"
            )
        if arr.dtype.kind == "O" and not all(isinstance(v, str) for v in arr.flat):
            # numpy would store str(v): None would become the string "None".
            raise ArrayShapeError(f"{where}: a string array takes only str values")
        if isinstance(value, np.ndarray):
            arr = arr.astype(dtype, copy=False)
        else:
            # Straight from the Python strings: numpy's fixed-width "U" arrays, which
            # np.asarray makes of them, drop trailing NUL characters.
            arr = np.asarray(value, dtype=dtype)
    else:
        if arr.dtype.kind in "UTOSV" and arr.dtype.kind != dtype.kind:
            raise ArrayShapeError(f"{where}: cannot assign values of dtype {arr.dtype}")
        if dtype.fields is not None or dtype.kind == "V":
            arr = _as_void(arr, dtype, where)
        elif not castable(arr, dtype):
            raise ArrayShapeError(
                f"{where}: cannot cast values of dtype {arr.dtype} to {dtype} "
                "(numpy same_kind casting; integers must fit the array's range)"
            )
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise ArrayShapeError(
            f"{where}: value of shape {arr.shape} cannot be broadcast to the selection's "
            f"shape {shape}"
        ) from None


def _as_bytes_objects(value: Any, arr: np.ndarray[Any, Any], where: str) -> np.ndarray[Any, Any]:
    """Values for a variable-length bytes array: ``bytes`` objects only."""
    if arr.dtype.kind == "S":
        # numpy's fixed-width bytes drop trailing NULs: take the Python objects when given.
        source = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else arr
        arr = source.astype(object)
    if arr.dtype.kind != "O" or not all(isinstance(v, bytes) for v in arr.flat):
        raise ArrayShapeError(f"{where}: a variable_length_bytes array takes only bytes values")
    return arr


def _as_void(arr: np.ndarray[Any, Any], dtype: np.dtype[Any], where: str) -> np.ndarray[Any, Any]:
    """Values for a struct or raw-bytes array: same fields (any byte order) or same size."""
    if arr.dtype == dtype:
        return arr
    same_fields = arr.dtype.names == dtype.names and dtype.names is not None
    if same_fields or (dtype.names is None and arr.dtype.itemsize == dtype.itemsize):
        return arr.astype(dtype)
    raise ArrayShapeError(f"{where}: cannot assign values of dtype {arr.dtype} to {dtype}")
