"""Concurrent member discovery: every level of the hierarchy at once, under the store's limiter.

zarr-python lists a group, fetches its children's metadata, then recurses into the child groups
one subtree after another, so at most one group's children are ever in flight. Here every
request is its own task: a child group is listed the moment its metadata arrives, while its
siblings' metadata and their own subtrees are still being fetched. The store's one limiter is
the only bound on concurrency.

Cost per node (documented, and asserted exactly in the tests):

- format 3: one GET of ``<child>/zarr.json`` per name listed, plus one LIST per group walked;
- format 2: three concurrent GETs (``.zarray``, ``.zgroup``, ``.zattrs``) per child, in one
  round, plus one LIST per group walked. Fewer GETs would need the child's kind first (a
  second round) or a listing of the child, and listing a format 2 *array* enumerates all its
  chunk keys; three GETs in one round is the cheapest in latency, and zarr-python's count.

A member whose document cannot be parsed is found as an
:class:`~cloudzarr.metadata.unreadable.UnreadableNode` (not walked into): listing never fails
for one bad member. Names that are node documents (``zarr.json``, ``.zarray``...) are
skipped; a listed name with no node document (stray keys) is skipped silently, as in
zarr-python. A child group that carries its own consolidated metadata is not listed when
``use_consolidated_for_children`` is True: its subtree is read from that metadata (cloudzarr
keeps it current on every write it makes; see :mod:`cloudzarr.groups.consolidated`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any

from cloudzarr.errors import InvalidArgumentError, MetadataError
from cloudzarr.groups.io import get_docs, node_from_v2_docs
from cloudzarr.groups.paths import RESERVED_NAMES, V2_DOCS, V3_DOCS, doc_key, join_path
from cloudzarr.groups.upkeep import is_pending
from cloudzarr.metadata.node import parse_v3_bytes
from cloudzarr.metadata.unreadable import UnreadableNode, node_type_of_v3_bytes
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata

Found = tuple[str, "NodeMetadata | UnreadableNode"]


class _Walk:
    """One discovery: a set of tasks feeding a queue of found nodes."""

    def __init__(
        self,
        store: Store,
        root: str,
        zarr_format: int,
        max_depth: int | None,
        use_consolidated_for_children: bool,
    ) -> None:
        self.store = store
        self.root = root
        self.zarr_format = zarr_format
        self.max_depth = max_depth
        self.use_cm = use_consolidated_for_children
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.pending = 0
        self.tasks: set[asyncio.Task[None]] = set()
        # Backpressure: a group with a million children must not become a million tasks at
        # once. Child fetches never wait for a slot themselves, so this cannot deadlock.
        self.slots = asyncio.Semaphore(max(1024, 16 * store.limiter.size))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.pending += 1
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.pending -= 1
        if not task.cancelled() and task.exception() is not None:
            self.queue.put_nowait(("error", task.exception()))
        self.queue.put_nowait(("done", None))

    def _descend(self, depth: int) -> bool:
        return self.max_depth is None or depth < self.max_depth

    async def list_group(self, rel: str, depth: int) -> None:
        """List the group at ``rel``; fetch each child as soon as its name arrives."""
        async for name in self.store.list_dir(join_path(self.root, rel)):
            if name in RESERVED_NAMES:
                continue
            await self.slots.acquire()
            self.spawn(self.fetch_child(join_path(rel, name), depth))

    async def fetch_child(self, rel: str, depth: int) -> None:
        try:
            await self._fetch_child(rel, depth)
        finally:
            self.slots.release()

    async def _fetch_child(self, rel: str, depth: int) -> None:
        full = join_path(self.root, rel)
        node: NodeMetadata | UnreadableNode | None
        # A member that cannot be parsed is still found: it must not hide its siblings.
        if self.zarr_format == 3:
            raw = await self.store.get(doc_key(full, V3_DOCS[0]))
            try:
                node = None if raw is None else parse_v3_bytes(raw, full)
            except MetadataError as exc:
                node = UnreadableNode(full, node_type_of_v3_bytes(raw), 3, exc)
        else:
            zarray, zgroup, zattrs = await get_docs(self.store, full, V2_DOCS)
            try:
                node = node_from_v2_docs(full, zarray, zgroup, zattrs)
            except MetadataError as exc:
                kind = "array" if zarray is not None else "group"
                node = UnreadableNode(full, kind, 2, exc)
        if node is None:
            return
        self.queue.put_nowait(("node", (rel, node)))
        if isinstance(node, UnreadableNode):
            return
        if node.node_type != "group" or not self._descend(depth):
            return
        # A child whose consolidated metadata a writer marked pending is walked instead.
        cm = None if is_pending(node) else node.consolidated_metadata
        if self.use_cm and cm is not None:
            remaining = None if self.max_depth is None else self.max_depth - depth - 1
            for sub, meta in cm.iter_nodes(remaining):
                self.queue.put_nowait(("node", (join_path(rel, sub), meta)))
            return
        self.spawn(self.list_group(rel, depth + 1))

    async def run(self) -> AsyncIterator[Found]:
        self.spawn(self.list_group("", 0))
        try:
            while True:
                kind, item = await self.queue.get()
                if kind == "node":
                    yield item
                elif kind == "error":
                    raise item
                elif self.pending == 0 and self.queue.empty():
                    return
        finally:
            for task in list(self.tasks):
                task.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)


def check_max_depth(max_depth: object, *, name: str = "max_depth") -> None:
    """Refuse a ``max_depth`` (or the argument ``name``) other than None or an int >= 0."""
    if max_depth is None:
        return
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0:
        raise InvalidArgumentError(f"{name} must be None or an int >= 0, got {max_depth!r}")


async def walk(
    store: Store,
    path: str,
    zarr_format: int,
    *,
    max_depth: int | None = 0,
    use_consolidated_for_children: bool = True,
) -> AsyncIterator[Found]:
    """Yield ``(path relative to the group, metadata)`` of the members of the group at ``path``
    as they are found (not in any fixed order).

    Parameters
    ----------
    store
        The store holding the group.
    path
        The group's path.
    zarr_format
        The group's format; its members are of the same format.
    max_depth
        0 for the immediate children, ``n`` for ``n`` levels below them, None for everything.
    use_consolidated_for_children
        Read a child group's subtree from its consolidated metadata when it has some.
    """
    if max_depth is not None and max_depth < 0:
        raise ValueError(f"max_depth must be None or >= 0, got {max_depth}")
    walker = _Walk(store, path, zarr_format, max_depth, use_consolidated_for_children)
    async for found in walker.run():
        yield found
