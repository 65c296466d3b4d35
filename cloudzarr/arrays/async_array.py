"""The async array: metadata, chunk I/O and numpy indexing over one store.

Every read or write of a selection projects it onto the chunk grid
(:class:`~cloudzarr.arrays.indexing.BasicIndexer`) and handles its chunks concurrently: a pool
of workers per call, sized by a memory budget (:meth:`ChunkIO.tasks_in_flight`), pulls chunk
projections lazily, the store's limiter bounds the requests in flight, and large chunks are
decoded and encoded in a small thread pool
(:mod:`cloudzarr.arrays.cpu`). A missing chunk reads as the fill value; a chunk left all fill
value is deleted rather than stored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from cloudzarr.arrays.chunk_io import ChunkIO, make_chunk_io
from cloudzarr.arrays.extras import AsyncArrayExtras
from cloudzarr.arrays.indexing import BasicIndexer, ChunkProjection
from cloudzarr.arrays.metadata_changes import ArrayMetadataChanges, MetadataGuard, MetadataHook
from cloudzarr.arrays.selection_api import AsyncSelectionMethods, selection_kind
from cloudzarr.arrays.values import prepare_value
from cloudzarr.concurrency import for_each
from cloudzarr.errors import (
    ArrayNotFoundError,
    IndexingError,
    NodeTypeError,
    ReadOnlyError,
)
from cloudzarr.metadata import nodes_io
from cloudzarr.metadata.array_v2 import ArrayMetadataV2
from cloudzarr.metadata.array_v3 import ArrayMetadataV3
from cloudzarr.metadata.dtypes import is_string_dtype
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.info import ArrayInfo
from cloudzarr.metadata.paths import doc_key, normalize_path, shown
from cloudzarr.storage.base import Store

__all__ = ["ArrayMetadata", "AsyncArray", "MetadataHook", "normalize_path"]

ArrayMetadata = ArrayMetadataV2 | ArrayMetadataV3


def _fill_value(metadata: ArrayMetadata) -> Any:
    if isinstance(metadata, ArrayMetadataV2):
        return metadata.effective_fill_value
    return metadata.fill_value


class AsyncArray(AsyncSelectionMethods, AsyncArrayExtras, ArrayMetadataChanges):
    """A Zarr array (format 2 or 3) in a store, with an async API.

    Parameters
    ----------
    store
        The store holding the array.
    path
        The array's path in the store (``""`` for a root array).
    metadata
        The array's metadata (:class:`ArrayMetadataV3` or :class:`ArrayMetadataV2`).
    on_metadata_written
        Awaited with this array after it rewrites its metadata document (attributes update,
        resize).
    metadata_guard
        Entered around every rewrite of the metadata document (see :data:`MetadataGuard`),
        so a group layer can keep consolidated metadata fresh, crash included.

    Notes
    -----
    Pickles as (store, path, metadata); the hook is not pickled.
    """

    def __init__(
        self,
        store: Store,
        path: str,
        metadata: ArrayMetadata,
        *,
        on_metadata_written: MetadataHook | None = None,
        metadata_guard: MetadataGuard | None = None,
    ) -> None:
        if not isinstance(metadata, ArrayMetadataV2 | ArrayMetadataV3):
            raise NodeTypeError(
                f"node {normalize_path(path) or '/'!r}: metadata of type "
                f"{type(metadata).__name__} is not array metadata"
            )
        self._store = store
        self._path = normalize_path(path)
        self._metadata = metadata
        self._chunk_io: ChunkIO = make_chunk_io(metadata, self._path)
        self.on_metadata_written = on_metadata_written
        self.metadata_guard = metadata_guard

    def __reduce__(self) -> tuple[Any, ...]:
        return (AsyncArray, (self._store, self._path, self._metadata))

    # --- opening and creating --------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        store: Store,
        path: str = "",
        zarr_format: int | None = None,
        *,
        on_metadata_written: MetadataHook | None = None,
        metadata_guard: MetadataGuard | None = None,
    ) -> Self:
        """Open the array at ``path``, reading its metadata in one round of requests.

        Parameters
        ----------
        zarr_format
            3 reads ``zarr.json``; 2 reads ``.zarray`` and ``.zattrs``; None reads all three
            concurrently and prefers format 3.

        Raises
        ------
        ArrayNotFoundError
            If no array is at ``path``.
        NodeTypeError
            If a group is at ``path``.
        MetadataError
            If the metadata is invalid (the message names the document and field).
        """
        path = normalize_path(path)
        node = await nodes_io.read_node_or_none(store, path, zarr_format)
        if node is None:
            # Worded as GroupNotFoundError's, which names the store too.
            raise ArrayNotFoundError(
                f"no array at {shown(path)!r}: no zarr.json or .zarray in {store!r}"
            )
        if not isinstance(node, ArrayMetadataV2 | ArrayMetadataV3):
            raise NodeTypeError(f"node {shown(path)!r} is a group, not an array")
        return cls(
            store,
            path,
            node,
            on_metadata_written=on_metadata_written,
            metadata_guard=metadata_guard,
        )

    @classmethod
    async def create(
        cls,
        store: Store,
        path: str,
        metadata: ArrayMetadata,
        overwrite: bool = False,
        *,
        on_metadata_written: MetadataHook | None = None,
        metadata_guard: MetadataGuard | None = None,
    ) -> Self:
        """Write the array's own metadata documents and return the array.

        Parent groups are not written (the groups layer does that).

        Parameters
        ----------
        overwrite
            Delete whatever is under ``path`` first (chunks included). Without it the node is
            created atomically (:func:`cloudzarr.metadata.nodes_io.create_node`).

        Raises
        ------
        ContainsArrayError, ContainsGroupError
            If a node of that kind already exists at ``path`` and ``overwrite`` is False.
        """
        path = normalize_path(path)
        # Built first: codecs the chunk I/O cannot handle are refused before anything is written.
        array = cls(
            store,
            path,
            metadata,
            on_metadata_written=on_metadata_written,
            metadata_guard=metadata_guard,
        )
        if overwrite:
            await store.delete_dir(path)
            docs = metadata.to_documents()
            await store.set_many({doc_key(path, k): v for k, v in docs.items()})
        else:
            await nodes_io.create_node(store, path, metadata)
        return array

    # --- properties ------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store holding the array."""
        return self._store

    @property
    def path(self) -> str:
        """The array's path in the store (``""`` for a root array)."""
        return self._path

    @property
    def name(self) -> str:
        """``"/" + path``, as zarr-python names nodes."""
        return "/" + self._path

    @property
    def basename(self) -> str:
        """The last component of the path."""
        return self._path.rsplit("/", 1)[-1]

    @property
    def metadata(self) -> ArrayMetadata:
        """The array's metadata."""
        return self._metadata

    @property
    def zarr_format(self) -> int:
        """2 or 3."""
        return self._metadata.zarr_format

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self._metadata.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of values read and written."""
        return self._metadata.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self._metadata.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self._metadata.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes of the whole array in memory (strings counted as object pointers)."""
        itemsize = 8 if is_string_dtype(self.dtype) else self.dtype.itemsize
        return self.size * itemsize

    @property
    def chunks(self) -> tuple[int, ...]:
        """The shape of the chunks reads and writes are cut into (the inner chunks of a
        sharded array)."""
        return self._chunk_io.read_chunk_shape

    @property
    def shards(self) -> tuple[int, ...] | None:
        """The shard shape of a sharded array, else None."""
        return self._chunk_io.shard_shape

    @property
    def fill_value(self) -> Any:
        """The value of elements never written."""
        return _fill_value(self._metadata)

    @property
    def order(self) -> str:
        """Memory order of values (``"F"`` only for v2 arrays stored in Fortran order)."""
        return getattr(self._metadata, "order", "C")

    @property
    def attrs(self) -> dict[str, Any]:
        """A plain dict copy of the attributes (use :meth:`update_attributes` to change them)."""
        return thaw(self._metadata.attributes)

    @property
    def dimension_names(self) -> tuple[str | None, ...] | None:
        """Dimension names (v3), else None."""
        return self._metadata.dimension_names

    @property
    def compressors(self) -> tuple[Any, ...]:
        """The bytes->bytes codecs (v3 codec specs; v2: the numcodecs compressor config)."""
        return self._chunk_io.compressors

    @property
    def filters(self) -> tuple[Any, ...]:
        """The array->array codecs (v3 codec specs; v2: numcodecs filter configs)."""
        return self._chunk_io.filters

    @property
    def serializer(self) -> Any:
        """The array->bytes codec of a v3 array (None for v2)."""
        return self._chunk_io.serializer

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        """Chunks along each dimension (inner chunks for a sharded array, as in zarr-python)."""
        return tuple(-(-n // c) for n, c in zip(self.shape, self.chunks, strict=True))

    @property
    def nchunks(self) -> int:
        """Number of chunks in the grid (inner chunks for a sharded array, as in zarr-python)."""
        return int(np.prod(self.cdata_shape, dtype=np.int64))

    @property
    def shard_grid_shape(self) -> tuple[int, ...]:
        """Stored objects along each dimension: shards, or chunks when not sharded."""
        return tuple(-(-n // c) for n, c in zip(self.shape, self._metadata.chunks, strict=True))

    @property
    def nshards(self) -> int:
        """Number of stored objects in the grid: shards, or chunks when not sharded."""
        return int(np.prod(self.shard_grid_shape, dtype=np.int64))

    def __repr__(self) -> str:
        return (
            f"<AsyncArray {self._store!r} {self.name!r} shape={self.shape} dtype={self.dtype} "
            f"zarr_format={self.zarr_format}>"
        )

    def _workers(self, indexer: BasicIndexer) -> int:
        return min(indexer.nchunks, self._chunk_io.tasks_in_flight(self._store.limiter.size))

    def _chunk_key(self, coords: Sequence[int]) -> str:
        return doc_key(self._path, self._metadata.chunk_key(coords))

    # --- reading ---------------------------------------------------------------------------

    async def getitem(self, selection: Any) -> Any:
        """Read a basic selection into a new numpy array (a numpy scalar for a single element).

        Raises
        ------
        IndexingError
            An index is out of bounds or not supported.
        ChunkDecodeError
            A stored chunk is corrupt or truncated (names the array and chunk key).
        """
        kind = self._selection_kind(selection)
        if kind != "basic":
            return await self._fancy_get(selection, kind)
        indexer = self._basic_indexer(selection)
        out = self._chunk_io.empty(indexer.shape)
        await self._read_into(indexer, out)
        if out.ndim == 0 and not _has_ellipsis(selection):
            return out[()]
        return out

    def _selection_kind(self, selection: Any) -> str:
        # zarr-python's dispatch: points and masks to vindex, arrays to oindex.
        kind = selection_kind(selection, self.ndim)
        if kind == "invalid":
            raise IndexingError(
                f"array {self.name!r}: this mix of index arrays and slices is not supported by "
                "a[...]; use a.oindex[...] (orthogonal) or a.vindex[...] (points)"
            )
        return kind

    def _basic_indexer(self, selection: Any) -> BasicIndexer:
        try:
            return BasicIndexer(selection, self.shape, self._metadata.chunks)
        except IndexingError as exc:
            raise IndexingError(f"array {self.name!r}: {exc}") from None

    async def _read_into(self, indexer: BasicIndexer, out: np.ndarray[Any, Any]) -> None:
        if indexer.nchunks == 0:
            return

        async def one(proj: ChunkProjection) -> None:
            await self._chunk_io.read(self._store, self._chunk_key(proj.chunk_coords), proj, out)

        await for_each(indexer, one, self._workers(indexer))

    # --- writing ---------------------------------------------------------------------------

    async def setitem(self, selection: Any, value: Any) -> None:
        """Write ``value`` (a scalar or an array broadcastable to the selection).

        Parameters
        ----------
        selection
            What ``a[selection] = value`` takes: ints, slices, Ellipsis, integer arrays or
            lists, a boolean mask (fancy selections dispatch as in zarr-python).
        value
            A scalar or an array broadcastable to the selection's shape.

        Raises
        ------
        ArrayShapeError
            ``value`` does not broadcast to the selection's shape, or its dtype cannot be
            cast to the array's under numpy's ``same_kind`` rule (integers of the other
            signedness or a narrower width are accepted only when every value fits).
        IndexingError
            An index is out of bounds or not supported.
        ReadOnlyError
            The store is read-only (raised before anything is read or written).
        """
        if self._store.read_only:
            raise ReadOnlyError(f"array {self.name!r}: cannot write, {self._store!r} is read-only")
        kind = self._selection_kind(selection)
        if kind != "basic":
            await self._fancy_set(selection, value, kind)
            return
        indexer = self._basic_indexer(selection)
        value = self._prepare_value(value, indexer.shape)
        if indexer.nchunks == 0:
            return

        async def one(proj: ChunkProjection) -> None:
            await self._chunk_io.write(self._store, self._chunk_key(proj.chunk_coords), proj, value)

        await for_each(indexer, one, self._workers(indexer))

    def _prepare_value(self, value: Any, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
        return prepare_value(value, self.dtype, shape, f"array {self.name!r}")

    # --- chunk inventory -------------------------------------------------------------------

    def _chunk_key_pattern(self) -> re.Pattern[str]:
        ndim = self.ndim
        meta = self._metadata
        if isinstance(meta, ArrayMetadataV2):
            sep, prefix = meta.dimension_separator, ""
        else:
            enc = meta.chunk_key_encoding
            sep, prefix = enc.separator, ("c" if enc.name == "default" else "")
        if ndim == 0:
            return re.compile(re.escape(prefix or "0") + r"\Z")
        body = re.escape(sep).join([r"(\d+)"] * ndim)
        head = re.escape(prefix + sep) if prefix else ""
        return re.compile(head + body + r"\Z")

    async def _stored_chunks(self) -> list[tuple[str, tuple[int, ...]]]:
        pattern = self._chunk_key_pattern()
        cut = len(self._path) + 1 if self._path else 0
        found: list[tuple[str, tuple[int, ...]]] = []
        async for key in self._store.list_prefix(self._path):
            rel = key[cut:]
            m = pattern.match(rel)
            if m is not None:
                found.append((rel, tuple(int(g) for g in m.groups())))
        return found

    async def nshards_initialized(self) -> int:
        """How many stored objects (shards, or chunks when not sharded) inside the grid exist
        (one listing)."""
        grid = self.shard_grid_shape
        return sum(
            1
            for _, coords in await self._stored_chunks()
            if all(c < g for c, g in zip(coords, grid, strict=True))
        )

    async def nchunks_initialized(self) -> int:
        """How many chunks are initialized (one listing).

        As in zarr-python, every stored shard counts as all the chunks it declares (an edge
        shard too, so the count can exceed :attr:`nchunks`); without sharding, this is the
        number of stored chunks.
        """
        per_shard = math.prod(
            s // c for s, c in zip(self._metadata.chunks, self.chunks, strict=True)
        )
        return await self.nshards_initialized() * per_shard

    @property
    def info(self) -> ArrayInfo:
        """A summary without I/O: path, shape, dtype, chunks, shards, codecs, sizes.

        A mapping (``info["chunks"]``) that prints as a table, like a group's ``info``.
        """
        return ArrayInfo(
            {
                "name": self.name,
                "type": "Array",
                "zarr_format": self.zarr_format,
                "shape": self.shape,
                "dtype": str(self.dtype),
                "chunks": self.chunks,
                "shards": self.shards,
                "fill_value": self.fill_value,
                "order": self.order,
                "filters": self.filters,
                "serializer": self.serializer,
                "compressors": self.compressors,
                "nchunks": self.nchunks,
                "nbytes": self.nbytes,
                "read_only": self._store.read_only,
                "store": repr(self._store),
            }
        )

    async def info_complete(self) -> ArrayInfo:
        """:attr:`info` plus ``nchunks_initialized`` (one listing)."""
        info = self.info
        info["nchunks_initialized"] = await self.nchunks_initialized()
        return info


def _has_ellipsis(selection: Any) -> bool:
    if selection is Ellipsis:
        return True
    return isinstance(selection, tuple) and any(s is Ellipsis for s in selection)
