"""The sync twins of :mod:`cloudzarr.api.convenience` (zarr-python's top-level functions),
made from the async definitions by :func:`~cloudzarr.syncface.sync_function`; only ``load``,
which returns a lazy mapping for a group, is written here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from cloudzarr.api import convenience as conv
from cloudzarr.api import synchronous as sapi
from cloudzarr.arrays.array import Array
from cloudzarr.groups.group import Group
from cloudzarr.syncface import sync_function

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


empty = sync_function(conv.empty)
zeros = sync_function(conv.zeros)
ones = sync_function(conv.ones)
full = sync_function(conv.full)
empty_like = sync_function(conv.empty_like)
zeros_like = sync_function(conv.zeros_like)
ones_like = sync_function(conv.ones_like)
full_like = sync_function(conv.full_like)
array = sync_function(conv.array)
from_array = sync_function(conv.from_array)
save_array = sync_function(conv.save_array)
save_group = sync_function(conv.save_group)
save = sync_function(conv.save)


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
