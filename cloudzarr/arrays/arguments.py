"""Checks of array-creation arguments, so a slip is named before any I/O.

Every ``create_array`` (top-level, :class:`~cloudzarr.groups.AsyncGroup`'s) goes through
:func:`prepare_array`, so they take the same arguments and refuse the same slips
(``compressor=`` for ``compressors=``, ``shape``/``dtype`` missing, ``data`` that does not fit).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from cloudzarr.arrays.casting import castable
from cloudzarr.errors import InvalidArgumentError
from cloudzarr.metadata.nodes_io import check_format

if TYPE_CHECKING:
    from cloudzarr.metadata import ArrayMetadataV2, ArrayMetadataV3

# zarr-python and zarr v2 spellings -> the argument cloudzarr takes instead.
_RENAMED = {
    "compressor": "compressors",
    "chunk_shape": "chunks",
    "shard_shape": "shards",
    "attrs": "attributes",
    "dimension_separator": "chunk_key_encoding",
}


@cache
def _array_parameters() -> frozenset[str]:
    from cloudzarr.arrays import build_array_metadata

    return frozenset(inspect.signature(build_array_metadata).parameters)


def check_array_kwargs(function: str, kwargs: Mapping[str, Any]) -> None:
    """Refuse keyword arguments that array creation does not take, suggesting the right one."""
    known = _array_parameters()
    for name in kwargs:
        if name in known:
            continue
        hint = _RENAMED.get(name) or next(
            iter(difflib.get_close_matches(name, sorted(known), n=1)), None
        )
        also = f"; did you mean {hint}=?" if hint else f"; it takes {', '.join(sorted(known))}"
        raise InvalidArgumentError(
            f"{function}() got an unexpected keyword argument {name!r}{also}"
        )


def require_shape_and_dtype(function: str, shape: Any, dtype: Any) -> None:
    """Refuse an array creation without ``shape=`` or ``dtype=`` (and no ``data=``).

    ``function`` is the call as the user wrote it, e.g. ``open_array(mode='w')``.
    """
    missing = [n for n, v in (("shape", shape), ("dtype", dtype)) if v is None]
    if missing:
        names = " and ".join(f"{n}=" for n in missing)
        raise InvalidArgumentError(f"{function} creates an array and needs {names} (or data=)")


def array_from_data(
    data: Any, shape: Any, dtype: Any
) -> tuple[np.ndarray[Any, Any], tuple[int, ...], Any]:
    """``data`` as a numpy array, with the shape and dtype the array is created with.

    A shape that disagrees with ``data``, or numeric data the array's rule would refuse to
    cast to an explicit numeric ``dtype``, is refused here, before the array is created.
    """
    arr = np.asarray(data)
    if shape is not None:
        want = (shape,) if isinstance(shape, int) else tuple(shape)
        if arr.shape != want:
            raise InvalidArgumentError(
                f"data has shape {arr.shape} but shape={want} was given; give one or make "
                "them agree"
            )
    if dtype is None:
        return arr, arr.shape, arr.dtype
    try:
        target = np.dtype(dtype)
    except TypeError:
        target = None  # a Zarr v3 name numpy does not know: building the metadata checks it
    if (
        target is not None
        and arr.dtype.kind in "biufc"
        and target.kind in "biufc"
        and not castable(arr, target)
    ):
        raise InvalidArgumentError(
            f"data of dtype {arr.dtype} cannot be stored as dtype={dtype!r} "
            "(numpy same_kind casting; integers must fit)"
        )
    return arr, arr.shape, dtype


def prepare_array(
    function: str,
    *,
    shape: Any,
    dtype: Any,
    data: Any,
    zarr_format: int,
    kwargs: Mapping[str, Any],
) -> tuple[ArrayMetadataV2 | ArrayMetadataV3, np.ndarray[Any, Any] | None]:
    """Check an array creation's arguments and build its metadata, before any I/O.

    Every ``create_array`` (top-level, :class:`~cloudzarr.groups.AsyncGroup`'s) goes through
    here, so they take the same arguments and refuse the same slips.

    Returns
    -------
    tuple
        The array's metadata, and ``data`` as a numpy array to write once it is created (None
        without ``data``).
    """
    from cloudzarr.arrays import build_array_metadata

    check_array_kwargs(function, kwargs)
    check_format(zarr_format, allow_none=False)
    values = None
    if data is not None:
        values, shape, dtype = array_from_data(data, shape, dtype)
    require_shape_and_dtype(f"{function}()", shape, dtype)
    meta = build_array_metadata(shape=shape, dtype=dtype, zarr_format=zarr_format, **kwargs)
    return meta, values
