"""Reading cloudzarr arrays as dask arrays, blocks aligned to the stored objects."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import dask.array as da
from dask.base import tokenize

from cloudzarr.api import synchronous as api
from cloudzarr.arrays import Array
from cloudzarr.errors import InvalidArgumentError
from cloudzarr.storage import Store

__all__ = ["from_zarr", "to_dask"]


def _array_token(array: Array) -> str:
    # Deterministic across processes: the store's configuration, the path and the metadata.
    store_config = json.dumps(array.store._full_config(), sort_keys=True, default=repr)
    meta = json.dumps(array.metadata.to_dict(), sort_keys=True, default=repr)
    return tokenize(type(array.store).__qualname__, store_config, array.path, meta)


def to_dask(
    array: Array,
    chunks: Any = None,
    *,
    name: str | None = None,
    inline_array: bool = False,
) -> da.Array:
    """A dask array reading ``array`` lazily.

    Parameters
    ----------
    array
        The cloudzarr array.
    chunks
        dask chunks; None aligns blocks to the stored objects (shards when sharded, else
        chunks), so each task reads whole objects and no object is read by two tasks.
    name
        The dask collection's name (default: a token of store configuration, path and
        metadata, the same in every process).
    inline_array
        Embed the array in every task instead of one graph key (as ``dask.array.from_array``).
    """
    if not isinstance(array, Array):
        raise InvalidArgumentError(f"array must be a cloudzarr Array, got {type(array).__name__}")
    if chunks is None:
        chunks = array.metadata.chunks
    return da.from_array(
        array,
        chunks=chunks,
        name=name or f"cloudzarr-{_array_token(array)}",
        asarray=False,
        fancy=False,
        lock=False,
        inline_array=inline_array,
    )


def from_zarr(
    url: str | Store,
    component: str = "",
    *,
    chunks: Sequence[int] | Any = None,
    storage_options: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> da.Array:
    """Open the array at ``url`` / ``component`` and return it as a dask array (see
    :func:`to_dask`); named like ``dask.array.from_zarr``."""
    array = api.open_array(url, path=component, mode="r", storage_options=storage_options)
    return to_dask(array, chunks, name=name)
