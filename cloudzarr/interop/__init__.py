"""cloudzarr stores for other Zarr libraries: zarr-python, and xarray through it.

:func:`as_zarr_store` hands any cloudzarr store to ``zarr.open_group(...)``,
``xarray.open_zarr(...)`` or ``Dataset.to_zarr(...)``; every request zarr-python makes then goes
through the store's atomic create, its one concurrency limiter, and whatever wrappers
(``RetryStore``, ``InstrumentedStore``...) it has.

zarr-python is an optional dependency (``pip install "cloudzarr[zarr]"``): importing this package
does not import it; the first call to :func:`as_zarr_store` (or use of
:class:`ZarrStoreAdapter`) does.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cloudzarr.errors import UnsupportedError
from cloudzarr.interop.errors import UnsupportedByteRequestError, ZarrReadOnlyError

if TYPE_CHECKING:
    from cloudzarr.interop.zarr_store import ZarrStoreAdapter
    from cloudzarr.storage.base import Store


def _zarr_module() -> ModuleType:
    try:
        return importlib.import_module("cloudzarr.interop.zarr_store")
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("zarr"):
            raise
        raise UnsupportedError(
            "cloudzarr.interop needs zarr-python, which is not installed: "
            'pip install "cloudzarr[zarr]"'
        ) from exc


def as_zarr_store(
    store: Store | ZarrStoreAdapter | str | os.PathLike[str],
    *,
    read_only: bool | None = None,
    storage_options: Mapping[str, Any] | None = None,
    concurrency: int | None = None,
) -> ZarrStoreAdapter:
    """Return a zarr-python ``Store`` that reads and writes through a cloudzarr store.

    Parameters
    ----------
    store
        Any cloudzarr store (``S3Store``, ``LocalStore``, a ``RetryStore`` or
        ``InstrumentedStore`` around one...), or a URL or path for
        :func:`cloudzarr.storage.open_store` (``"s3://bucket/data.zarr"``, ``"gs://..."``,
        ``"az://..."``, a local folder...). An adapter is returned as it is.
    read_only
        None keeps the store's setting (a URL opens writable); True or False adapts a view of
        the store with that setting (sharing its connections, limiter and request counter).
    storage_options
        For a URL: the backend's options (credentials, ``endpoint_url``...).
    concurrency
        For a URL: the most requests the new store sends at once.

    Returns
    -------
    ZarrStoreAdapter
        A ``zarr.abc.store.Store`` for ``zarr.open_group``, ``zarr.open_array``,
        ``xarray.open_zarr`` and ``Dataset.to_zarr``. Its ``store`` attribute is the cloudzarr
        store (for ``store.requests`` and ``store.limiter``).

    Raises
    ------
    UnsupportedError
        If zarr-python is not installed, or the URL needs an extra that is not.
    InvalidStoreURLError
        If the URL cannot be opened, or ``storage_options``/``concurrency`` are given with a
        store that is already made.

    Examples
    --------
    >>> import zarr
    >>> from cloudzarr.storage import MemoryStore
    >>> root = zarr.open_group(as_zarr_store(MemoryStore()), mode="w")
    """
    function = _zarr_module().as_zarr_store
    adapter: ZarrStoreAdapter = function(
        store, read_only=read_only, storage_options=storage_options, concurrency=concurrency
    )
    return adapter


def __getattr__(name: str) -> Any:
    # ZarrStoreAdapter subclasses zarr-python's Store, so naming it imports zarr-python.
    if name in ("ZarrStoreAdapter", "to_cloudzarr_byte_request"):
        return getattr(_zarr_module(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "UnsupportedByteRequestError",
    "ZarrReadOnlyError",
    "ZarrStoreAdapter",
    "as_zarr_store",
    "to_cloudzarr_byte_request",
]
