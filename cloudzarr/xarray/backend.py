"""The ``cloudzarr`` xarray backend: ``xr.open_dataset(url, engine="cloudzarr")`` without
zarr-python.

Variables are read as xarray's zarr backend reads them: dimension names from the v3
``dimension_names`` or the v2 ``_ARRAY_DIMENSIONS`` attribute, attributes as stored, the array's
fill value as ``_FillValue`` (by default for format 2, as xarray does) and the data behind a lazy
:class:`~xarray.backends.BackendArray`. The backend returns the variables still CF-encoded and
xarray's own :class:`~xarray.backends.StoreBackendEntrypoint` decodes them (times, scale and
offset, masks, coordinates), so decoding is exactly xarray's. A group with consolidated metadata
is opened in one round trip and its members cost no further request.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from xarray import Dataset, DataTree, Variable
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.backends.common import AbstractDataStore, datatree_from_dict_with_io_cleanup
from xarray.backends.store import StoreBackendEntrypoint
from xarray.core import indexing
from xarray.core.utils import FrozenDict

from cloudzarr.api import synchronous as api
from cloudzarr.arrays import Array
from cloudzarr.errors import InvalidMetadataError, NodeTypeError
from cloudzarr.groups import Group
from cloudzarr.storage import Store, open_store
from cloudzarr.sync import sync

__all__ = ["CloudzarrArrayWrapper", "CloudzarrBackendEntrypoint", "CloudzarrDataStore"]

#: The v2 attribute holding dimension names (xarray's convention).
DIMENSION_KEY = "_ARRAY_DIMENSIONS"


class CloudzarrArrayWrapper(BackendArray):
    """A cloudzarr :class:`~cloudzarr.Array` behind xarray's lazy indexing."""

    def __init__(self, array: Array) -> None:
        self._array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def get_array(self) -> Array:
        """The wrapped cloudzarr array."""
        return self._array

    def _getitem(self, key: tuple[Any, ...]) -> np.ndarray:
        return np.asarray(self._array[key])

    def __getitem__(self, key: indexing.ExplicitIndexer) -> Any:
        # Basic indexing goes to cloudzarr (whole stored chunks, concurrent requests); xarray
        # applies any outer or vectorized remainder to the result in memory.
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._getitem
        )


def dimensions_and_attributes(array: Array) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The dimension names and user attributes of an array, as xarray's zarr backend reads them.

    Raises
    ------
    InvalidMetadataError
        If the array names no dimensions (v3 ``dimension_names``, v2 ``_ARRAY_DIMENSIONS``).
    """
    attributes = dict(array.attrs)
    name = array.path or "/"
    if array.zarr_format == 3:
        dims = array.dimension_names or ()
        if len(dims) != array.ndim or any(d is None for d in dims):
            raise InvalidMetadataError(
                f"array {name!r} has no dimension_names for all its {array.ndim} dimensions, "
                "which xarray needs to name the variable's dimensions"
            )
        return tuple(str(d) for d in dims), attributes
    dims_attr = attributes.pop(DIMENSION_KEY, None)
    if dims_attr is None or len(dims_attr) != array.ndim:
        raise InvalidMetadataError(
            f"array {name!r} has no {DIMENSION_KEY} attribute naming its {array.ndim} "
            "dimensions, which xarray needs"
        )
    return tuple(str(d) for d in dims_attr), attributes


class CloudzarrDataStore(AbstractDataStore):
    """One cloudzarr group as an xarray data store (read side).

    Parameters
    ----------
    group
        The group whose arrays are the variables.
    use_zarr_fill_value_as_mask
        Put the array's fill value in the ``_FillValue`` attribute (CF masking); None: for
        format 2 only, as xarray does.
    close_store
        Close the group's store when the dataset is closed (stores the backend opened).
    """

    def __init__(
        self,
        group: Group,
        *,
        use_zarr_fill_value_as_mask: bool | None = None,
        close_store: bool = False,
    ) -> None:
        self.group = group
        if use_zarr_fill_value_as_mask is None:
            use_zarr_fill_value_as_mask = group.zarr_format == 2
        self._mask = use_zarr_fill_value_as_mask
        self._close_store = close_store
        self._arrays: dict[str, Array] | None = None

    def arrays(self) -> dict[str, Array]:
        """The group's arrays by name (from consolidated metadata when present: no I/O)."""
        if self._arrays is None:
            self._arrays = dict(sorted(self.group.arrays()))
        return self._arrays

    def open_store_variable(self, array: Array) -> Variable:
        from xarray.backends.zarr import FillValueCoder

        dims, attributes = dimensions_and_attributes(array)
        data = indexing.LazilyIndexedArray(CloudzarrArrayWrapper(array))
        inner = array.chunks
        stored = array.shards or inner
        encoding: dict[str, Any] = {
            "chunks": inner,
            # Blocks of one stored object each: a dask task then reads whole shards.
            "preferred_chunks": dict(zip(dims, stored, strict=True)),
        }
        if array.shards is not None:
            encoding["shards"] = array.shards
        if array.dtype.kind == "T":
            encoding["dtype"] = array.dtype
        # The stored fill value (v2 ``null`` stays None: nothing is masked), not the value
        # missing chunks read as.
        fill_value = array.metadata.fill_value
        if self._mask:
            if fill_value is not None:
                attributes["_FillValue"] = fill_value
        else:
            if array.zarr_format == 3:
                encoding["fill_value"] = fill_value
            if "_FillValue" in attributes:
                attributes["_FillValue"] = FillValueCoder.decode(
                    attributes["_FillValue"], array.dtype
                )
        return Variable(dims, data, attributes, encoding)

    def get_variables(self) -> Mapping[str, Variable]:
        return FrozenDict((k, self.open_store_variable(a)) for k, a in self.arrays().items())

    def get_attrs(self) -> Mapping[str, Any]:
        return {k: v for k, v in self.group.attrs.items() if not k.lower().startswith("_nc")}

    def get_dimensions(self) -> Mapping[str, int]:
        dimensions: dict[str, int] = {}
        for name, array in self.arrays().items():
            dims, _ = dimensions_and_attributes(array)
            for d, n in zip(dims, array.shape, strict=True):
                if dimensions.setdefault(d, n) != n:
                    raise InvalidMetadataError(
                        f"dimension {d!r} has length {n} in array {name!r} and "
                        f"{dimensions[d]} in another array of group {self.group.path or '/'!r}"
                    )
        return dimensions

    def close(self, **kwargs: Any) -> None:
        if self._close_store:
            sync(self.group.store.close())


def _open_root(
    filename_or_obj: Any,
    group: str | None,
    consolidated: bool | None,
    storage_options: Mapping[str, Any] | None,
    zarr_format: int | None,
) -> tuple[Group, bool]:
    """The group to read, and whether the backend opened (so owns) its store."""
    if isinstance(filename_or_obj, Group):
        node = filename_or_obj[group] if group else filename_or_obj
        if not isinstance(node, Group):
            raise NodeTypeError(f"{group!r} in {filename_or_obj!r} is an array, not a group")
        return node, False
    if isinstance(filename_or_obj, Store):
        store, owned = filename_or_obj.with_read_only(True), False
    else:
        if isinstance(filename_or_obj, os.PathLike):
            filename_or_obj = os.fspath(filename_or_obj)
        store = open_store(filename_or_obj, storage_options=storage_options, read_only=True)
        owned = True
    opened = api.open_group(
        store,
        path=(group or "").strip("/"),
        mode="r",
        zarr_format=zarr_format,
        use_consolidated=consolidated,
    )
    return opened, owned


_DECODE_ARGS = (
    "mask_and_scale",
    "decode_times",
    "concat_characters",
    "decode_coords",
    "drop_variables",
    "use_cftime",
    "decode_timedelta",
)


class CloudzarrBackendEntrypoint(BackendEntrypoint):
    """xarray backend ``engine="cloudzarr"``: Zarr v2/v3 on any cloudzarr store.

    ``filename_or_obj`` is a URL (``s3://``, ``gs://``, ``az://``, ``memory://``, a path...), a
    cloudzarr :class:`~cloudzarr.storage.Store` or a :class:`~cloudzarr.Group`.
    ``storage_options`` go to the store; ``group`` picks a group inside; ``consolidated``
    (None: use consolidated metadata when present) and ``zarr_format`` as in xarray's zarr
    backend.
    """

    description = "Open Zarr v2/v3 hierarchies on cloud object storage with cloudzarr"
    url = "https://github.com/cloudzarr/cloudzarr"
    supports_groups = True
    open_dataset_parameters = (
        "filename_or_obj",
        *_DECODE_ARGS,
        "group",
        "consolidated",
        "storage_options",
        "zarr_format",
        "use_zarr_fill_value_as_mask",
    )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        # Only when asked for by name: xarray's zarr backend claims ".zarr" paths.
        return isinstance(filename_or_obj, Group)

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: bool = True,
        decode_times: bool = True,
        concat_characters: bool = True,
        decode_coords: bool | str = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: bool | None = None,
        group: str | None = None,
        consolidated: bool | None = None,
        storage_options: Mapping[str, Any] | None = None,
        zarr_format: int | None = None,
        use_zarr_fill_value_as_mask: bool | None = None,
    ) -> Dataset:
        root, owned = _open_root(filename_or_obj, group, consolidated, storage_options, zarr_format)
        store = CloudzarrDataStore(
            root, use_zarr_fill_value_as_mask=use_zarr_fill_value_as_mask, close_store=owned
        )
        return StoreBackendEntrypoint().open_dataset(
            store,
            mask_and_scale=mask_and_scale,
            decode_times=decode_times,
            concat_characters=concat_characters,
            decode_coords=decode_coords,
            drop_variables=drop_variables,
            use_cftime=use_cftime,
            decode_timedelta=decode_timedelta,
        )

    def open_groups_as_dict(
        self,
        filename_or_obj: Any,
        *,
        group: str | None = None,
        consolidated: bool | None = None,
        storage_options: Mapping[str, Any] | None = None,
        zarr_format: int | None = None,
        use_zarr_fill_value_as_mask: bool | None = None,
        **decode: Any,
    ) -> dict[str, Dataset]:
        root, owned = _open_root(filename_or_obj, group, consolidated, storage_options, zarr_format)
        groups: dict[str, Group] = {"/": root}
        groups.update(
            {"/" + name: node for name, node in root.members(max_depth=None)
             if isinstance(node, Group)}
        )  # fmt: skip
        out: dict[str, Dataset] = {}
        entry = StoreBackendEntrypoint()
        for name, node in groups.items():
            store = CloudzarrDataStore(
                node,
                use_zarr_fill_value_as_mask=use_zarr_fill_value_as_mask,
                close_store=owned and name == "/",
            )
            out[name] = entry.open_dataset(store, **decode)
        return out

    def open_datatree(self, filename_or_obj: Any, **kwargs: Any) -> DataTree:
        return datatree_from_dict_with_io_cleanup(
            self.open_groups_as_dict(filename_or_obj, **kwargs)
        )
