"""Creating members of a group: :class:`GroupCreation`, mixed into
:class:`~cloudzarr.groups.async_group.AsyncGroup` (``create_group``, ``require_group(s)``,
``create_array``, ``require_array``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from cloudzarr.arrays.arguments import prepare_array
from cloudzarr.arrays.async_array import AsyncArray
from cloudzarr.errors import ContainsArrayError, ContainsGroupError, NodeTypeError
from cloudzarr.groups.changes import keep_holders_current
from cloudzarr.groups.hierarchy import create_nodes
from cloudzarr.groups.paths import join_path, member_path, shown
from cloudzarr.metadata.group import new_group_metadata
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.group import GroupMetadata
    from cloudzarr.metadata.node import NodeMetadata

__all__ = ["GroupCreation", "make_array"]


def make_array(store: Store, path: str, metadata: NodeMetadata) -> AsyncArray:
    """An :class:`AsyncArray` whose metadata writes keep consolidated metadata current."""
    return AsyncArray(store, path, metadata, metadata_guard=keep_holders_current)  # type: ignore[arg-type]


class GroupCreation:
    """Creating the members of an :class:`~cloudzarr.groups.async_group.AsyncGroup`."""

    _store: Store
    _path: str
    metadata: GroupMetadata

    if TYPE_CHECKING:

        def __init__(self, store: Store, path: str, metadata: GroupMetadata) -> None: ...

        @property
        def name(self) -> str: ...

        @property
        def zarr_format(self) -> int: ...

        @property
        def path(self) -> str: ...

        def _check_writable(self) -> None: ...

        def _known_existing(self) -> list[str]: ...

        def _remember(self, added: Mapping[str, NodeMetadata], removed: list[str]) -> None: ...

        async def get(self, path: str, default: Any = None) -> Any: ...

        async def getitem(self, path: str) -> Any: ...

    async def _create(
        self, nodes: Mapping[str, NodeMetadata], *, overwrite: bool
    ) -> dict[str, NodeMetadata]:
        self._check_writable()
        written = await create_nodes(
            self._store, nodes, overwrite=overwrite, existing=self._known_existing()
        )
        self._remember(written, list(nodes) if overwrite else [])
        return written

    async def create_group(
        self,
        name: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> Self:
        """Create a child group (``"a/b"`` creates missing ``a`` too), one round of creates.

        Parameters
        ----------
        name
            The member's path below this group.
        attributes
            The new group's attributes.
        overwrite
            Replace a node already there instead of failing.

        Returns
        -------
        AsyncGroup
            The new group.

        Raises
        ------
        ContainsGroupError, ContainsArrayError
            Something exists there (without ``overwrite``), or a parent is an array.
        """
        path = join_path(self._path, member_path(name))
        meta = new_group_metadata(self.zarr_format, attributes)
        await self._create({path: meta}, overwrite=overwrite)
        return type(self)(self._store, path, meta)

    async def require_group(self, name: str, *, overwrite: bool = False) -> Self:
        """Open the child group ``name``, creating it if missing.

        Parameters
        ----------
        name
            The member's path below this group.
        overwrite
            Replace whatever is there with a new, empty group.

        Returns
        -------
        AsyncGroup
            The group, found or created (by this call or a concurrent one).

        Raises
        ------
        ContainsArrayError
            An array is there.
        """
        if overwrite:
            return await self.create_group(name, overwrite=True)
        node = await self.get(name)
        if isinstance(node, type(self)):
            return node
        if node is not None:
            raise ContainsArrayError(f"an array exists at {shown(node.path)!r}, not a group")
        try:
            return await self.create_group(name)
        except ContainsGroupError:  # created by someone else meanwhile
            found = await self.getitem(name)
            assert isinstance(found, type(self))
            return found

    async def require_groups(self, *names: str) -> tuple[Self, ...]:
        """:meth:`require_group` for each name, concurrently."""
        return tuple(await asyncio.gather(*(self.require_group(n) for n in names)))

    async def create_array(
        self,
        name: str,
        *,
        shape: Any = None,
        dtype: Any = None,
        data: Any = None,
        overwrite: bool = False,
        zarr_format: int | None = None,
        **kwargs: Any,
    ) -> AsyncArray:
        """Create an array (with missing parent groups) in one round of atomic creates.

        Takes the arguments of :func:`cloudzarr.api.asynchronous.create_array`: ``data``
        (written once the array exists; it gives the ``shape`` and ``dtype`` left out) and
        those of :func:`cloudzarr.arrays.build_array_metadata` (``chunks``, ``shards``,
        ``compressors``, ``filters``, ``fill_value``, ``order``, ``attributes``,
        ``dimension_names``...). ``zarr_format`` defaults to the group's.

        Parameters
        ----------
        name
            The member's path below this group.
        shape, dtype
            The array's shape and data type (both may come from ``data``).
        data
            Values to write once the array exists.
        overwrite
            Replace a node already there instead of failing.
        zarr_format
            2 or 3; the group's when None.
        **kwargs
            The other arguments of :func:`cloudzarr.arrays.build_array_metadata`.

        Returns
        -------
        AsyncArray
            The new array.

        Raises
        ------
        InvalidArgumentError
            An empty ``name``, ``shape``/``dtype`` missing without ``data``, ``data`` that does
            not fit them, or a keyword argument array creation does not take (the message
            suggests the right one). Nothing is written.
        ContainsArrayError, ContainsGroupError
            Something exists there (without ``overwrite``), or a parent is an array.
        """
        path = join_path(self._path, member_path(name))
        fmt = self.zarr_format if zarr_format is None else zarr_format
        meta, values = prepare_array(
            "create_array", shape=shape, dtype=dtype, data=data, zarr_format=fmt, kwargs=kwargs
        )
        if fmt != self.zarr_format:
            raise NodeTypeError(
                f"cannot create a format {fmt} array in format {self.zarr_format} group "
                f"{self.name!r}"
            )
        await self._create({path: meta}, overwrite=overwrite)
        array = make_array(self._store, path, meta)
        if values is not None:
            await array.setitem(Ellipsis, values)
        return array

    async def require_array(
        self, name: str, *, shape: Any, dtype: Any, exact: bool = False, **kwargs: Any
    ) -> AsyncArray:
        """Open the array ``name`` if it exists with this shape and a compatible dtype (the
        same dtype with ``exact``); create it if missing.

        Parameters
        ----------
        name
            The member's path below this group.
        shape, dtype
            What the array must have (or is created with).
        exact
            Require the same dtype, not only one the values can be cast to.
        **kwargs
            Creation arguments, used only when the array is created.

        Returns
        -------
        AsyncArray
            The array, found or created.

        Raises
        ------
        ContainsGroupError
            A group is there.
        TypeError
            The existing array's shape or dtype differs.
        """
        import numpy as np

        node = await self.get(name)
        if node is None:
            try:
                return await self.create_array(name, shape=shape, dtype=dtype, **kwargs)
            except ContainsArrayError:
                node = await self.getitem(name)
        if isinstance(node, type(self)):
            raise ContainsGroupError(f"a group exists at {shown(node.path)!r}, not an array")
        want_shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if tuple(node.shape) != want_shape:
            raise NodeTypeError(
                f"array {shown(node.path)!r} has shape {tuple(node.shape)}, not {want_shape}"
            )
        want = np.dtype(dtype)
        if exact and node.dtype != want:
            raise NodeTypeError(f"array {shown(node.path)!r} has dtype {node.dtype}, not {want}")
        if not exact and not np.can_cast(node.dtype, want):
            raise NodeTypeError(
                f"array {shown(node.path)!r} has dtype {node.dtype}, not castable to {want}"
            )
        return node
