"""Which numeric values an array of a given dtype accepts, shared by writes and ``data=``."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["castable"]


def castable(arr: np.ndarray[Any, Any], dtype: np.dtype[Any]) -> bool:
    """Whether the values of ``arr`` may be stored in an array of ``dtype``.

    numpy's ``same_kind`` rule, except that integers cast to integers only when every value
    fits: ``uint16_array[...] = np.arange(5)`` is allowed, while ``int16_array[...] = 70000``
    or ``int64_array[...] = 2**63`` are refused instead of silently wrapping around.

    Parameters
    ----------
    arr
        The values to store.
    dtype
        The array's numpy dtype.

    Returns
    -------
    bool
        True if storing ``arr`` neither changes kind unsafely nor wraps an integer around.
    """
    if arr.dtype.kind in "iu" and dtype.kind in "iu":
        if np.can_cast(arr.dtype, dtype, casting="safe") or arr.size == 0:
            return True
        info = np.iinfo(dtype)
        return bool(info.min <= arr.min() and arr.max() <= info.max)
    return bool(np.can_cast(arr.dtype, dtype, casting="same_kind"))
