"""The sync :class:`Array`: a thin wrapper running :class:`AsyncArray` on cloudzarr's loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from cloudzarr.arrays.async_array import ArrayMetadata, AsyncArray, MetadataHook
from cloudzarr.arrays.attributes import Attributes
from cloudzarr.metadata.nodes_io import AttributesChange
from cloudzarr.storage.base import Store
from cloudzarr.sync import sync

if TYPE_CHECKING:
    from cloudzarr.groups.info import ArrayInfo

__all__ = ["Array"]


class Array:
    """A Zarr array with a sync, numpy-like API.

    Parameters
    ----------
    async_array
        The :class:`AsyncArray` every call is delegated to.

    Notes
    -----
    Pickles through its :class:`AsyncArray` (store configuration, path and metadata), and
    offers ``shape``, ``dtype``, ``ndim``, ``chunks``, ``__getitem__`` and ``__setitem__``,
    so ``dask.array.from_array(a, chunks=a.chunks)`` and ``dask.array.store`` work.
    """

    def __init__(self, async_array: AsyncArray) -> None:
        self._async_array = async_array

    def __reduce__(self) -> tuple[Any, ...]:
        return (Array, (self._async_array,))

    @classmethod
    def open(
        cls,
        store: Store,
        path: str = "",
        zarr_format: int | None = None,
        *,
        on_metadata_written: MetadataHook | None = None,
    ) -> Self:
        """Open the array at ``path`` (see :meth:`AsyncArray.open`)."""
        return cls(
            sync(AsyncArray.open(store, path, zarr_format, on_metadata_written=on_metadata_written))
        )

    @classmethod
    def create(
        cls,
        store: Store,
        path: str,
        metadata: ArrayMetadata,
        overwrite: bool = False,
        *,
        on_metadata_written: MetadataHook | None = None,
    ) -> Self:
        """Write the array's metadata documents (see :meth:`AsyncArray.create`)."""
        return cls(
            sync(
                AsyncArray.create(
                    store, path, metadata, overwrite, on_metadata_written=on_metadata_written
                )
            )
        )

    # --- delegated properties --------------------------------------------------------------

    @property
    def async_array(self) -> AsyncArray:
        """The wrapped :class:`AsyncArray`."""
        return self._async_array

    @property
    def store(self) -> Store:
        """The store holding the array."""
        return self._async_array.store

    @property
    def path(self) -> str:
        """The array's path in its store."""
        return self._async_array.path

    @property
    def name(self) -> str:
        """``"/" + path``."""
        return self._async_array.name

    @property
    def basename(self) -> str:
        """The last component of the path."""
        return self._async_array.basename

    @property
    def metadata(self) -> ArrayMetadata:
        """The array's metadata."""
        return self._async_array.metadata

    @property
    def zarr_format(self) -> int:
        """2 or 3."""
        return self._async_array.zarr_format

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self._async_array.shape

    @shape.setter
    def shape(self, new_shape: Sequence[int]) -> None:
        self.resize(new_shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype."""
        return self._async_array.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self._async_array.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self._async_array.size

    @property
    def nbytes(self) -> int:
        """Bytes of the whole array in memory."""
        return self._async_array.nbytes

    @property
    def chunks(self) -> tuple[int, ...]:
        """The chunk shape (inner chunks when sharded)."""
        return self._async_array.chunks

    @property
    def shards(self) -> tuple[int, ...] | None:
        """The shard shape, or None."""
        return self._async_array.shards

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Chunks along each dimension (inner chunks for a sharded array, as in zarr-python)."""
        return self._async_array.cdata_shape

    @property
    def shard_grid_shape(self) -> tuple[int, ...]:
        """Stored objects along each dimension: shards, or chunks when not sharded."""
        return self._async_array.shard_grid_shape

    @property
    def fill_value(self) -> Any:
        """The value of elements never written."""
        return self._async_array.fill_value

    @property
    def order(self) -> str:
        """Memory order (``"C"``, or ``"F"`` for some v2 arrays)."""
        return self._async_array.order

    @property
    def dimension_names(self) -> tuple[str | None, ...] | None:
        """Dimension names (v3), else None."""
        return self._async_array.dimension_names

    @property
    def compressors(self) -> tuple[Any, ...]:
        """The compressors."""
        return self._async_array.compressors

    @property
    def filters(self) -> tuple[Any, ...]:
        """The filters."""
        return self._async_array.filters

    @property
    def serializer(self) -> Any:
        """The array->bytes codec (v3)."""
        return self._async_array.serializer

    @property
    def nchunks(self) -> int:
        """Number of chunks in the grid (inner chunks for a sharded array)."""
        return self._async_array.nchunks

    @property
    def nshards(self) -> int:
        """Number of stored objects in the grid: shards, or chunks when not sharded."""
        return self._async_array.nshards

    @property
    def nchunks_initialized(self) -> int:
        """How many chunks are initialized, each stored shard counting as all its chunks (one
        listing; as in zarr-python)."""
        return sync(self._async_array.nchunks_initialized())

    @property
    def nshards_initialized(self) -> int:
        """How many stored objects (shards, or chunks when not sharded) exist (one listing)."""
        return sync(self._async_array.nshards_initialized())

    @property
    def attrs(self) -> Attributes:
        """The attributes; assigning, deleting or updating writes the metadata at once."""
        return Attributes(self._async_array.metadata.attributes, self._write_attrs)

    def _write_attrs(self, change: AttributesChange) -> Mapping[str, Any]:
        sync(self._async_array.change_attributes(change))
        return self._async_array.metadata.attributes

    def update_attributes(self, new_attributes: Mapping[str, Any]) -> Self:
        """Merge ``new_attributes`` into the attributes and write the metadata."""
        sync(self._async_array.update_attributes(new_attributes))
        return self

    def delete_attributes(self, *keys: str) -> Self:
        """Delete ``keys`` from the attributes as stored now (see
        :meth:`AsyncArray.delete_attributes`)."""
        sync(self._async_array.delete_attributes(*keys))
        return self

    @property
    def info(self) -> ArrayInfo:
        """A summary of the array, without I/O; prints as a table (see
        :attr:`AsyncArray.info`)."""
        return self._async_array.info

    def info_complete(self) -> ArrayInfo:
        """:attr:`info` plus ``nchunks_initialized`` (one listing)."""
        return sync(self._async_array.info_complete())

    def resize(self, new_shape: Sequence[int] | int) -> None:
        """Change the shape, deleting chunks wholly outside it."""
        sync(self._async_array.resize(new_shape))

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Append ``data`` along ``axis``, safely with concurrent appenders; return the new
        shape (see :meth:`AsyncArray.append`)."""
        return sync(self._async_array.append(data, axis=axis))

    # --- data ------------------------------------------------------------------------------

    def __getitem__(self, selection: Any) -> Any:
        return sync(self._async_array.getitem(selection))

    def __setitem__(self, selection: Any, value: Any) -> None:
        sync(self._async_array.setitem(selection, value))

    def get_basic_selection(self, selection: Any = Ellipsis) -> Any:
        """``a[selection]``."""
        return self[selection]

    def set_basic_selection(self, selection: Any, value: Any) -> None:
        """``a[selection] = value``."""
        self[selection] = value

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = np.asarray(self[...])
        return out if dtype is None else out.astype(dtype, copy=False)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (
            f"<Array {self.store!r} {self.name!r} shape={self.shape} dtype={self.dtype} "
            f"zarr_format={self.zarr_format}>"
        )
