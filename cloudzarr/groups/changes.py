"""Changing a group's hierarchy in place: deleting and moving members, attributes, batches.

A mixin of :class:`~cloudzarr.groups.async_group.AsyncGroup`. Every change follows the
consolidated metadata protocol of :mod:`cloudzarr.groups.upkeep` (mark holders pending, write,
apply and unmark), or records itself in the batch in force.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Self

from cloudzarr.errors import (
    ContainsArrayError,
    ContainsGroupError,
    InvalidArgumentError,
    NodeNotFoundError,
)
from cloudzarr.groups import consolidated as cm_ops
from cloudzarr.groups import pending, upkeep
from cloudzarr.groups.io import read_node_or_none
from cloudzarr.groups.move import move_node
from cloudzarr.groups.paths import ancestors, join_path, member_path, shown
from cloudzarr.metadata import nodes_io
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.group import GroupMetadataV3
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray
    from cloudzarr.metadata.group import GroupMetadata
    from cloudzarr.metadata.node import NodeMetadata


@contextlib.asynccontextmanager
async def keep_holders_current(array: AsyncArray) -> AsyncIterator[None]:
    """Around a metadata change of ``array``: mark the ancestors holding consolidated metadata
    pending before it, and apply the array's new metadata and unmark them after (see
    :mod:`cloudzarr.groups.upkeep`)."""
    store, fmt = array.store, array.zarr_format
    holders = list(await cm_ops.fetch_holders(store, ancestors(array.path), fmt))
    token = await pending.begin_change(store, fmt, holders)
    try:
        yield
    except BaseException:
        await pending.finish_change(store, fmt, holders, token)
        raise
    await pending.finish_change(
        store, fmt, holders, token, added={array.path: array.metadata}, reread=[array.path]
    )


class GroupChanges:
    """Deleting, moving, attribute changes and batches of an :class:`AsyncGroup`."""

    _store: Store
    _path: str
    metadata: GroupMetadata

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

        @property
        def zarr_format(self) -> int: ...

        def _check_writable(self) -> None: ...

        def _known_existing(self) -> list[str]: ...

        def _remember(self, added: Mapping[str, NodeMetadata], removed: list[str]) -> None: ...

        async def _lookup(self, path: str) -> NodeMetadata | None: ...

    async def delitem(self, name: str) -> None:
        """Delete the member ``name`` and everything below it.

        Costs one lookup (none with consolidated metadata), the GETs of the ancestors'
        consolidated metadata, then the subtree deletion; ancestors holding consolidated
        metadata are marked pending before it and updated after (two swaps each).

        Raises
        ------
        NodeNotFoundError
            Nothing is there (nothing is deleted).
        """
        self._check_writable()
        rel = member_path(name)
        if await self._lookup(rel) is None:
            raise NodeNotFoundError(f"no member {rel!r} in group {self.name!r}")
        full = join_path(self._path, rel)
        fmt = self.zarr_format
        holders = list(await cm_ops.fetch_holders(self._store, ancestors(full), fmt))
        token = await pending.begin_change(self._store, fmt, holders)
        try:
            await self._store.delete_dir(full)
        finally:
            await pending.finish_change(self._store, fmt, holders, token, removed=[full])
        self._remember({}, [full])

    async def update_attributes(self, new_attributes: Mapping[str, Any]) -> Self:
        """Merge ``new_attributes`` into the attributes as stored now and persist them (and
        every ancestor's consolidated metadata that lists this group); keys other writers set
        meanwhile are kept."""
        return await self.change_attributes(nodes_io.merge(new_attributes))

    async def set_attributes(self, attributes: Mapping[str, Any]) -> Self:
        """Replace the attributes and persist them (see :meth:`change_attributes`)."""
        return await self.change_attributes(nodes_io.replace_all(attributes))

    async def delete_attributes(self, *keys: str) -> Self:
        """Delete ``keys`` from the attributes as stored now; keys already gone are ignored."""
        return await self.change_attributes(nodes_io.remove(*keys))

    async def change_attributes(self, change: nodes_io.AttributesChange) -> Self:
        """Apply ``change`` (stored attributes -> new attributes) by compare-and-swap of the
        group's own document, re-applied on a lost race (:mod:`cloudzarr.metadata.nodes_io`).

        The GETs of the ancestors' (and, format 2, the group's own) consolidated metadata; the
        swap (format 3: ``zarr.json``, whose own consolidated metadata is kept as stored;
        format 2: ``.zattrs``): a GET with version and a conditional PUT. Holders of
        consolidated metadata are marked pending before the swap and updated after.

        Raises
        ------
        ConcurrentUpdateError
            The document kept changing under this writer (names the group).
        GroupNotFoundError
            The group was deleted meanwhile (format 3).
        """
        self._check_writable()
        path = self._path
        fmt = self.zarr_format
        holder_paths = ancestors(path) if fmt == 3 else [*ancestors(path), path]
        holders = list(await cm_ops.fetch_holders(self._store, holder_paths, fmt))
        token = await pending.begin_change(self._store, fmt, holders)
        try:
            new_meta = await nodes_io.change_attributes(self._store, path, self.metadata, change)
            if fmt == 3 and not isinstance(new_meta, GroupMetadataV3):
                raise ContainsArrayError(f"an array now exists at {self.name!r}")
        except BaseException:
            await pending.finish_change(self._store, fmt, holders, token)
            raise
        attrs = thaw(new_meta.attributes)
        await pending.finish_change(
            self._store,
            fmt,
            holders,
            token,
            added={path: new_meta},
            own_attributes={path: attrs} if fmt == 2 else {},
            reread=[path],
        )
        self.metadata = self.metadata.with_attributes(attrs)
        return self

    @contextlib.asynccontextmanager
    async def batch(self, *, progress: upkeep.Progress | None = None) -> AsyncIterator[Self]:
        """Make many changes, updating consolidated metadata once at the end.

        ``async with group.batch():`` -- every create, delete, move and attribute change made
        in this process on this group's store (through any group or array handle sharing the
        store object) meanwhile leaves consolidated metadata alone, except to mark each holder
        pending the first time a change below it meets it; at the end of the block every
        holder gets all the changes and loses the mark in one swap, even if the block raised.
        Creating n nodes under a consolidated root thus writes the root document twice, not n
        times (O(n) bytes, not O(n^2)).

        Readers meanwhile (and forever, if this process dies before the end) see the holders
        pending: they walk the store, or get
        :class:`~cloudzarr.errors.StaleConsolidatedMetadataError` when they demanded
        consolidated metadata.

        Parameters
        ----------
        progress
            Called as ``progress(done, total)`` as holders are updated at the end.

        Raises
        ------
        InvalidArgumentError
            A batch is already open on this store (batches do not nest).
        """
        self._check_writable()
        batch = pending.start_batch(self._store, self.zarr_format)
        try:
            yield self
        finally:
            pending.end_batch(batch)
            await batch.commit(progress)

    async def move(self, source: str, dest: str) -> None:
        """Move the member ``source`` (and its subtree) to ``dest``, both relative to this group.

        Object stores cannot rename, so this copies, then deletes. In order:

        1. every key of the source subtree is read, and all but the node documents are written
           under ``dest`` (chunks first, so a reader never finds a destination node whose data
           is still arriving);
        2. the nested node documents are written, then the destination's own document is
           created atomically (this is the moment ``dest`` appears; a concurrent creator of
           ``dest`` makes the move fail and the copies are removed), together with any
           missing parent groups, and ancestors' consolidated metadata are switched from
           ``source`` to ``dest``;
        3. the source node's own document is deleted (``source`` disappears), then the rest of
           its keys.

        A reader midway may therefore see only ``source``; both complete copies (between 2 and
        3); or only ``dest`` with leftover source chunk keys that belong to no node. It never
        sees a ``dest`` node with missing chunks, unless the move failed midway (a store
        error), in which case ``source`` is intact and rerunning the move after deleting
        ``dest`` completes it.

        Parameters
        ----------
        source
            The member to move, relative to this group.
        dest
            Where it goes, relative to this group (missing parent groups are created).

        Raises
        ------
        NodeNotFoundError
            ``source`` does not exist.
        ContainsGroupError, ContainsArrayError
            Something exists at ``dest``.
        """
        self._check_writable()
        src_rel, dst_rel = member_path(source), member_path(dest)
        if dst_rel == src_rel or dst_rel.startswith(src_rel + "/"):
            raise InvalidArgumentError(
                f"cannot move {src_rel!r} into itself ({dst_rel!r}) in group {self.name!r}: "
                "the destination is the source or lies inside it"
            )
        src, dst = join_path(self._path, src_rel), join_path(self._path, dst_rel)
        meta, existing = await asyncio.gather(
            read_node_or_none(self._store, src, self.zarr_format),
            read_node_or_none(self._store, dst, self.zarr_format),
        )
        if meta is None:
            raise NodeNotFoundError(f"no member {src_rel!r} in group {self.name!r}")
        if existing is not None:
            kind = ContainsArrayError if existing.node_type == "array" else ContainsGroupError
            raise kind(f"cannot move to {shown(dst)!r}: a node exists there")
        # The holders above either end stay pending from before the first copy until the
        # source is gone: a writer dying midway never leaves them listing one copy of two.
        fmt = self.zarr_format
        holders = list(
            await cm_ops.fetch_holders(self._store, sorted({*ancestors(src), *ancestors(dst)}), fmt)
        )
        token = await pending.begin_change(self._store, fmt, holders)
        try:
            added = await move_node(self._store, src, dst, meta, existing=self._known_existing())
        except BaseException:
            await pending.finish_change(self._store, fmt, holders, token)
            raise
        await pending.finish_change(self._store, fmt, holders, token, removed=[src], added=added)
        self._remember(added, [src])
