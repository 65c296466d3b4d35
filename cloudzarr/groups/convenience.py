"""zarr-python's array shortcuts on groups: ``zeros``/``ones``/``full``/``empty``, their
``*_like`` twins and ``array_values`` (async and sync mixins)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from cloudzarr.arrays.like import like_arguments

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray
    from cloudzarr.groups.async_group import AsyncGroup

__all__ = ["AsyncGroupShortcuts"]


class AsyncGroupShortcuts:
    """Mixed into :class:`AsyncGroup`: each creates a member array with ``create_array``."""

    async def _shortcut(self, name: str, shape: Any, **kwargs: Any) -> AsyncArray:
        group: AsyncGroup = self  # type: ignore[assignment]
        kwargs.setdefault("dtype", "float64")
        return await group.create_array(name, shape=shape, **kwargs)

    async def empty(self, *, name: str, shape: Any, **kwargs: Any) -> AsyncArray:
        """A member array with nothing written.

        Parameters
        ----------
        name
            The member's path below this group.
        shape
            The array's shape.
        **kwargs
            Other arguments of :meth:`create_array` (``dtype``, ``chunks``, ``shards``...).

        Returns
        -------
        AsyncArray
            The new member array.
        """
        return await self._shortcut(name, shape, **kwargs)

    async def zeros(self, *, name: str, shape: Any, **kwargs: Any) -> AsyncArray:
        """A member array reading as 0 where unwritten.

        Parameters
        ----------
        name
            The member's path below this group.
        shape
            The array's shape.
        **kwargs
            Other arguments of :meth:`create_array` (``dtype``, ``chunks``, ``shards``...).

        Returns
        -------
        AsyncArray
            The new member array.
        """
        return await self._shortcut(name, shape, **{"fill_value": 0, **kwargs})

    async def ones(self, *, name: str, shape: Any, **kwargs: Any) -> AsyncArray:
        """A member array reading as 1 where unwritten.

        Parameters
        ----------
        name
            The member's path below this group.
        shape
            The array's shape.
        **kwargs
            Other arguments of :meth:`create_array` (``dtype``, ``chunks``, ``shards``...).

        Returns
        -------
        AsyncArray
            The new member array.
        """
        return await self._shortcut(name, shape, **{"fill_value": 1, **kwargs})

    async def full(self, *, name: str, shape: Any, fill_value: Any, **kwargs: Any) -> AsyncArray:
        """A member array reading as ``fill_value`` where unwritten.

        Parameters
        ----------
        name
            The member's path below this group.
        shape
            The array's shape.
        fill_value
            What unwritten elements read as.
        **kwargs
            Other arguments of :meth:`create_array` (``dtype``, ``chunks``, ``shards``...).

        Returns
        -------
        AsyncArray
            The new member array.
        """
        return await self._shortcut(name, shape, fill_value=fill_value, **kwargs)

    async def _like(self, name: str, data: Any, kwargs: dict[str, Any], **fill: Any) -> AsyncArray:
        args = like_arguments(data, {**fill, **kwargs})
        group: AsyncGroup = self  # type: ignore[assignment]
        if args.get("zarr_format", group.zarr_format) != group.zarr_format:
            args.pop("compressors", None)
        args["zarr_format"] = group.zarr_format
        return await self._shortcut(name, args.pop("shape"), **args)

    async def empty_like(self, *, name: str, data: Any, **kwargs: Any) -> AsyncArray:
        """A member array shaped like ``data``, nothing written.

        Parameters
        ----------
        name
            The member's path below this group.
        data
            An array whose shape, dtype and chunks (and fill value) the new one takes.
        **kwargs
            Other arguments of :meth:`create_array` (``dtype``, ``chunks``, ``shards``...).

        Returns
        -------
        AsyncArray
            The new member array.
        """
        return await self._like(name, data, kwargs)

    async def zeros_like(self, *, name: str, data: Any, **kwargs: Any) -> AsyncArray:
        """A member array shaped like ``data`` reading as 0.

        Parameters
        ----------
        name
            The member's path below this group.
        data
            An array whose shape, dtype and chunks (and fill value) the new one takes.
        **kwargs
            Other arguments of :meth:`create_array` (``dtype``, ``chunks``, ``shards``...).

        Returns
        -------
        AsyncArray
            The new member array.
        """
        return await self._like(name, data, kwargs, fill_value=0)

    async def ones_like(self, *, name: str, data: Any, **kwargs: Any) -> AsyncArray:
        """A member array shaped like ``data`` reading as 1.

        Parameters
        ----------
        name
            The member's path below this group.
        data
            An array whose shape, dtype and chunks (and fill value) the new one takes.
        **kwargs
            Other arguments of :meth:`create_array` (``dtype``, ``chunks``, ``shards``...).

        Returns
        -------
        AsyncArray
            The new member array.
        """
        return await self._like(name, data, kwargs, fill_value=1)

    async def full_like(self, *, name: str, data: Any, **kwargs: Any) -> AsyncArray:
        """A member array shaped like ``data`` reading as its (or the given) fill value.

        Parameters
        ----------
        name
            The member's path below this group.
        data
            An array whose shape, dtype and chunks (and fill value) the new one takes.
        **kwargs
            Other arguments of :meth:`create_array` (``dtype``, ``chunks``, ``shards``...).

        Returns
        -------
        AsyncArray
            The new member array.
        """
        return await self._like(name, data, kwargs)

    async def array_values(self) -> AsyncIterator[AsyncArray]:
        """The child arrays, sorted by name."""
        group: AsyncGroup = self  # type: ignore[assignment]
        async for _, array in group.arrays():
            yield array
