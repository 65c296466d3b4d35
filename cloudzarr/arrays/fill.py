"""Fill-value helpers: building a chunk of fill value, testing whether a chunk is all fill."""

from __future__ import annotations

from typing import Any

import numpy as np

from cloudzarr.metadata.dtypes import is_string_dtype

__all__ = ["full_chunk", "is_all_fill", "is_nan_fill"]


def is_nan_fill(fill_value: Any) -> bool:
    """Whether the fill value is NaN (for which ``==`` never holds)."""
    try:
        return bool(np.isnan(fill_value))
    except TypeError:
        return False


def full_chunk(shape: tuple[int, ...], dtype: np.dtype[Any], fill_value: Any) -> np.ndarray:
    """A new writable C-order array of ``shape`` holding ``fill_value``."""
    if fill_value is None:
        fill_value = "" if is_string_dtype(dtype) else 0
    return np.full(shape, fill_value, dtype=dtype)


def is_all_fill(chunk: np.ndarray, fill_value: Any) -> bool:
    """Whether every element of ``chunk`` equals the fill value (NaN matches NaN)."""
    if chunk.size == 0:
        return True
    if is_string_dtype(chunk.dtype):
        return bool(np.all(chunk == ("" if fill_value is None else fill_value)))
    if is_nan_fill(fill_value):
        return bool(np.isnan(chunk).all())
    # Most chunks written hold data: their first element already decides, without a full pass.
    first = chunk.reshape(-1)[0] if chunk.flags.c_contiguous else chunk.flat[0]
    if first != fill_value:
        return False
    if chunk.strides and all(s == 0 for s in chunk.strides):  # a broadcast scalar
        return True
    return bool(np.all(chunk == fill_value))
