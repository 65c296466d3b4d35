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
        fill_value = ("" if dtype.kind == "T" else b"") if is_string_dtype(dtype) else 0
    return np.full(shape, fill_value, dtype=dtype)


def is_all_fill(chunk: np.ndarray, fill_value: Any) -> bool:
    """Whether every element of ``chunk`` is the fill value, so the chunk need not be stored.

    NaN matches NaN. Complex numbers match part by part (``nan+1j`` is not a ``nan+0j`` fill:
    numpy's ``isnan`` would call both NaN and lose the other part), and a floating-point zero
    matches only the zero of the same sign, so what reads back is what was written.
    """
    if chunk.size == 0:
        return True
    if is_string_dtype(chunk.dtype):
        # Compared as the chunk's dtype: a bare str would go through numpy's "U" dtype, which
        # drops trailing NULs ("x\x00" would never match a "x\x00" fill).
        fill = np.asarray("" if fill_value is None else fill_value, dtype=chunk.dtype)
        return bool(np.all(chunk == fill))
    if chunk.dtype.kind == "c":
        fill = np.asarray(fill_value, dtype=chunk.dtype)
        return _all_equal(chunk.real, fill.real[()]) and _all_equal(chunk.imag, fill.imag[()])
    return _all_equal(chunk, fill_value)


def _all_equal(chunk: np.ndarray, fill_value: Any) -> bool:
    if is_nan_fill(fill_value):
        return bool(np.isnan(chunk).all())
    # Most chunks written hold data: their first element already decides, without a full pass.
    first = chunk.reshape(-1)[0] if chunk.flags.c_contiguous else chunk.flat[0]
    if first != fill_value:
        return False
    broadcast = bool(chunk.strides) and all(s == 0 for s in chunk.strides)
    if not broadcast and not bool(np.all(chunk == fill_value)):
        return False
    if chunk.dtype.kind == "f" and fill_value == 0:
        # -0.0 == 0.0: only the sign bit tells a written negative zero from the fill.
        sign = bool(np.signbit(fill_value))
        if broadcast:
            return bool(np.signbit(first)) == sign
        return bool(np.all(np.signbit(chunk) == sign))
    return True
