"""The creation arguments of an array "like" another (``zeros_like`` and friends)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cloudzarr.arrays.async_array import AsyncArray

__all__ = ["like_arguments"]


def like_arguments(a: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """zarr-python's ``_like_args``: shape, chunks, dtype and (for arrays) fill value, plus
    the codecs when the new array has the same format."""
    new: dict[str, Any] = {}
    shape = getattr(a, "shape", None)
    if shape is None:
        shape = np.shape(a)
    new["shape"] = tuple(shape)
    chunks = getattr(a, "chunks", None)
    if isinstance(chunks, tuple) and all(isinstance(c, int) for c in chunks):
        new["chunks"] = chunks
    if hasattr(a, "dtype"):
        new["dtype"] = a.dtype
    native = getattr(a, "_async_array", a)  # a cloudzarr Array's AsyncArray
    if isinstance(native, AsyncArray):
        new["fill_value"] = native.fill_value
        fmt = kwargs.get("zarr_format", native.zarr_format)
        new["zarr_format"] = fmt
        if fmt == native.zarr_format:
            new["compressors"] = native.compressors or None
            if native.shards is not None:
                new["shards"] = native.shards
    new.update(kwargs)
    return new
