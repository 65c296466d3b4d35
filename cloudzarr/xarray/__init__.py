"""cloudzarr for xarray: the ``engine="cloudzarr"`` backend and a shard-safe ``to_zarr``.

``xr.open_dataset(url, engine="cloudzarr", storage_options=..., chunks={})`` and
``xr.open_datatree(url, engine="cloudzarr")`` read Zarr v2/v3 without zarr-python;
:func:`to_zarr` writes a Dataset with ``mode``, ``append_dim``, ``region`` and ``compute``
as ``Dataset.to_zarr`` takes them.
"""

from cloudzarr.xarray.backend import (
    CloudzarrArrayWrapper,
    CloudzarrBackendEntrypoint,
    CloudzarrDataStore,
)
from cloudzarr.xarray.write import to_zarr

__all__ = [
    "CloudzarrArrayWrapper",
    "CloudzarrBackendEntrypoint",
    "CloudzarrDataStore",
    "to_zarr",
]
