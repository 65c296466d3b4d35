"""The top-level sync functions: thin wrappers running :mod:`cloudzarr.api.asynchronous`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cloudzarr.api import asynchronous as aapi
from cloudzarr.api.asynchronous import AccessMode, StoreLike
from cloudzarr.arrays.array import Array
from cloudzarr.groups.group import Group, wrap_node
from cloudzarr.sync import sync

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata

__all__ = [
    "consolidate_metadata",
    "create_array",
    "create_group",
    "create_hierarchy",
    "create_rooted_hierarchy",
    "open",
    "open_array",
    "open_consolidated",
    "open_group",
]


def open_group(
    store: StoreLike,
    *,
    path: str = "",
    mode: AccessMode = "a",
    zarr_format: int | None = None,
    use_consolidated: bool | str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Group:
    """See :func:`cloudzarr.api.asynchronous.open_group`."""
    return Group(
        sync(
            aapi.open_group(
                store,
                path=path,
                mode=mode,
                zarr_format=zarr_format,
                use_consolidated=use_consolidated,
                storage_options=storage_options,
                attributes=attributes,
            )
        )
    )


def create_group(
    store: StoreLike,
    *,
    path: str = "",
    zarr_format: int = 3,
    overwrite: bool = False,
    attributes: Mapping[str, Any] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Group:
    """See :func:`cloudzarr.api.asynchronous.create_group`."""
    return Group(
        sync(
            aapi.create_group(
                store,
                path=path,
                zarr_format=zarr_format,
                overwrite=overwrite,
                attributes=attributes,
                storage_options=storage_options,
            )
        )
    )


def open_consolidated(
    store: StoreLike,
    *,
    path: str = "",
    mode: AccessMode = "a",
    zarr_format: int | None = None,
    use_consolidated: bool | str = True,
    storage_options: Mapping[str, Any] | None = None,
) -> Group:
    """See :func:`cloudzarr.api.asynchronous.open_consolidated`."""
    return Group(
        sync(
            aapi.open_consolidated(
                store,
                path=path,
                mode=mode,
                zarr_format=zarr_format,
                use_consolidated=use_consolidated,
                storage_options=storage_options,
            )
        )
    )


def consolidate_metadata(
    store: StoreLike,
    path: str = "",
    zarr_format: int | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Group:
    """See :func:`cloudzarr.api.asynchronous.consolidate_metadata`."""
    return Group(
        sync(
            aapi.consolidate_metadata(
                store, path, zarr_format, storage_options=storage_options, progress=progress
            )
        )
    )


def create_hierarchy(
    *,
    store: StoreLike,
    nodes: Mapping[str, NodeMetadata],
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Array | Group]:
    """See :func:`cloudzarr.api.asynchronous.create_hierarchy`."""
    created = sync(
        aapi.create_hierarchy(
            store=store,
            nodes=nodes,
            overwrite=overwrite,
            storage_options=storage_options,
            progress=progress,
        )
    )
    return {p: wrap_node(n) for p, n in created.items()}


def create_rooted_hierarchy(
    *,
    store: StoreLike,
    nodes: Mapping[str, NodeMetadata],
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> Array | Group:
    """See :func:`cloudzarr.api.asynchronous.create_rooted_hierarchy`."""
    return wrap_node(
        sync(
            aapi.create_rooted_hierarchy(
                store=store, nodes=nodes, overwrite=overwrite, storage_options=storage_options
            )
        )
    )


def create_array(
    store: StoreLike,
    *,
    name: str | None = None,
    shape: Any = None,
    dtype: Any = None,
    data: Any = None,
    overwrite: bool = False,
    zarr_format: int = 3,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Array:
    """See :func:`cloudzarr.api.asynchronous.create_array`."""
    return Array(
        sync(
            aapi.create_array(
                store,
                name=name,
                shape=shape,
                dtype=dtype,
                data=data,
                overwrite=overwrite,
                zarr_format=zarr_format,
                storage_options=storage_options,
                **kwargs,
            )
        )
    )


def open_array(
    store: StoreLike,
    *,
    path: str = "",
    mode: AccessMode = "a",
    zarr_format: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Array:
    """See :func:`cloudzarr.api.asynchronous.open_array`."""
    return Array(
        sync(
            aapi.open_array(
                store,
                path=path,
                mode=mode,
                zarr_format=zarr_format,
                storage_options=storage_options,
                **kwargs,
            )
        )
    )


def open(
    store: StoreLike,
    *,
    path: str = "",
    mode: AccessMode = "a",
    zarr_format: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Array | Group:
    """See :func:`cloudzarr.api.asynchronous.open`."""
    return wrap_node(
        sync(
            aapi.open(
                store,
                path=path,
                mode=mode,
                zarr_format=zarr_format,
                storage_options=storage_options,
                **kwargs,
            )
        )
    )
