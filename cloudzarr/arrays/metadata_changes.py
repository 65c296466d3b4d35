"""Changing an array's metadata: attributes, resize and append, each one compare-and-swap.

A mixin of :class:`~cloudzarr.arrays.async_array.AsyncArray`. Every change is applied to the
document as stored now (:mod:`cloudzarr.metadata.nodes_io`), inside the array's
``metadata_guard`` (the group layer's consolidated metadata upkeep), and the handle adopts what
the winning swap wrote.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Self, cast

import numpy as np

from cloudzarr.arrays.chunk_io import ChunkIO, make_chunk_io
from cloudzarr.concurrency import gather
from cloudzarr.errors import (
    ArrayShapeError,
    IndexingError,
    InvalidMetadataError,
    ReadOnlyError,
)
from cloudzarr.metadata import nodes_io
from cloudzarr.metadata.array_v2 import ArrayMetadataV2
from cloudzarr.metadata.array_v3 import ArrayMetadataV3
from cloudzarr.metadata.nodes_io import AttributesChange
from cloudzarr.metadata.paths import doc_key
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray
    from cloudzarr.metadata.node import NodeMetadata

ArrayMetadata = ArrayMetadataV2 | ArrayMetadataV3
MetadataHook = Callable[["AsyncArray"], Awaitable[None]]
#: Wraps every metadata change of an array (``async with guard(array): ...``): the group layer
#: marks ancestors holding consolidated metadata pending before, and updates them after.
MetadataGuard = Callable[["AsyncArray"], AbstractAsyncContextManager[None]]


class ArrayMetadataChanges:
    """Attribute changes, resize and append of an :class:`AsyncArray`."""

    _store: Store
    _path: str
    _metadata: ArrayMetadata
    _chunk_io: ChunkIO
    on_metadata_written: MetadataHook | None
    metadata_guard: MetadataGuard | None

    if TYPE_CHECKING:

        def __init__(self, store: Store, path: str, metadata: ArrayMetadata) -> None: ...

        @property
        def name(self) -> str: ...

        @property
        def shape(self) -> tuple[int, ...]: ...

        @property
        def ndim(self) -> int: ...

        @property
        def fill_value(self) -> Any: ...

        async def setitem(self, selection: Any, value: Any) -> None: ...

        async def _stored_chunks(self) -> list[tuple[str, tuple[int, ...]]]: ...

    # --- metadata updates ------------------------------------------------------------------

    async def _adopt(self, metadata: ArrayMetadata) -> None:
        """Take ``metadata`` (as the swap read and wrote it) as this handle's own, then let the
        group layer refresh consolidated metadata."""
        self._metadata = metadata
        self._chunk_io = make_chunk_io(metadata, self._path)
        if self.on_metadata_written is not None:
            await self.on_metadata_written(self._as_array())

    async def change_attributes(self, change: AttributesChange) -> Self:
        """Apply ``change`` (current attributes -> new attributes) to the attributes as stored
        now, by compare-and-swap of the metadata document (see
        :mod:`cloudzarr.metadata.nodes_io`); the handle's metadata is refreshed from the swap.

        Raises
        ------
        ConcurrentUpdateError
            The document kept changing under this writer (names the array).
        ArrayNotFoundError
            The array was deleted meanwhile (format 3).
        ReadOnlyError
            The store is read-only.
        """
        if self._store.read_only:
            raise ReadOnlyError(f"array {self.name!r}: cannot write, {self._store!r} is read-only")
        async with self._guard():
            new = await nodes_io.change_attributes(self._store, self._path, self._metadata, change)
            assert isinstance(new, ArrayMetadataV2 | ArrayMetadataV3)
            await self._adopt(new)
        return self

    def _guard(self) -> AbstractAsyncContextManager[None]:
        if self.metadata_guard is None:
            return contextlib.nullcontext()
        return self.metadata_guard(self._as_array())

    def _as_array(self) -> AsyncArray:
        # AsyncArray is the only class this is mixed into.
        return cast("AsyncArray", self)

    async def update_attributes(self, new_attributes: Mapping[str, Any]) -> Self:
        """Merge ``new_attributes`` into the attributes as stored now (one compare-and-swap).

        Keys other writers set meanwhile are kept.
        """
        return await self.change_attributes(nodes_io.merge(new_attributes))

    async def set_attributes(self, attributes: Mapping[str, Any]) -> Self:
        """Replace all attributes (one compare-and-swap)."""
        return await self.change_attributes(nodes_io.replace_all(attributes))

    async def delete_attributes(self, *keys: str) -> Self:
        """Delete ``keys`` from the attributes as stored now (one compare-and-swap); keys
        already gone are ignored."""
        return await self.change_attributes(nodes_io.remove(*keys))

    async def _swap_shape(
        self, new_shape: Callable[[tuple[int, ...]], tuple[int, ...]]
    ) -> tuple[ArrayMetadata, ArrayMetadata]:
        """Swap the stored shape for ``new_shape(stored shape)``; adopt and return what the
        winning swap read and wrote."""

        def change(stored: NodeMetadata) -> NodeMetadata:
            assert isinstance(stored, ArrayMetadataV2 | ArrayMetadataV3)
            shape = new_shape(stored.shape)
            if len(shape) != len(stored.shape):
                raise ArrayShapeError(
                    f"array {self.name!r}: cannot resize {len(stored.shape)}-d array to "
                    f"shape {shape}"
                )
            try:
                return stored.with_shape(shape)
            except InvalidMetadataError as exc:
                raise InvalidMetadataError(f"array {self.name!r}: {exc}") from None

        async with self._guard():
            before, after = await nodes_io.change_node(
                self._store, self._path, self._metadata, change
            )
            assert isinstance(before, ArrayMetadataV2 | ArrayMetadataV3)
            assert isinstance(after, ArrayMetadataV2 | ArrayMetadataV3)
            await self._adopt(after)
        return before, after

    async def resize(self, new_shape: Sequence[int] | int) -> Self:
        """Change the shape, deleting the chunks that fall wholly outside it.

        Raises
        ------
        ArrayShapeError
            If the number of dimensions changes or the shape is not integers.
        InvalidMetadataError
            If a dimension is negative.
        ReadOnlyError
            The store is read-only (raised before anything is read or written).
        """
        if self._store.read_only:
            raise ReadOnlyError(f"array {self.name!r}: cannot resize, {self._store!r} is read-only")
        new_shape = self._shape_argument(new_shape)
        if len(new_shape) != self.ndim:
            raise ArrayShapeError(
                f"array {self.name!r}: cannot resize {self.ndim}-d array to shape {new_shape}"
            )
        try:
            self._metadata.with_shape(new_shape)  # refuse a bad shape before deleting anything
        except InvalidMetadataError as exc:
            raise InvalidMetadataError(f"array {self.name!r}: {exc}") from None
        grid = self._metadata.chunks
        new_grid = tuple(-(-n // c) for n, c in zip(new_shape, grid, strict=True))
        doomed = [
            doc_key(self._path, rel)
            for rel, coords in await self._stored_chunks()
            if any(c >= g for c, g in zip(coords, new_grid, strict=True))
        ]
        await gather(*(self._store.delete(k) for k in doomed))
        await self._clear_beyond(new_shape, new_grid)
        # The shape is swapped on the document as stored now: a concurrent attribute change
        # (or another resize) is kept, never reverted by this handle's older copy.
        await self._swap_shape(lambda _stored: new_shape)
        return self

    async def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Append ``data`` along ``axis``, safely with concurrent appenders.

        The array grows by one compare-and-swap of its metadata document, which reserves the
        region from the stored extent along ``axis`` (as it is at that moment, other writers'
        appends included) to that extent plus ``data``'s length; ``data`` is then written to that
        region. Concurrent appenders thus never overwrite each other's regions. Appended blocks
        that share a chunk are written chunk by chunk as any partial write is (read, merge,
        write): make each block a whole number of chunks along ``axis`` when appenders run in
        several processes.

        Parameters
        ----------
        data
            The values to append: the array's shape on every axis but ``axis``.
        axis
            The axis to grow.

        Returns
        -------
        tuple of int
            The new shape written by this append's swap.

        Raises
        ------
        ArrayShapeError
            ``data`` does not match the array's shape on the other axes, or its dtype.
        IndexingError
            ``axis`` is out of range.
        ConcurrentUpdateError
            The metadata kept changing under this writer.
        """
        if self._store.read_only:
            raise ReadOnlyError(f"array {self.name!r}: cannot append, {self._store!r} is read-only")
        arr = np.asanyarray(data)
        if not -self.ndim <= axis < self.ndim or self.ndim == 0:
            raise IndexingError(
                f"array {self.name!r}: axis {axis} is out of range for {self.ndim}-d array"
            )
        axis %= self.ndim
        if arr.ndim != self.ndim:
            raise ArrayShapeError(
                f"array {self.name!r}: cannot append {arr.ndim}-d data to a {self.ndim}-d array"
            )
        others = [n for d, n in enumerate(self.shape) if d != axis]
        if [n for d, n in enumerate(arr.shape) if d != axis] != others:
            raise ArrayShapeError(
                f"array {self.name!r}: data of shape {arr.shape} does not match the array's "
                f"shape {self.shape} on the axes other than {axis}"
            )
        grow = arr.shape[axis]

        def grown(stored: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(n + grow if d == axis else n for d, n in enumerate(stored))

        before, after = await self._swap_shape(grown)
        start = before.shape[axis]
        region = tuple(
            slice(start, start + grow) if d == axis else slice(0, n)
            for d, n in enumerate(after.shape)
        )
        await self.setitem(region, arr)
        return after.shape

    def _shape_argument(self, new_shape: Any) -> tuple[int, ...]:
        # operator.index refuses floats and bools: resize((3.7,)) must not become (3,).
        items = (new_shape,) if isinstance(new_shape, int | np.integer) else new_shape
        try:
            if isinstance(items, str | bytes) or any(isinstance(n, bool) for n in items):
                raise TypeError
            return tuple(operator.index(n) for n in items)
        except TypeError:
            raise ArrayShapeError(
                f"array {self.name!r}: new shape must be integers, got {new_shape!r}"
            ) from None

    async def _clear_beyond(self, new_shape: tuple[int, ...], new_grid: tuple[int, ...]) -> None:
        # Chunks straddling a shrunk boundary keep values past it; growing the array again
        # would bring them back. Reset that part to the fill value, as numpy's resize would.
        grid = self._metadata.chunks
        old = type(self)(self._store, self._path, self._metadata)
        kept = tuple(min(o, g * c) for o, g, c in zip(self.shape, new_grid, grid, strict=True))
        for d, (o, n, c) in enumerate(zip(self.shape, new_shape, grid, strict=True)):
            if n < o and n % c:
                sel = [slice(0, k) for k in kept]
                sel[d] = slice(n, kept[d])
                await old.setitem(tuple(sel), self.fill_value)
