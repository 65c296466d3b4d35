"""zarr-python's convenience functions, async: ``zeros``/``ones``/``full``/``empty`` and their
``*_like`` twins, ``array``, ``from_array``, ``save``/``save_array``/``save_group`` and ``load``.

As in zarr-python, ``store`` defaults to a new in-memory store, ``path``/``name`` to the root,
and every other keyword goes to :func:`cloudzarr.api.asynchronous.create_array` (``chunks``,
``shards``, ``compressors``, ``fill_value``, ``zarr_format``, ``overwrite``...).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import numpy as np

from cloudzarr.api import asynchronous as aapi
from cloudzarr.api.stores import opened_store
from cloudzarr.arrays.array import Array
from cloudzarr.arrays.async_array import AsyncArray
from cloudzarr.arrays.like import like_arguments
from cloudzarr.arrays.selection import block_selection_to_basic
from cloudzarr.errors import InvalidArgumentError
from cloudzarr.groups.async_group import AsyncGroup
from cloudzarr.storage.memory import MemoryStore

__all__ = [
    "array",
    "empty",
    "empty_like",
    "from_array",
    "full",
    "full_like",
    "load",
    "ones",
    "ones_like",
    "save",
    "save_array",
    "save_group",
    "zeros",
    "zeros_like",
]


def _placement(kwargs: dict[str, Any]) -> tuple[Any, str | None]:
    store = kwargs.pop("store", None)
    path = kwargs.pop("path", None)
    name = kwargs.pop("name", None)
    if path is not None and name is not None and path != name:
        raise InvalidArgumentError(f"give path or name, not both ({path!r} and {name!r})")
    return (MemoryStore() if store is None else store), (path if path is not None else name)


async def _create(shape: Any, kwargs: dict[str, Any], **defaults: Any) -> AsyncArray:
    kwargs = {**defaults, **kwargs}
    store, name = _placement(kwargs)
    kwargs.setdefault("dtype", "float64")
    return await aapi.create_array(store, name=name, shape=shape, **kwargs)


async def empty(shape: Any, **kwargs: Any) -> AsyncArray:
    """A new array of ``shape`` with nothing written (reads give the fill value).

    Parameters
    ----------
    shape
        The array's shape (an int for one dimension).
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    return await _create(shape, kwargs)


async def zeros(shape: Any, **kwargs: Any) -> AsyncArray:
    """A new array of ``shape`` whose unwritten elements read as 0 (nothing is written).

    Parameters
    ----------
    shape
        The array's shape (an int for one dimension).
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    return await _create(shape, kwargs, fill_value=0)


async def ones(shape: Any, **kwargs: Any) -> AsyncArray:
    """A new array of ``shape`` whose unwritten elements read as 1 (nothing is written).

    Parameters
    ----------
    shape
        The array's shape (an int for one dimension).
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    return await _create(shape, kwargs, fill_value=1)


async def full(shape: Any, fill_value: Any, **kwargs: Any) -> AsyncArray:
    """A new array of ``shape`` whose unwritten elements read as ``fill_value``.

    Parameters
    ----------
    shape
        The array's shape (an int for one dimension).
    fill_value
        What unwritten elements read as; gives the dtype when none is given.
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    if "dtype" not in kwargs and fill_value is not None:
        kwargs["dtype"] = np.asarray(fill_value).dtype
    return await _create(shape, kwargs, fill_value=fill_value)


async def empty_like(a: Any, **kwargs: Any) -> AsyncArray:
    """An :func:`empty` array shaped like ``a``.

    Parameters
    ----------
    a
        An array (numpy, cloudzarr or anything with ``shape`` and ``dtype``) whose shape,
        dtype, chunks and fill value the new array takes unless ``kwargs`` say otherwise.
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    args = like_arguments(a, kwargs)
    return await _create(args.pop("shape"), args)


async def zeros_like(a: Any, **kwargs: Any) -> AsyncArray:
    """A :func:`zeros` array shaped like ``a``.

    Parameters
    ----------
    a
        An array (numpy, cloudzarr or anything with ``shape`` and ``dtype``) whose shape,
        dtype, chunks and fill value the new array takes unless ``kwargs`` say otherwise.
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    args = like_arguments(a, kwargs)
    args["fill_value"] = kwargs.get("fill_value", 0)
    return await _create(args.pop("shape"), args)


async def ones_like(a: Any, **kwargs: Any) -> AsyncArray:
    """A :func:`ones` array shaped like ``a``.

    Parameters
    ----------
    a
        An array (numpy, cloudzarr or anything with ``shape`` and ``dtype``) whose shape,
        dtype, chunks and fill value the new array takes unless ``kwargs`` say otherwise.
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    args = like_arguments(a, kwargs)
    args["fill_value"] = kwargs.get("fill_value", 1)
    return await _create(args.pop("shape"), args)


async def full_like(a: Any, **kwargs: Any) -> AsyncArray:
    """A :func:`full` array shaped like ``a`` (``fill_value`` defaults to ``a``'s).

    Parameters
    ----------
    a
        An array (numpy, cloudzarr or anything with ``shape`` and ``dtype``) whose shape,
        dtype, chunks and fill value the new array takes unless ``kwargs`` say otherwise.
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    args = like_arguments(a, kwargs)
    if "fill_value" not in args:
        raise InvalidArgumentError("full_like: fill_value is required when a has none")
    return await _create(args.pop("shape"), args)


async def array(data: Any, **kwargs: Any) -> AsyncArray:
    """A new array holding ``data`` (its shape, dtype and chunks, if it has chunks).

    Parameters
    ----------
    data
        A numpy array, anything ``numpy.asarray`` takes, or a cloudzarr array (copied slab by
        slab).
    **kwargs
        ``store`` (where to create it: a store, URL or path; memory when left out), ``name``
        (its path in the store) and the arguments of
        :func:`cloudzarr.api.asynchronous.create_array` (``dtype``, ``chunks``, ``shards``,
        ``compressors``, ``zarr_format``...).

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).
    """
    if isinstance(_native(data), AsyncArray):
        return await from_array(kwargs.pop("store", None), data=data, **kwargs)
    values = np.asarray(data)
    store, name = _placement(kwargs)
    return await aapi.create_array(store, name=name, data=values, **kwargs)


async def from_array(
    store: Any,
    *,
    data: Any,
    write_data: bool = True,
    name: str | None = None,
    chunks: Any = "keep",
    shards: Any = "keep",
    **kwargs: Any,
) -> AsyncArray:
    """A new array at ``name`` in ``store`` like ``data`` (a cloudzarr/zarr array or any
    numpy-like), and, with ``write_data``, holding its values.

    ``chunks="keep"`` / ``shards="keep"`` take them from ``data`` when it has them. Values are
    copied one slab of the new array's chunk grid at a time, so memory holds one slab, not
    the whole source.

    Parameters
    ----------
    store
        A store, a URL or a local path.
    data
        The source array.
    write_data
        Copy the values too (else only the array's shape, dtype and chunks).
    name
        The new array's path in ``store``.
    chunks, shards
        ``"keep"`` (the source's, when it has them) or the new array's own.
    **kwargs
        Other arguments of :func:`cloudzarr.api.asynchronous.create_array`.

    Returns
    -------
    AsyncArray
        The new array.
    """
    source = _native(data)
    args = like_arguments(data, {})
    args.pop("compressors", None)
    if chunks != "keep":
        args["chunks"] = chunks
    if shards != "keep":
        args["shards"] = shards
    elif not isinstance(source, AsyncArray) or source.shards is None:
        args.pop("shards", None)
    args.update(kwargs)
    shape = args.pop("shape")
    store = MemoryStore() if store is None else store
    new = await aapi.create_array(store, name=name, shape=shape, **args)
    if not write_data or new.size == 0:
        return new
    if new.ndim == 0:
        await new.setitem(Ellipsis, await _read(source, Ellipsis))
        return new
    step = (new.shards or new.chunks)[0] // new.chunks[0]
    for first in range(0, new.cdata_shape[0], step):
        region = block_selection_to_basic((slice(first, first + step),), new.shape, new.chunks)
        await new.setitem(region, await _read(source, region))
    return new


def _native(data: Any) -> Any:
    """A cloudzarr Array's AsyncArray; anything else as it is (zarr-python's arrays too)."""
    return data.async_array if isinstance(data, Array) else data


async def _read(source: Any, region: Any) -> Any:
    if isinstance(source, AsyncArray):
        return await source.getitem(region)
    return await asyncio.to_thread(lambda: np.asarray(source[region]))


async def save_array(
    store: Any,
    arr: Any,
    *,
    zarr_format: int = 3,
    path: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Save a numpy array as a Zarr array at ``path`` (replacing what is there), as
    zarr-python's ``save_array``.

    Parameters
    ----------
    store
        A store, a URL or a local path.
    arr
        The values (anything ``numpy.asarray`` takes).
    zarr_format
        2 or 3.
    path
        Where in the store (the root when None).
    storage_options
        The backend's options when ``store`` is a URL.
    **kwargs
        Other arguments of :func:`cloudzarr.api.asynchronous.create_array`.
    """
    values = np.asarray(arr)
    kwargs.setdefault("overwrite", True)
    kwargs.pop("mode", None)
    await aapi.create_array(
        store,
        name=path,
        data=values,
        zarr_format=zarr_format,
        storage_options=storage_options,
        **kwargs,
    )


async def save_group(
    store: Any,
    *args: Any,
    zarr_format: int = 3,
    path: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Save several numpy arrays in a new group at ``path``: positional ones as ``arr_0``,
    ``arr_1``..., keyword ones under their names (zarr-python's ``save_group``).

    Parameters
    ----------
    store
        A store, a URL or a local path.
    *args
        Arrays saved as ``arr_0``, ``arr_1``...
    zarr_format
        2 or 3.
    path
        Where in the store (the root when None).
    storage_options
        The backend's options when ``store`` is a URL.
    **kwargs
        Arrays saved under their keyword names.

    Raises
    ------
    InvalidArgumentError
        No array was given, or one has dtype object.
    """
    if not args and not kwargs:
        raise InvalidArgumentError("save_group: at least one array must be provided")
    arrays = {f"arr_{i}": np.asarray(a) for i, a in enumerate(args)}
    arrays.update({k: np.asarray(v) for k, v in kwargs.items()})
    for name, values in arrays.items():
        if values.dtype.kind == "O":
            raise InvalidArgumentError(f"save_group: array {name!r} has dtype object")
    async with opened_store(store, storage_options=storage_options) as st:
        group = await aapi.create_group(
            st, path=path or "", zarr_format=zarr_format, overwrite=True
        )
        await asyncio.gather(
            *(group.create_array(name, data=values) for name, values in arrays.items())
        )


async def save(
    store: Any,
    *args: Any,
    zarr_format: int = 3,
    path: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """One positional array: :func:`save_array`; otherwise :func:`save_group`.

    Parameters
    ----------
    store
        A store, a URL or a local path.
    *args
        The arrays.
    zarr_format
        2 or 3.
    path
        Where in the store (the root when None).
    storage_options
        The backend's options when ``store`` is a URL.
    **kwargs
        Arrays saved under their keyword names.
    """
    if len(args) == 1 and not kwargs:
        await save_array(
            store, args[0], zarr_format=zarr_format, path=path, storage_options=storage_options
        )
        return
    await save_group(
        store, *args, zarr_format=zarr_format, path=path, storage_options=storage_options, **kwargs
    )


async def load(
    *,
    store: Any,
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """The array at ``path`` read into memory, or for a group a dict of its child arrays
    read into memory (all read concurrently).

    Parameters
    ----------
    store
        A store, a URL or a local path.
    path
        The node to read (the root when None).
    zarr_format
        2 or 3; None reads whichever is there.
    storage_options
        The backend's options when ``store`` is a URL.

    Returns
    -------
    numpy.ndarray or dict
        The array's values, or a group's arrays by name.
    """
    node = await aapi.open(
        store, path=path or "", mode="r", zarr_format=zarr_format, storage_options=storage_options
    )
    if isinstance(node, AsyncArray):
        return await node.getitem(Ellipsis)
    assert isinstance(node, AsyncGroup)
    arrays = [a async for a in node.arrays()]
    values = await asyncio.gather(*(a.getitem(Ellipsis) for _, a in arrays))
    return {name: v for (name, _), v in zip(arrays, values, strict=True)}
