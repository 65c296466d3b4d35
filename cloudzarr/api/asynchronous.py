"""The top-level async functions: open and create groups, arrays and whole hierarchies.

``store`` is everywhere a :class:`~cloudzarr.storage.Store`, a URL (``s3://bucket/prefix``,
``memory://name``...) or a local path, resolved by :func:`cloudzarr.storage.open_store`.

Modes, as in zarr-python: ``"r"`` opens an existing node through a read-only view of the store
(the store itself stays writable for others); ``"r+"`` opens an existing node for writing;
``"a"`` opens it, creating a group if nothing is there; ``"w"`` creates, replacing what is
there; ``"w-"`` creates, failing if something is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cloudzarr.api.arguments import (
    check_array_kwargs,
    check_format,
    check_mode,
    prepare_array,
    require_shape_and_dtype,
)
from cloudzarr.api.hierarchy import consolidate_metadata, create_hierarchy, create_rooted_hierarchy
from cloudzarr.api.stores import AccessMode, StoreLike, opened_store
from cloudzarr.errors import (
    ArrayNotFoundError,
    GroupNotFoundError,
    InvalidArgumentError,
    NodeNotFoundError,
)
from cloudzarr.groups.async_group import AsyncGroup
from cloudzarr.groups.changes import keep_holders_current
from cloudzarr.groups.creating import make_array
from cloudzarr.groups.hierarchy import create_nodes
from cloudzarr.groups.io import read_node
from cloudzarr.groups.paths import normalize_path, shown

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray

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


async def open_group(
    store: StoreLike,
    *,
    path: str = "",
    mode: AccessMode = "a",
    zarr_format: int | None = None,
    use_consolidated: bool | str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    cache: Any = None,
) -> AsyncGroup:
    """Open (or, by ``mode``, create) the group at ``path``.

    Opening costs one round of concurrent GETs (``zarr.json``, ``.zgroup``, ``.zattrs`` and
    ``.zmetadata`` when the format is unknown); a group with consolidated metadata then lists
    its whole hierarchy without further requests.

    Parameters
    ----------
    store
        A :class:`~cloudzarr.storage.base.Store`, a URL (``s3://bucket/prefix``, ``gs://``,
        ``az://``, ``memory://``, ``file://`` or any fsspec protocol) or a local path. A store
        opened here from a URL is closed again if the call fails.
    path
        The group's path in the store (``""``: the root).
    mode
        ``"r"`` read only, ``"r+"`` read/write (must exist), ``"a"`` read/write (create if
        missing), ``"w"`` create (replace what is there), ``"w-"`` create (fail if present).
    zarr_format
        2 or 3; None reads whichever is there.
    use_consolidated
        True: require consolidated metadata; False: ignore it and list the store; None (the
        default): use it when present. A string names a v2 consolidated key other than
        ``.zmetadata``.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).
    attributes
        The attributes of a group this call creates (ignored when it opens one).
    cache
        Opt-in caching: True, a size in bytes, a :class:`~cloudzarr.storage.cache.MemoryCache`
        or a :class:`~cloudzarr.storage.disk_cache.DiskCache` puts the store behind a
        :class:`~cloudzarr.storage.cache.CacheStore` (reads served from it are counted as
        ``cache_hit``; writes through cloudzarr keep it current).

    Returns
    -------
    AsyncGroup
        The group (``cloudzarr.Group`` from the sync function).

    Raises
    ------
    GroupNotFoundError
        Modes ``r``/``r+`` with no group there (or a format 2 array, as in zarr-python).
    ContainsGroupError, ContainsArrayError
        Mode ``w-`` with a node there; any mode but ``w`` over an array (a format 3 one is
        known from the documents read to open the group, so no further request is sent).
    InvalidArgumentError
        A bad ``mode`` or ``zarr_format``.

    Examples
    --------
    >>> import cloudzarr
    >>> root = cloudzarr.open_group("memory://", mode="w", attributes={"title": "demo"})
    >>> root.attrs["title"]
    'demo'
    """
    check_mode(mode)
    check_format(zarr_format, allow_none=True)
    async with opened_store(store, mode=mode, storage_options=storage_options, cache=cache) as st:
        path = normalize_path(path)
        if mode in ("w", "w-"):
            return await AsyncGroup.create(
                st,
                path,
                attributes=attributes,
                zarr_format=zarr_format or 3,
                overwrite=mode == "w",
            )
        try:
            return await AsyncGroup.open(
                st, path, zarr_format=zarr_format, use_consolidated=use_consolidated
            )
        except GroupNotFoundError:
            if mode != "a" or st.read_only:
                raise
        return await AsyncGroup.create(
            st, path, attributes=attributes, zarr_format=zarr_format or 3
        )


async def create_group(
    store: StoreLike,
    *,
    path: str = "",
    zarr_format: int = 3,
    overwrite: bool = False,
    attributes: Mapping[str, Any] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> AsyncGroup:
    """Create a group (and its missing parents) in one round of atomic creates.

    Parameters
    ----------
    store
        A :class:`~cloudzarr.storage.base.Store`, a URL (``s3://bucket/prefix``, ``gs://``,
        ``az://``, ``memory://``, ``file://`` or any fsspec protocol) or a local path. A store
        opened here from a URL is closed again if the call fails.
    path
        The group's path in the store (``""``: the root).
    zarr_format
        2 or 3.
    overwrite
        Replace a node already at ``path`` instead of failing.
    attributes
        The group's attributes.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).

    Returns
    -------
    AsyncGroup
        The new group (``cloudzarr.Group`` from the sync function).

    Raises
    ------
    ContainsGroupError, ContainsArrayError
        A node is at ``path`` and ``overwrite`` is False.

    Examples
    --------
    >>> import cloudzarr
    >>> g = cloudzarr.create_group("memory://", path="a/b")
    >>> g.path
    'a/b'
    """
    check_format(zarr_format, allow_none=False)
    async with opened_store(store, storage_options=storage_options) as st:
        return await AsyncGroup.create(
            st, path, attributes=attributes, zarr_format=zarr_format, overwrite=overwrite
        )


async def open_consolidated(
    store: StoreLike,
    *,
    path: str = "",
    mode: AccessMode = "a",
    zarr_format: int | None = None,
    use_consolidated: bool | str = True,
    storage_options: Mapping[str, Any] | None = None,
) -> AsyncGroup:
    """Open a group that must have consolidated metadata (one round of GETs).

    Parameters
    ----------
    store
        A :class:`~cloudzarr.storage.base.Store`, a URL (``s3://bucket/prefix``, ``gs://``,
        ``az://``, ``memory://``, ``file://`` or any fsspec protocol) or a local path. A store
        opened here from a URL is closed again if the call fails.
    path
        The group's path in the store (``""``: the root).
    mode
        ``"r"`` opens read only; anything else read/write.
    zarr_format
        2 or 3; None reads whichever is there.
    use_consolidated
        True, or the name of a v2 consolidated key other than ``.zmetadata``.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).

    Returns
    -------
    AsyncGroup
        The group, whose members come from its consolidated metadata.

    Raises
    ------
    ConsolidatedMetadataError
        The group has none.
    InvalidArgumentError
        ``use_consolidated`` is False or None.

    Examples
    --------
    >>> import cloudzarr
    >>> store = cloudzarr.open_store("memory://")
    >>> _ = cloudzarr.create_group(store, path="a")
    >>> _ = cloudzarr.consolidate_metadata(store)
    >>> sorted(cloudzarr.open_consolidated(store).keys())
    ['a']
    """
    if use_consolidated is False or use_consolidated is None:
        raise InvalidArgumentError(
            f"open_consolidated() requires use_consolidated=True or a key name, got "
            f"{use_consolidated!r}; use open_group() to open without consolidated metadata"
        )
    check_mode(mode)
    check_format(zarr_format, allow_none=True)
    st_mode = "r" if mode == "r" else "r+"
    async with opened_store(store, mode=st_mode, storage_options=storage_options) as st:
        return await AsyncGroup.open(
            st, normalize_path(path), zarr_format=zarr_format, use_consolidated=use_consolidated
        )


async def create_array(
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
) -> AsyncArray:
    """Create an array at ``name`` (and its missing parent groups) in one round of atomic
    creates.

    Parameters
    ----------
    store
        A store, URL or local path.
    name
        The array's path in the store (the root when None).
    shape, dtype
        The array's shape and data type; both may be left out when ``data`` is given.
    data
        Values to write once the array is created (as zarr-python's ``data=``); it gives the
        shape and dtype left out. A ``shape`` or numeric ``dtype`` it does not fit is refused
        before anything is created.
    overwrite
        Replace a node already at ``name`` instead of failing.
    zarr_format
        2 or 3.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).
    **kwargs
        The other arguments of :func:`cloudzarr.arrays.build_array_metadata` (``chunks``,
        ``shards``, ``compressors``, ``filters``, ``fill_value``, ``attributes``,
        ``dimension_names``...).

    Raises
    ------
    InvalidArgumentError
        ``shape``/``dtype`` missing without ``data``, ``data`` that does not fit them, or a
        keyword argument array creation does not take (the message suggests the right one).
    ContainsArrayError, ContainsGroupError
        A node is at ``name`` and ``overwrite`` is False.

    Returns
    -------
    AsyncArray
        The new array (``cloudzarr.Array`` from the sync function).

    Examples
    --------
    >>> import cloudzarr
    >>> a = cloudzarr.create_array("memory://", name="t", shape=(4, 4), dtype="f4", chunks=(2, 2))
    >>> a[0, :] = 1.0
    >>> float(a[...].sum())
    4.0
    """
    meta, values = prepare_array(
        "create_array", shape=shape, dtype=dtype, data=data, zarr_format=zarr_format, kwargs=kwargs
    )
    path = normalize_path(name or "")
    async with opened_store(store, storage_options=storage_options) as st:
        await create_nodes(st, {path: meta}, overwrite=overwrite)
        array = make_array(st, path, meta)
        if values is not None:
            await array.setitem(Ellipsis, values)
        return array


async def open_array(
    store: StoreLike,
    *,
    path: str = "",
    mode: AccessMode = "a",
    zarr_format: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    cache: Any = None,
    **kwargs: Any,
) -> AsyncArray:
    """Open the array at ``path`` (one round of GETs). With mode ``w``/``w-``, or ``a`` when
    nothing is there and ``shape`` is given, create it with ``kwargs`` (those of
    :func:`create_array`). ``cache``: as for :func:`open_group`.

    Parameters
    ----------
    store
        A :class:`~cloudzarr.storage.base.Store`, a URL (``s3://bucket/prefix``, ``gs://``,
        ``az://``, ``memory://``, ``file://`` or any fsspec protocol) or a local path. A store
        opened here from a URL is closed again if the call fails.
    path
        The array's path in the store.
    mode
        ``"r"`` read only, ``"r+"`` read/write (must exist), ``"a"`` read/write (create if
        missing), ``"w"`` create (replace what is there), ``"w-"`` create (fail if present).
    zarr_format
        2 or 3; None reads whichever is there.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).
    **kwargs
        Creation arguments (``shape``, ``dtype``, ``chunks``, ``data``...), used only when the
        array is created.

    Returns
    -------
    AsyncArray
        The array (``cloudzarr.Array`` from the sync function).

    Raises
    ------
    ArrayNotFoundError
        No array is there (and none is to be created).
    NodeTypeError
        A group is there.
    InvalidArgumentError
        A bad ``mode``, a keyword argument array creation does not take, or mode ``w``/``w-``
        without ``shape``/``dtype`` (or ``data``).

    Examples
    --------
    >>> import cloudzarr
    >>> store = cloudzarr.open_store("memory://")
    >>> _ = cloudzarr.create_array(store, name="x", data=[1, 2, 3])
    >>> cloudzarr.open_array(store, path="x", mode="r")[:].tolist()
    [1, 2, 3]
    """
    check_mode(mode)
    check_format(zarr_format, allow_none=True)
    check_array_kwargs("open_array", {k: v for k, v in kwargs.items() if k != "data"})
    if mode in ("w", "w-"):
        if kwargs.get("data") is None:
            require_shape_and_dtype(
                f"open_array(mode={mode!r})", kwargs.get("shape"), kwargs.get("dtype")
            )
        # A new array: nothing to cache yet, the returned handle reads through the store.
        return await create_array(
            store,
            name=path,
            overwrite=mode == "w",
            zarr_format=zarr_format or 3,
            storage_options=storage_options,
            **kwargs,
        )
    from cloudzarr.arrays.async_array import AsyncArray

    async with opened_store(store, mode=mode, storage_options=storage_options, cache=cache) as st:
        try:
            return await AsyncArray.open(
                st, normalize_path(path), zarr_format, metadata_guard=keep_holders_current
            )
        except ArrayNotFoundError:
            if mode != "a" or st.read_only or ("shape" not in kwargs and "data" not in kwargs):
                raise
        return await create_array(st, name=path, zarr_format=zarr_format or 3, **kwargs)


# What ``open`` passes on when it creates a group instead of an array.
_GROUP_KWARGS = frozenset({"attributes", "use_consolidated"})


def _check_group_kwargs(kwargs: Mapping[str, Any]) -> None:
    extra = sorted(set(kwargs) - _GROUP_KWARGS)
    if extra:
        raise InvalidArgumentError(
            f"open() got {', '.join(extra)} without shape=, so it would create a group, which "
            "takes only attributes= and use_consolidated=; give shape= (or data=) for an array"
        )


async def open(
    store: StoreLike,
    *,
    path: str = "",
    mode: AccessMode = "a",
    zarr_format: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> AsyncArray | AsyncGroup:
    """Open the node at ``path``, whichever kind it is (one round of GETs).

    With mode ``w``/``w-`` (or ``a`` over nothing) an array is created when ``shape`` (or
    ``data``) is given, else a group (which takes only ``attributes`` and
    ``use_consolidated`` from ``kwargs``). With ``r``/``r+``, as in zarr-python, creation
    arguments are not used.

    Parameters
    ----------
    store
        A :class:`~cloudzarr.storage.base.Store`, a URL (``s3://bucket/prefix``, ``gs://``,
        ``az://``, ``memory://``, ``file://`` or any fsspec protocol) or a local path. A store
        opened here from a URL is closed again if the call fails.
    path
        The node's path in the store.
    mode
        ``"r"`` read only, ``"r+"`` read/write (must exist), ``"a"`` read/write (create if
        missing), ``"w"`` create (replace what is there), ``"w-"`` create (fail if present).
    zarr_format
        2 or 3; None reads whichever is there.
    storage_options
        The backend's options when ``store`` is a URL, named as in s3fs, gcsfs and adlfs
        (``key``/``secret``/``endpoint_url``, ``token``, ``account_name``...).
    **kwargs
        Creation arguments of an array (with ``shape`` or ``data``) or of a group.

    Returns
    -------
    AsyncArray or AsyncGroup
        Whatever is at ``path``.

    Raises
    ------
    NodeNotFoundError
        Nothing is at ``path`` in modes ``r``/``r+``.

    Examples
    --------
    >>> import cloudzarr
    >>> store = cloudzarr.open_store("memory://")
    >>> _ = cloudzarr.create_group(store, path="g")
    >>> type(cloudzarr.open(store, path="g", mode="r")).__name__
    'Group'
    """
    check_mode(mode)
    check_format(zarr_format, allow_none=True)
    wants_array = "shape" in kwargs or "data" in kwargs
    if mode in ("w", "w-", "a") and wants_array:
        return await open_array(
            store,
            path=path,
            mode=mode,
            zarr_format=zarr_format,
            storage_options=storage_options,
            **kwargs,
        )
    if mode in ("w", "w-"):
        _check_group_kwargs(kwargs)
        return await open_group(
            store,
            path=path,
            mode=mode,
            zarr_format=zarr_format,
            storage_options=storage_options,
            **kwargs,
        )
    async with opened_store(store, mode=mode, storage_options=storage_options) as st:
        norm = normalize_path(path)
        try:
            meta = await read_node(st, norm, zarr_format)
        except NodeNotFoundError:
            if mode != "a" or st.read_only:
                raise NodeNotFoundError(f"no array or group at {shown(norm)!r} in {st!r}") from None
            _check_group_kwargs(kwargs)
            return await open_group(st, path=norm, mode="a", zarr_format=zarr_format, **kwargs)
        if meta.node_type == "group":
            if meta.zarr_format == 3:  # zarr.json already carries any consolidated metadata
                return AsyncGroup(st, norm, meta)
            return await AsyncGroup.open(st, norm, zarr_format=2)  # picks up .zmetadata
        return make_array(st, norm, meta)
