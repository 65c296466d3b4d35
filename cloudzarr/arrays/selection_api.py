"""zarr-python's selection methods for :class:`AsyncArray` and :class:`Array`.

``get_/set_basic_selection``, ``get_/set_orthogonal_selection``, ``get_/set_coordinate_selection``,
``get_/set_mask_selection``, ``get_/set_block_selection``, and the ``oindex``, ``vindex`` and
``blocks`` accessors (``a.oindex[...]``, ``a.vindex[...] = v``). Errors are
:class:`~cloudzarr.errors.IndexingError` naming the array and the offending index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cloudzarr.arrays.fancy_io import read_selection, write_selection
from cloudzarr.arrays.selection import (
    CoordinateIndexer,
    OrthogonalIndexer,
    block_selection_to_basic,
    is_pure_fancy,
    is_pure_orthogonal,
)
from cloudzarr.errors import IndexingError, ReadOnlyError
from cloudzarr.sync import sync

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray

__all__ = ["AsyncSelectionMethods", "SyncSelectionMethods", "selection_kind"]


def selection_kind(selection: Any, ndim: int) -> str:
    """Which indexing ``a[selection]`` means in zarr-python: ``"vindex"`` (points or a mask),
    ``"oindex"`` (with an integer array or list), or ``"basic"``."""
    if is_pure_fancy(selection, ndim):
        return "vindex"
    items = selection if isinstance(selection, tuple) else (selection,)
    has_array = any(isinstance(s, list | np.ndarray) and np.ndim(s) > 0 for s in items)
    if has_array and is_pure_orthogonal(selection, ndim):
        return "oindex"
    if has_array:
        return "invalid"
    return "basic"


def _named(array: AsyncArray, exc: IndexingError) -> IndexingError:
    return IndexingError(f"array {array.name!r}: {exc}")


class AsyncSelectionMethods:
    """The selection methods of :class:`AsyncArray` (mixed in)."""

    def _fancy_indexer(self, selection: Any, kind: str) -> Any:
        """The indexer of a fancy selection (``kind``: oindex, vindex, coordinate or mask),
        its errors naming the array."""
        array: AsyncArray = self  # type: ignore[assignment]
        chunks = array.metadata.chunks
        try:
            if kind == "oindex":
                return OrthogonalIndexer(selection, array.shape, chunks)
            if kind == "vindex":
                return _coordinate_or_mask(selection, array)
            return CoordinateIndexer(selection, array.shape, chunks, mask=kind == "mask")
        except IndexingError as exc:
            raise _named(array, exc) from None

    async def _fancy_get(self, selection: Any, kind: str) -> Any:
        array: AsyncArray = self  # type: ignore[assignment]
        return await read_selection(array, self._fancy_indexer(selection, kind))

    async def _fancy_set(self, selection: Any, value: Any, kind: str) -> None:
        array: AsyncArray = self  # type: ignore[assignment]
        if array.store.read_only:
            raise ReadOnlyError(f"array {array.name!r}: cannot write, {array.store!r} is read-only")
        indexer = self._fancy_indexer(selection, kind)
        prepared = np.ascontiguousarray(array._prepare_value(value, indexer.shape))
        await write_selection(array, indexer, prepared)

    async def get_basic_selection(self, selection: Any = Ellipsis) -> Any:
        """Read a basic selection (integers, slices with any step, Ellipsis)."""
        array: AsyncArray = self  # type: ignore[assignment]
        return await array.getitem(selection)

    async def set_basic_selection(self, selection: Any, value: Any) -> None:
        """Write a basic selection.

        Parameters
        ----------
        selection
            Integers, slices (any step) and Ellipsis.
        value
            A scalar or an array broadcastable to the selection's shape.
        """
        array: AsyncArray = self  # type: ignore[assignment]
        await array.setitem(selection, value)

    async def get_orthogonal_selection(self, selection: Any) -> Any:
        """Read an orthogonal selection: each dimension indexed on its own (integer arrays or
        lists, Boolean masks of the dimension's length, slices, integers)."""
        return await self._fancy_get(selection, "oindex")

    async def set_orthogonal_selection(self, selection: Any, value: Any) -> None:
        """Write an orthogonal selection.

        Parameters
        ----------
        selection
            One entry per dimension: integer arrays or lists, Boolean masks, slices, ints.
        value
            A scalar or an array of the selection's (outer-product) shape.
        """
        await self._fancy_set(selection, value, "oindex")

    async def get_coordinate_selection(self, selection: Any) -> Any:
        """Read points: one integer array per dimension, broadcast together; the result has
        their broadcast shape."""
        return await self._fancy_get(selection, "coordinate")

    async def set_coordinate_selection(self, selection: Any, value: Any) -> None:
        """Write points (a later duplicate point wins, as in numpy).

        Parameters
        ----------
        selection
            One integer array per dimension, broadcast together.
        value
            A scalar or an array of the points' broadcast shape.
        """
        await self._fancy_set(selection, value, "coordinate")

    async def get_mask_selection(self, mask: Any) -> Any:
        """Read the elements where a Boolean array of the array's shape is True (1-d result)."""
        return await self._fancy_get(mask, "mask")

    async def set_mask_selection(self, mask: Any, value: Any) -> None:
        """Write the elements where ``mask`` is True.

        Parameters
        ----------
        mask
            A Boolean array of the array's shape.
        value
            A scalar or a 1-d array with one value per True element.
        """
        await self._fancy_set(mask, value, "mask")

    def _blocks(self, selection: Any) -> tuple[slice, ...]:
        array: AsyncArray = self  # type: ignore[assignment]
        try:
            return block_selection_to_basic(selection, array.shape, array.chunks)
        except IndexingError as exc:
            raise _named(array, exc) from None

    async def get_block_selection(self, selection: Any) -> Any:
        """Read whole chunks by chunk index (``chunks`` are the inner chunks when sharded)."""
        array: AsyncArray = self  # type: ignore[assignment]
        return await array.getitem(self._blocks(selection))

    async def set_block_selection(self, selection: Any, value: Any) -> None:
        """Write whole chunks by chunk index.

        Parameters
        ----------
        selection
            Chunk indices per dimension: integers or slices of step 1.
        value
            A scalar or an array of the selected chunks' shape.
        """
        array: AsyncArray = self  # type: ignore[assignment]
        await array.setitem(self._blocks(selection), value)


def _coordinate_or_mask(selection: Any, array: AsyncArray) -> CoordinateIndexer:
    sel = selection[0] if isinstance(selection, tuple) and len(selection) == 1 else selection
    is_mask = (isinstance(sel, np.ndarray) and sel.dtype == bool) or (
        isinstance(sel, list) and sel and all(isinstance(v, bool | np.bool_) for v in sel)
    )
    if is_mask:
        return CoordinateIndexer(sel, array.shape, array.metadata.chunks, mask=True)
    return CoordinateIndexer(selection, array.shape, array.metadata.chunks)


class _Accessor:
    """``a.oindex`` / ``a.vindex`` / ``a.blocks``: ``[...]`` reads, ``[...] = v`` writes."""

    __slots__ = ("_get", "_set")

    def __init__(self, get: Any, set_: Any) -> None:
        self._get = get
        self._set = set_

    def __getitem__(self, selection: Any) -> Any:
        return self._get(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._set(selection, value)


class SyncSelectionMethods:
    """The accessors of the sync :class:`Array` (mixed in); the ``get_*``/``set_*`` selection
    methods are generated from the async ones by :class:`~cloudzarr.syncface.SyncFace`."""

    _async_array: AsyncArray

    def _sync_of(self, name: str) -> Any:
        method = getattr(self._async_array, name)
        return lambda *args: sync(method(*args))

    @property
    def oindex(self) -> _Accessor:
        """Orthogonal indexing: ``a.oindex[[0, 2], 1:3]`` (see ``get_orthogonal_selection``)."""
        return _Accessor(
            self._sync_of("get_orthogonal_selection"), self._sync_of("set_orthogonal_selection")
        )

    @property
    def vindex(self) -> _Accessor:
        """Vectorized (point or mask) indexing: ``a.vindex[[0, 2], [1, 3]]``, ``a.vindex[m]``."""
        return _Accessor(self._vindex_get, self._vindex_set)

    def _vindex_get(self, selection: Any) -> Any:
        return sync(self._async_array._fancy_get(selection, "vindex"))

    def _vindex_set(self, selection: Any, value: Any) -> None:
        sync(self._async_array._fancy_set(selection, value, "vindex"))

    @property
    def blocks(self) -> _Accessor:
        """Block indexing by chunk index: ``a.blocks[0, 1:3]`` (see ``get_block_selection``)."""
        return _Accessor(self._sync_of("get_block_selection"), self._sync_of("set_block_selection"))
