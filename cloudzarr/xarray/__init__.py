"""cloudzarr for xarray: the ``engine="cloudzarr"`` backend and a shard-safe ``to_zarr``.

``xr.open_dataset(url, engine="cloudzarr", storage_options=..., chunks={})`` and
``xr.open_datatree(url, engine="cloudzarr")`` read Zarr v2/v3 without zarr-python;
:func:`to_zarr` writes a Dataset with ``mode``, ``append_dim``, ``region`` and ``compute``
as ``Dataset.to_zarr`` takes them. The backend needs only xarray; ``to_zarr`` also needs dask
(imported when it is first used).
"""

from typing import Any

from cloudzarr.xarray.backend import (
    CloudzarrArrayWrapper,
    CloudzarrBackendEntrypoint,
    CloudzarrDataStore,
)

__all__ = [
    "CloudzarrArrayWrapper",
    "CloudzarrBackendEntrypoint",
    "CloudzarrDataStore",
    "to_zarr",
]


def __getattr__(name: str) -> Any:
    # The writer plans dask writes; loading it lazily keeps the engine usable without dask.
    if name == "to_zarr":
        from cloudzarr.xarray.write import to_zarr

        return to_zarr
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
