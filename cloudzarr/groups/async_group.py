"""The async group: members, nested lookup, node creation and deletion, attributes, moves.

A group that holds consolidated metadata answers ``members``, ``getitem``, ``keys`` and
``tree`` from it without any I/O; a child group taken from it carries the consolidated metadata
of its own subtree. Without it, :mod:`cloudzarr.groups.discovery` walks the store.

Every write goes through :func:`cloudzarr.groups.hierarchy.create_nodes` or the consolidated
metadata upkeep of :mod:`cloudzarr.groups.consolidated`, so ancestors holding consolidated
metadata stay current. A group object's own ``metadata`` is updated after writes made through
it; other objects opened earlier keep the state they read (reopen to see others' writes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, overload

from cloudzarr.errors import (
    ConsolidatedMetadataError,
    NodeNotFoundError,
    NodeTypeError,
    ReadOnlyError,
)
from cloudzarr.groups import consolidated as cm_ops
from cloudzarr.groups.changes import GroupChanges
from cloudzarr.groups.convenience import AsyncGroupShortcuts
from cloudzarr.groups.creating import GroupCreation, make_array
from cloudzarr.groups.discovery import check_max_depth, walk
from cloudzarr.groups.hierarchy import create_nodes
from cloudzarr.groups.io import check_format, read_node_or_none
from cloudzarr.groups.paths import (
    ancestors,
    join_path,
    member_path,
    normalize_path,
    relative_to,
    shown,
)
from cloudzarr.groups.tree import TreeText, render_tree
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3, new_group_metadata
from cloudzarr.metadata.info import GroupInfo
from cloudzarr.metadata.unreadable import UnreadableNode
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray
    from cloudzarr.metadata.group import GroupMetadata
    from cloudzarr.metadata.node import NodeMetadata


class AsyncGroup(AsyncGroupShortcuts, GroupChanges, GroupCreation):
    """A Zarr group (format 2 or 3) in a store, with an async API.

    Parameters
    ----------
    store
        The store holding the group.
    path
        The group's path (``""`` for the root).
    metadata
        The group's metadata, with its consolidated metadata if it is to be used.
    """

    def __init__(self, store: Store, path: str, metadata: GroupMetadata) -> None:
        if not isinstance(metadata, GroupMetadataV2 | GroupMetadataV3):
            raise NodeTypeError(f"{shown(path)!r}: {type(metadata).__name__} is not group metadata")
        self._store = store
        self._path = normalize_path(path)
        self.metadata: GroupMetadata = metadata

    def __reduce__(self) -> tuple[Any, ...]:
        return (AsyncGroup, (self._store, self._path, self.metadata))

    def __repr__(self) -> str:
        return f"<AsyncGroup {self._store!r} {shown(self._path)!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AsyncGroup):
            return NotImplemented
        return (self._store, self._path, self.metadata) == (
            other._store,
            other._path,
            other.metadata,
        )

    __hash__ = None  # type: ignore[assignment]

    # --- opening and creating ----------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        store: Store,
        path: str = "",
        *,
        zarr_format: int | None = None,
        use_consolidated: bool | str | None = None,
    ) -> AsyncGroup:
        """Open the group at ``path`` in one round of concurrent GETs.

        Parameters
        ----------
        store
            The store holding the group.
        path
            The group's path (``""``: the root).
        zarr_format
            2 or 3; None reads whichever is there.
        use_consolidated
            As for :func:`cloudzarr.open_group` (see
            :func:`cloudzarr.groups.consolidated.open_group_metadata`).

        Returns
        -------
        AsyncGroup
            The group.
        """
        path = normalize_path(path)
        meta = await cm_ops.open_group_metadata(store, path, zarr_format, use_consolidated)
        return cls(store, path, meta)

    @classmethod
    async def create(
        cls,
        store: Store,
        path: str = "",
        *,
        attributes: Mapping[str, Any] | None = None,
        zarr_format: int = 3,
        overwrite: bool = False,
    ) -> AsyncGroup:
        """Create a group (and its missing parents) in one round of atomic creates.

        Parameters
        ----------
        store
            The store to create it in.
        path
            The group's path (``""``: the root).
        attributes
            The group's attributes.
        zarr_format
            2 or 3.
        overwrite
            Replace a node already at ``path`` instead of failing.

        Returns
        -------
        AsyncGroup
            The new group.

        Raises
        ------
        ContainsGroupError, ContainsArrayError
            A node exists at ``path`` and ``overwrite`` is False, or a parent is an array.
        UnsupportedFormatError
            ``zarr_format`` is not 2 or 3.
        """
        check_format(zarr_format, allow_none=False)
        path = normalize_path(path)
        meta = new_group_metadata(zarr_format, attributes)
        await create_nodes(store, {path: meta}, overwrite=overwrite)
        return cls(store, path, meta)

    # --- properties --------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store holding the group."""
        return self._store

    @property
    def path(self) -> str:
        """The group's path in the store (``""`` for the root)."""
        return self._path

    @property
    def name(self) -> str:
        """The path with a leading ``/``."""
        return shown(self._path)

    @property
    def basename(self) -> str:
        """The last path segment (``""`` for the root)."""
        return self._path.rsplit("/", 1)[-1]

    @property
    def zarr_format(self) -> int:
        """2 or 3."""
        return self.metadata.zarr_format

    @property
    def attrs(self) -> dict[str, Any]:
        """A copy of the attributes (use :meth:`update_attributes` to change them)."""
        return thaw(self.metadata.attributes)

    @property
    def read_only(self) -> bool:
        """Whether the store refuses writes."""
        return self._store.read_only

    @property
    def consolidated(self) -> bool:
        """Whether this group answers member queries from consolidated metadata."""
        return self.metadata.consolidated_metadata is not None

    @property
    def info(self) -> GroupInfo:
        """What is known without I/O."""
        return GroupInfo(
            name=self.name,
            zarr_format=self.zarr_format,
            read_only=self.read_only,
            store_type=type(self._store).__name__,
            consolidated=self.consolidated,
            attributes=len(self.metadata.attributes),
        )

    async def info_complete(self) -> GroupInfo:
        """:attr:`info` plus the counts of members, arrays and groups in the whole subtree."""
        arrays = groups = 0
        async for _, node in self.members(max_depth=None):
            # An unreadable member counts as what its document says it is.
            if isinstance(node, AsyncGroup) or getattr(node, "node_type", None) == "group":
                groups += 1
            else:
                arrays += 1
        info = self.info
        info.count_members = arrays + groups
        info.count_arrays = arrays
        info.count_groups = groups
        return info

    # --- nodes -------------------------------------------------------------------------------

    @overload
    def _node(self, path: str, meta: NodeMetadata) -> AsyncArray | AsyncGroup: ...

    @overload
    def _node(
        self, path: str, meta: NodeMetadata | UnreadableNode
    ) -> AsyncArray | AsyncGroup | UnreadableNode: ...

    def _node(
        self, path: str, meta: NodeMetadata | UnreadableNode
    ) -> AsyncArray | AsyncGroup | UnreadableNode:
        if isinstance(meta, UnreadableNode):
            return meta
        if meta.node_type == "group":
            return AsyncGroup(self._store, path, meta)
        return make_array(self._store, path, meta)

    async def members(
        self, max_depth: int | None = 0, *, use_consolidated_for_children: bool = True
    ) -> AsyncIterator[tuple[str, AsyncArray | AsyncGroup | UnreadableNode]]:
        """Yield ``(path relative to this group, node)`` for every member.

        A member whose metadata cannot be read (an unsupported data type, a malformed
        document) is yielded as an :class:`~cloudzarr.metadata.unreadable.UnreadableNode`
        naming it and why; opening it (``group[name]``) raises that error. It never hides its
        siblings.

        Parameters
        ----------
        max_depth
            0 (default): immediate children; ``n``: ``n`` levels deeper; None: the whole
            subtree.
        use_consolidated_for_children
            Let a child group's consolidated metadata stand in for walking its subtree.

        Notes
        -----
        With consolidated metadata the members come sorted and cost no I/O. Otherwise they
        arrive in discovery order: all levels are walked at once under the store's limiter.
        """
        check_max_depth(max_depth)
        cm = self.metadata.consolidated_metadata
        if cm is not None:
            for rel, meta in cm.iter_nodes(max_depth):
                yield rel, self._node(join_path(self._path, rel), meta)
            return
        async for rel, meta in walk(
            self._store,
            self._path,
            self.zarr_format,
            max_depth=max_depth,
            use_consolidated_for_children=use_consolidated_for_children,
        ):
            yield rel, self._node(join_path(self._path, rel), meta)

    async def nmembers(self, max_depth: int | None = 0) -> int:
        """How many members :meth:`members` yields."""
        check_max_depth(max_depth)
        cm = self.metadata.consolidated_metadata
        if cm is not None:
            if max_depth is None:
                return len(cm)
            return sum(1 for p in cm.paths() if p.count("/") <= max_depth)
        n = 0
        async for _ in self.members(max_depth=max_depth):
            n += 1
        return n

    async def keys(self) -> AsyncIterator[str]:
        """The names of the immediate children, sorted."""
        for name in await self._child_names():
            yield name

    async def _children(self) -> list[tuple[str, AsyncArray | AsyncGroup | UnreadableNode]]:
        found = [m async for m in self.members(max_depth=0)]
        return sorted(found, key=lambda m: m[0])

    async def _child_names(self) -> list[str]:
        cm = self.metadata.consolidated_metadata
        if cm is not None:
            return cm.children("")
        return [name for name, _ in await self._children()]

    async def arrays(self) -> AsyncIterator[tuple[str, AsyncArray]]:
        """``(name, array)`` of the immediate child arrays, sorted."""
        for name, node in await self._children():
            if not isinstance(node, AsyncGroup | UnreadableNode):
                yield name, node

    async def groups(self) -> AsyncIterator[tuple[str, AsyncGroup]]:
        """``(name, group)`` of the immediate child groups, sorted."""
        for name, node in await self._children():
            if isinstance(node, AsyncGroup):
                yield name, node

    async def array_keys(self) -> AsyncIterator[str]:
        """Names of the immediate child arrays, sorted."""
        async for name, _ in self.arrays():
            yield name

    async def group_keys(self) -> AsyncIterator[str]:
        """Names of the immediate child groups, sorted."""
        async for name, _ in self.groups():
            yield name

    async def _lookup(self, path: str) -> NodeMetadata | None:
        rel = member_path(path)
        cm = self.metadata.consolidated_metadata
        if cm is not None:
            return cm.get(rel)
        return await read_node_or_none(self._store, join_path(self._path, rel), self.zarr_format)

    async def getitem(self, path: str) -> AsyncArray | AsyncGroup:
        """The member at ``path`` (``"a/b/c"`` reaches into nested groups in one round).

        Raises
        ------
        NodeNotFoundError
            (a KeyError) if nothing is there.
        """
        meta = await self._lookup(path)
        full = join_path(self._path, normalize_path(path))
        if meta is None:
            raise NodeNotFoundError(f"no member {normalize_path(path)!r} in group {self.name!r}")
        return self._node(full, meta)

    async def get(self, path: str, default: Any = None) -> Any:
        """The member at ``path``, or ``default``.

        Parameters
        ----------
        path
            The member's path below this group (``"a/b"`` looks two levels down).
        default
            What to return when nothing is there.

        Returns
        -------
        AsyncArray, AsyncGroup or object
            The member, or ``default``.
        """
        try:
            return await self.getitem(path)
        except NodeNotFoundError:
            return default

    async def contains(self, path: str) -> bool:
        """Whether a member exists at ``path`` (False for ``""``, which names no member)."""
        if isinstance(path, str) and not path.strip("/"):
            return False
        return await self._lookup(path) is not None

    # --- writing -----------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self._store.read_only:
            raise ReadOnlyError(f"group {self.name!r} is read-only")

    def _known_existing(self) -> list[str]:
        return [*ancestors(self._path), self._path]

    def _remember(self, added: Mapping[str, NodeMetadata], removed: list[str]) -> None:
        """Apply a change made through this group to its in-memory consolidated metadata.

        If the change cannot be listed (a new node's parent group was created by another
        writer, whose metadata this group never saw), the in-memory consolidated metadata is
        dropped: the group then asks the store, rather than answer from an incomplete copy.
        """
        cm = self.metadata.consolidated_metadata
        if cm is None:
            return
        try:
            for path in removed:
                cm = cm.without(relative_to(path, self._path))
            new = {relative_to(p, self._path): n for p, n in added.items() if p != self._path}
            if new:
                cm = cm.with_nodes({k: _strip(n) for k, n in new.items()})
        except ConsolidatedMetadataError:
            cm = None
        self.metadata = self.metadata.with_consolidated(cm)

    async def tree(self, level: int | None = None) -> TreeText:
        """A readable tree of the subtree, with array shapes and dtypes.

        ``level`` limits the depth as ``members(max_depth=level)`` does, and as zarr-python's
        ``tree(level=...)``: 0 shows the children only, 1 their children too. The result is a
        ``str`` that displays as the tree at a prompt.
        """
        check_max_depth(level, name="level")
        nodes: list[tuple[str, AsyncArray | AsyncGroup | UnreadableNode]] = [
            m async for m in self.members(max_depth=level)
        ]
        return render_tree(self.name, nodes)


def _strip(node: NodeMetadata) -> NodeMetadata:
    if node.node_type == "group" and node.consolidated_metadata is not None:
        return node.with_consolidated(None)
    return node
