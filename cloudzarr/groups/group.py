"""The sync :class:`Group`: a thin wrapper running :class:`AsyncGroup` on cloudzarr's loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from cloudzarr.arrays.array import Array
from cloudzarr.arrays.attributes import Attributes
from cloudzarr.groups import pending
from cloudzarr.groups.async_group import AsyncGroup
from cloudzarr.groups.info import GroupInfo
from cloudzarr.groups.tree import TreeText
from cloudzarr.metadata.nodes_io import AttributesChange
from cloudzarr.storage.base import Store
from cloudzarr.sync import sync

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray
    from cloudzarr.metadata.group import GroupMetadata

T = TypeVar("T")

__all__ = ["Group", "wrap_node"]


async def _collect[T](it: AsyncIterator[T]) -> list[T]:
    return [x async for x in it]


def wrap_node(node: AsyncArray | AsyncGroup) -> Array | Group:
    """The sync wrapper of an async node."""
    if isinstance(node, AsyncGroup):
        return Group(node)
    return Array(node)


class Group:
    """A Zarr group with a sync API; every method delegates to :class:`AsyncGroup`.

    Parameters
    ----------
    async_group
        The async group to wrap.
    """

    def __init__(self, async_group: AsyncGroup) -> None:
        self._async_group = async_group

    def __reduce__(self) -> tuple[Any, ...]:
        return (Group, (self._async_group,))

    def __repr__(self) -> str:
        return f"<Group {self.store!r} {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Group):
            return NotImplemented
        return self._async_group == other._async_group

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def open(
        cls,
        store: Store,
        path: str = "",
        *,
        zarr_format: int | None = None,
        use_consolidated: bool | str | None = None,
    ) -> Group:
        """See :meth:`AsyncGroup.open`."""
        return cls(
            sync(
                AsyncGroup.open(
                    store, path, zarr_format=zarr_format, use_consolidated=use_consolidated
                )
            )
        )

    @classmethod
    def create(
        cls,
        store: Store,
        path: str = "",
        *,
        attributes: Mapping[str, Any] | None = None,
        zarr_format: int = 3,
        overwrite: bool = False,
    ) -> Group:
        """See :meth:`AsyncGroup.create`."""
        return cls(
            sync(
                AsyncGroup.create(
                    store,
                    path,
                    attributes=attributes,
                    zarr_format=zarr_format,
                    overwrite=overwrite,
                )
            )
        )

    # --- properties --------------------------------------------------------------------------

    @property
    def async_group(self) -> AsyncGroup:
        """The wrapped :class:`AsyncGroup`."""
        return self._async_group

    @property
    def store(self) -> Store:
        """The store holding the group."""
        return self._async_group.store

    @property
    def path(self) -> str:
        """The group's path (``""`` for the root)."""
        return self._async_group.path

    @property
    def name(self) -> str:
        """The path with a leading ``/``."""
        return self._async_group.name

    @property
    def basename(self) -> str:
        """The last path segment."""
        return self._async_group.basename

    @property
    def metadata(self) -> GroupMetadata:
        """The group's metadata."""
        return self._async_group.metadata

    @property
    def zarr_format(self) -> int:
        """2 or 3."""
        return self._async_group.zarr_format

    @property
    def read_only(self) -> bool:
        """Whether the store refuses writes."""
        return self._async_group.read_only

    @property
    def attrs(self) -> Attributes:
        """The attributes; ``attrs[k] = v``, ``del attrs[k]`` and ``update`` persist."""
        return Attributes(self._async_group.metadata.attributes, self._write_attrs)

    def _write_attrs(self, change: AttributesChange) -> Mapping[str, Any]:
        sync(self._async_group.change_attributes(change))
        return self._async_group.metadata.attributes

    @contextlib.contextmanager
    def batch(self, *, progress: Callable[[int, int], None] | None = None) -> Iterator[Group]:
        """``with group.batch():`` -- see :meth:`AsyncGroup.batch`."""
        inner = self._async_group
        inner._check_writable()
        batch = pending.start_batch(inner.store, inner.zarr_format)
        try:
            yield self
        finally:
            pending.end_batch(batch)
            sync(batch.commit(progress))

    @property
    def info(self) -> GroupInfo:
        """What is known without I/O."""
        return self._async_group.info

    def info_complete(self) -> GroupInfo:
        """:attr:`info` with member counts of the whole subtree."""
        return sync(self._async_group.info_complete())

    # --- members -----------------------------------------------------------------------------

    def members(
        self, max_depth: int | None = 0, *, use_consolidated_for_children: bool = True
    ) -> tuple[tuple[str, Array | Group], ...]:
        """``(path, node)`` for every member, sorted by path (see :meth:`AsyncGroup.members`)."""
        found = sync(
            _collect(
                self._async_group.members(
                    max_depth, use_consolidated_for_children=use_consolidated_for_children
                )
            )
        )
        return tuple((p, wrap_node(n)) for p, n in sorted(found, key=lambda m: m[0]))

    def nmembers(self, max_depth: int | None = 0) -> int:
        """How many members :meth:`members` returns."""
        return sync(self._async_group.nmembers(max_depth))

    def keys(self) -> Iterator[str]:
        """Names of the immediate children, sorted."""
        return iter(sync(_collect(self._async_group.keys())))

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def __len__(self) -> int:
        return self.nmembers(0)

    def arrays(self) -> Iterator[tuple[str, Array]]:
        """``(name, array)`` of the child arrays, sorted."""
        found = sync(_collect(self._async_group.arrays()))
        return iter([(n, Array(a)) for n, a in found])

    def groups(self) -> Iterator[tuple[str, Group]]:
        """``(name, group)`` of the child groups, sorted."""
        found = sync(_collect(self._async_group.groups()))
        return iter([(n, Group(g)) for n, g in found])

    def array_keys(self) -> Iterator[str]:
        """Names of the child arrays, sorted."""
        return iter(sync(_collect(self._async_group.array_keys())))

    def group_keys(self) -> Iterator[str]:
        """Names of the child groups, sorted."""
        return iter(sync(_collect(self._async_group.group_keys())))

    def __getitem__(self, path: str) -> Array | Group:
        return wrap_node(sync(self._async_group.getitem(path)))

    def get(self, path: str, default: Any = None) -> Any:
        """The member at ``path``, or ``default``."""
        node = sync(self._async_group.get(path))
        return default if node is None else wrap_node(node)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and sync(self._async_group.contains(path))

    def __delitem__(self, path: str) -> None:
        sync(self._async_group.delitem(path))

    # --- writing -----------------------------------------------------------------------------

    def create_group(
        self, name: str, *, attributes: Mapping[str, Any] | None = None, overwrite: bool = False
    ) -> Group:
        """See :meth:`AsyncGroup.create_group`."""
        return Group(
            sync(self._async_group.create_group(name, attributes=attributes, overwrite=overwrite))
        )

    def require_group(self, name: str, *, overwrite: bool = False) -> Group:
        """See :meth:`AsyncGroup.require_group`."""
        return Group(sync(self._async_group.require_group(name, overwrite=overwrite)))

    def require_groups(self, *names: str) -> tuple[Group, ...]:
        """See :meth:`AsyncGroup.require_groups`."""
        return tuple(Group(g) for g in sync(self._async_group.require_groups(*names)))

    def create_array(
        self, name: str, *, shape: Any = None, dtype: Any = None, data: Any = None, **kwargs: Any
    ) -> Array:
        """See :meth:`AsyncGroup.create_array` (``data=`` as in zarr-python)."""
        return Array(
            sync(
                self._async_group.create_array(name, shape=shape, dtype=dtype, data=data, **kwargs)
            )
        )

    def require_array(self, name: str, *, shape: Any, dtype: Any, **kwargs: Any) -> Array:
        """See :meth:`AsyncGroup.require_array`."""
        return Array(
            sync(self._async_group.require_array(name, shape=shape, dtype=dtype, **kwargs))
        )

    def update_attributes(self, new_attributes: Mapping[str, Any]) -> Group:
        """See :meth:`AsyncGroup.update_attributes`."""
        sync(self._async_group.update_attributes(new_attributes))
        return self

    def delete_attributes(self, *keys: str) -> Group:
        """See :meth:`AsyncGroup.delete_attributes`."""
        sync(self._async_group.delete_attributes(*keys))
        return self

    def move(self, source: str, dest: str) -> None:
        """See :meth:`AsyncGroup.move` (what a reader may see midway is described there)."""
        sync(self._async_group.move(source, dest))

    def tree(self, level: int | None = None) -> TreeText:
        """A readable tree of the subtree with array shapes and dtypes (see
        :meth:`AsyncGroup.tree`)."""
        return sync(self._async_group.tree(level))
