"""The sync twins of :mod:`cloudzarr.api.convenience` (zarr-python's top-level functions)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from cloudzarr.api import convenience as conv
from cloudzarr.api import synchronous as sapi
from cloudzarr.arrays.array import Array
from cloudzarr.groups.group import Group
from cloudzarr.sync import sync

__all__ = [
    "LazyLoader",
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


def empty(shape: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.empty`."""
    return Array(sync(conv.empty(shape, **kwargs)))


def zeros(shape: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.zeros`."""
    return Array(sync(conv.zeros(shape, **kwargs)))


def ones(shape: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.ones`."""
    return Array(sync(conv.ones(shape, **kwargs)))


def full(shape: Any, fill_value: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.full`."""
    return Array(sync(conv.full(shape, fill_value, **kwargs)))


def empty_like(a: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.empty_like`."""
    return Array(sync(conv.empty_like(a, **kwargs)))


def zeros_like(a: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.zeros_like`."""
    return Array(sync(conv.zeros_like(a, **kwargs)))


def ones_like(a: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.ones_like`."""
    return Array(sync(conv.ones_like(a, **kwargs)))


def full_like(a: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.full_like`."""
    return Array(sync(conv.full_like(a, **kwargs)))


def array(data: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.array`."""
    return Array(sync(conv.array(data, **kwargs)))


def from_array(store: Any, *, data: Any, **kwargs: Any) -> Array:
    """See :func:`cloudzarr.api.convenience.from_array`."""
    return Array(sync(conv.from_array(store, data=data, **kwargs)))


def save_array(store: Any, arr: Any, **kwargs: Any) -> None:
    """See :func:`cloudzarr.api.convenience.save_array`."""
    sync(conv.save_array(store, arr, **kwargs))


def save_group(store: Any, *args: Any, **kwargs: Any) -> None:
    """See :func:`cloudzarr.api.convenience.save_group`."""
    sync(conv.save_group(store, *args, **kwargs))


def save(store: Any, *args: Any, **kwargs: Any) -> None:
    """See :func:`cloudzarr.api.convenience.save`."""
    sync(conv.save(store, *args, **kwargs))


class LazyLoader(Mapping[str, Any]):
    """The child arrays of a group, each read into memory when first looked up (what
    zarr-python's ``load`` returns for a group)."""

    def __init__(self, group: Group) -> None:
        self._group = group
        self._names = list(group.array_keys())
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._cache:
            member = self._group[name]
            assert isinstance(member, Array)
            self._cache[name] = member[...]
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"<LazyLoader: {', '.join(self._names)}>"


def load(
    *,
    store: Any,
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> np.ndarray | LazyLoader:
    """The array at ``path`` read into memory, or a :class:`LazyLoader` of a group's arrays."""
    node = sapi.open(
        store, path=path or "", mode="r", zarr_format=zarr_format, storage_options=storage_options
    )
    if isinstance(node, Array):
        return np.asarray(node[...])
    return LazyLoader(node)
