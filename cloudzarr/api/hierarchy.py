"""The top-level functions that act on whole hierarchies: create many nodes in one wave, and
consolidate a group's metadata."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cloudzarr.api.arguments import check_format
from cloudzarr.api.stores import StoreLike, opened_store
from cloudzarr.errors import InvalidArgumentError, NodeTypeError
from cloudzarr.groups import consolidated as cm_ops
from cloudzarr.groups.async_group import AsyncGroup
from cloudzarr.groups.creating import make_array
from cloudzarr.groups.hierarchy import check_nodes, create_nodes, implicit_group
from cloudzarr.groups.paths import normalize_path, shown
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray
    from cloudzarr.metadata.node import NodeMetadata

__all__ = ["consolidate_metadata", "create_hierarchy", "create_rooted_hierarchy"]


async def consolidate_metadata(
    store: StoreLike,
    path: str = "",
    zarr_format: int | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AsyncGroup:
    """Walk the group at ``path`` in the store and write its consolidated metadata.

    Nested groups' consolidated metadata is ignored by the walk (so stale copies cannot leak
    in) and rewritten from it; pending marks left by writers are cleared.

    Parameters
    ----------
    store
        A :class:`~cloudzarr.storage.base.Store`, a URL (``s3://bucket/prefix``, ``gs://``,
        ``az://``, ``memory://``, ``file://`` or any fsspec protocol) or a local path. A store
        opened here from a URL is closed again if the call fails.
    path
        The group to consolidate (``""``: the root).
    zarr_format
        2 or 3; None reads whichever is there.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).
    progress
        Called as ``progress(done, total)``: nodes found while walking (``total`` is 0 until
        the walk ends), then once more when the documents are written.

    Returns
    -------
    AsyncGroup
        The group, consolidated.

    Raises
    ------
    GroupNotFoundError
        No group is at ``path``.

    Examples
    --------
    >>> import cloudzarr
    >>> store = cloudzarr.open_store("memory://")
    >>> _ = cloudzarr.create_group(store, path="x/y")
    >>> cloudzarr.consolidate_metadata(store).metadata.consolidated_metadata is not None
    True
    """
    check_format(zarr_format, allow_none=True)
    async with opened_store(store, storage_options=storage_options) as st:
        path = normalize_path(path)
        meta = await cm_ops.consolidate(st, path, zarr_format, progress=progress)
        return AsyncGroup(st, path, meta)


def _normalized_nodes(nodes: Mapping[str, NodeMetadata]) -> dict[str, NodeMetadata]:
    out: dict[str, NodeMetadata] = {}
    for raw, meta in nodes.items():
        path = normalize_path(raw)
        if path in out:
            raise InvalidArgumentError(f"node path {raw!r} is given twice (as {shown(path)!r})")
        if getattr(meta, "node_type", None) not in ("array", "group"):
            raise NodeTypeError(f"node {raw!r}: {type(meta).__name__} is not node metadata")
        out[path] = meta
    return out


def _wrap(store: Store, path: str, meta: NodeMetadata) -> AsyncArray | AsyncGroup:
    if meta.node_type == "group":
        return AsyncGroup(store, path, meta)
    return make_array(store, path, meta)


async def create_hierarchy(
    *,
    store: StoreLike,
    nodes: Mapping[str, NodeMetadata],
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, AsyncArray | AsyncGroup]:
    """Create every node in ``nodes`` (path -> metadata) and the missing parent groups, in
    one concurrent wave of atomic creates under the store's limiter.

    Parameters
    ----------
    store
        A :class:`~cloudzarr.storage.base.Store`, a URL (``s3://bucket/prefix``, ``gs://``,
        ``az://``, ``memory://``, ``file://`` or any fsspec protocol) or a local path. A store
        opened here from a URL is closed again if the call fails.
    nodes
        Path -> :class:`~cloudzarr.metadata.GroupMetadataV3`, :class:`ArrayMetadataV3` (or their
        v2 twins), all of one Zarr format.
    overwrite
        Replace nodes already there instead of failing.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).
    progress
        Called as ``progress(done, total)`` as each requested node's create completes.

    Returns
    -------
    dict
        Every node written (requested and implicit parents), by path, sorted.

    Raises
    ------
    UnsupportedFormatError
        The nodes mix Zarr formats.
    NodeTypeError
        A node lies below an array.
    ContainsGroupError, ContainsArrayError
        A node exists (without ``overwrite``); nothing this call created is left behind.

    Examples
    --------
    >>> import cloudzarr
    >>> from cloudzarr import GroupMetadataV3
    >>> made = cloudzarr.create_hierarchy(
    ...     store=cloudzarr.open_store("memory://"), nodes={"a/b": GroupMetadataV3()}
    ... )
    >>> sorted(made)
    ['', 'a', 'a/b']
    """
    parsed = _normalized_nodes(nodes)
    async with opened_store(store, storage_options=storage_options) as st:
        written = await create_nodes(st, parsed, overwrite=overwrite, progress=progress)
        return {p: _wrap(st, p, written[p]) for p in sorted(written)}


async def create_rooted_hierarchy(
    *,
    store: StoreLike,
    nodes: Mapping[str, NodeMetadata],
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> AsyncArray | AsyncGroup:
    """:func:`create_hierarchy`, returning the root node (a group is added at ``""`` when the
    nodes do not include the root).

    Parameters
    ----------
    store
        A :class:`~cloudzarr.storage.base.Store`, a URL (``s3://bucket/prefix``, ``gs://``,
        ``az://``, ``memory://``, ``file://`` or any fsspec protocol) or a local path. A store
        opened here from a URL is closed again if the call fails.
    nodes
        Path -> node metadata, all of one Zarr format.
    overwrite
        Replace nodes already there instead of failing.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).

    Returns
    -------
    AsyncArray or AsyncGroup
        The node at ``""``.

    Raises
    ------
    ContainsGroupError, ContainsArrayError
        A node exists (without ``overwrite``).
    """
    parsed = _normalized_nodes(nodes)
    if "" not in parsed:
        parsed[""] = implicit_group(check_nodes(parsed))
    created = await create_hierarchy(
        store=store, nodes=parsed, overwrite=overwrite, storage_options=storage_options
    )
    return created[""]
