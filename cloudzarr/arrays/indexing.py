"""Basic numpy indexing over a regular chunk grid.

A selection (integers, slices with any non-zero step, Ellipsis, 0-d integer arrays) is normalized
per dimension, then projected onto the chunk grid: for every chunk it touches, the indexer yields
the chunk's grid coordinates, the selection inside the chunk and the matching selection inside the
output. ``out[out_selection] = chunk[chunk_selection]`` reads; the reverse assignment writes.

The per-dimension projections are computed with numpy (one vector operation per dimension, however
many chunks it spans) and combined lazily, so a selection over many chunks costs little more than
iterating the product.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from cloudzarr.errors import IndexingError

__all__ = [
    "BasicIndexer",
    "ChunkProjection",
    "DimSelection",
    "normalize_selection",
]


@dataclass(frozen=True, slots=True)
class DimSelection:
    """The elements one dimension's index selects, as an ascending arithmetic progression.

    Attributes
    ----------
    start
        The lowest selected position.
    step
        The distance between selected positions (always positive).
    count
        How many positions are selected.
    reverse
        The output holds the positions in descending order (a negative slice step).
    drop
        The index was an integer: the dimension does not appear in the output.
    """

    start: int
    step: int
    count: int
    reverse: bool = False
    drop: bool = False


def _as_int(obj: Any) -> int | None:
    if isinstance(obj, bool | np.bool_):
        return None
    if isinstance(obj, np.ndarray) and (obj.ndim != 0 or obj.dtype.kind not in "iu"):
        return None
    try:
        return operator.index(obj)
    except TypeError:
        return None


def _normalize_one(index: Any, length: int, axis: int) -> DimSelection:
    if isinstance(index, slice):  # first: the common case, and _as_int would raise inside
        try:
            start, stop, step = index.indices(length)
        except (TypeError, ValueError) as exc:
            raise IndexingError(f"invalid slice {index!r} for axis {axis}: {exc}") from None
        count = len(range(start, stop, step))
        if step > 0:
            return DimSelection(start, step, count)
        if count == 0:
            return DimSelection(0, -step, 0, reverse=True)
        return DimSelection(start + (count - 1) * step, -step, count, reverse=True)
    as_int = _as_int(index)
    if as_int is not None:
        pos = as_int + length if as_int < 0 else as_int
        if not 0 <= pos < length:
            raise IndexingError(
                f"index {as_int} is out of bounds for axis {axis} with size {length}"
            )
        return DimSelection(pos, 1, 1, drop=True)
    raise IndexingError(
        f"unsupported index {index!r} of type {type(index).__name__} for axis {axis}; "
        "only integers, slices and Ellipsis are supported"
    )


def normalize_selection(selection: Any, shape: tuple[int, ...]) -> tuple[DimSelection, ...]:
    """Turn a numpy basic-indexing selection into one :class:`DimSelection` per dimension.

    Raises
    ------
    IndexingError
        If an integer is out of bounds, there are too many indices, or an index is of a kind
        basic indexing does not support.
    """
    items = selection if isinstance(selection, tuple) else (selection,)
    n_ellipsis = sum(1 for it in items if it is Ellipsis)
    if n_ellipsis > 1:
        raise IndexingError("an index can only have a single Ellipsis ('...')")
    explicit = len(items) - n_ellipsis
    if explicit > len(shape):
        raise IndexingError(
            f"too many indices for an array of {len(shape)} dimension(s): {len(items)} given"
        )
    full: list[Any] = []
    for it in items:
        if it is Ellipsis:
            full.extend([slice(None)] * (len(shape) - explicit))
        else:
            full.append(it)
    full.extend([slice(None)] * (len(shape) - len(full)))
    pairs = enumerate(zip(full, shape, strict=True))
    return tuple(_normalize_one(ix, n, axis) for axis, (ix, n) in pairs)


class ChunkProjection(NamedTuple):
    """One chunk touched by a selection.

    Attributes
    ----------
    chunk_coords
        The chunk's coordinates in the chunk grid.
    chunk_selection
        The selection inside the chunk (ints for dropped dimensions, slices otherwise).
    out_selection
        The selection inside the output (one slice per dimension kept).
    is_complete
        The selection covers every in-bounds element of the chunk, in order: a write need not
        read the chunk first.
    """

    chunk_coords: tuple[int, ...]
    chunk_selection: tuple[int | slice, ...]
    out_selection: tuple[slice, ...]
    is_complete: bool


# Per dimension: (chunk index, chunk selection, output selection or None if dropped, complete).
_DimPart = tuple[int, int | slice, slice | None, bool]


#: A dimension spanning at most this many chunks is projected with plain integers: numpy's
#: per-call cost exceeds the arithmetic for the few chunks a typical slice touches.
_SCALAR_CHUNKS = 32


def _dim_part(
    dim: DimSelection, c: int, a: int, b: int, lo: int, length: int, chunk_len: int
) -> _DimPart:
    """The part of chunk ``c`` (starting at element ``lo``) holding selected elements a..b-1."""
    first_in = dim.start + a * dim.step - lo
    last_in = dim.start + (b - 1) * dim.step - lo
    extent = min(chunk_len, length - lo)
    complete = first_in == 0 and last_in == extent - 1 and (dim.step == 1 or extent == 1)
    chunk_sel: int | slice = first_in if dim.drop else slice(first_in, last_in + 1, dim.step)
    out_sel: slice | None
    n = dim.count
    if dim.drop:
        out_sel = None
    elif dim.reverse:
        stop = n - 1 - b
        out_sel = slice(n - 1 - a, stop if stop >= 0 else None, -1)
    else:
        out_sel = slice(a, b)
    return (c, chunk_sel, out_sel, complete)


def _project_dim(dim: DimSelection, length: int, chunk_len: int) -> list[_DimPart]:
    if dim.count == 0:
        return []
    last = dim.start + (dim.count - 1) * dim.step
    first_chunk, last_chunk = dim.start // chunk_len, last // chunk_len
    if last_chunk - first_chunk < _SCALAR_CHUNKS:
        parts: list[_DimPart] = []
        for c in range(first_chunk, last_chunk + 1):
            lo = c * chunk_len
            # a/b: the first selected element inside / past this chunk (ceil division).
            a = min(max(-((dim.start - lo) // dim.step), 0), dim.count)
            b = min(max(-((dim.start - lo - chunk_len) // dim.step), 0), dim.count)
            if b > a:
                parts.append(_dim_part(dim, c, a, b, lo, length, chunk_len))
        return parts
    chunks = np.arange(first_chunk, last_chunk + 1, dtype=np.int64)
    starts = chunks * chunk_len
    k0 = np.clip(-((dim.start - starts) // dim.step), 0, dim.count)
    k1 = np.clip(-((dim.start - starts - chunk_len) // dim.step), 0, dim.count)
    hit = k1 > k0
    rows = zip(
        chunks[hit].tolist(), k0[hit].tolist(), k1[hit].tolist(), starts[hit].tolist(), strict=True
    )
    return [_dim_part(dim, c, a, b, x, length, chunk_len) for c, a, b, x in rows]


class BasicIndexer:
    """Projects a basic selection onto a regular chunk grid.

    Parameters
    ----------
    selection
        A numpy basic-indexing selection.
    shape
        The array's shape.
    chunk_shape
        The chunk grid's chunk shape (the shard shape for a sharded array).

    Attributes
    ----------
    shape
        The shape of the selection's result (dropped dimensions removed).
    dims
        One :class:`DimSelection` per array dimension.
    """

    def __init__(
        self, selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]
    ) -> None:
        if len(chunk_shape) != len(shape):
            raise IndexingError(f"chunk shape {chunk_shape} does not match array shape {shape}")
        self.array_shape = tuple(shape)
        self.chunk_shape = tuple(chunk_shape)
        self.dims = normalize_selection(selection, self.array_shape)
        self.shape = tuple(d.count for d in self.dims if not d.drop)
        self._parts = [
            _project_dim(d, n, c)
            for d, n, c in zip(self.dims, self.array_shape, self.chunk_shape, strict=True)
        ]

    @property
    def nchunks(self) -> int:
        """How many chunks the selection touches."""
        return math.prod(len(p) for p in self._parts)

    @property
    def is_whole_array(self) -> bool:
        """The selection covers the whole array in order (``a[...]`` and the like)."""
        return all(
            not d.drop and not d.reverse and d.step == 1 and d.start == 0 and d.count == n
            for d, n in zip(self.dims, self.array_shape, strict=True)
        )

    def __iter__(self) -> Iterator[ChunkProjection]:
        for combo in itertools.product(*self._parts):
            coords = tuple(p[0] for p in combo)
            chunk_sel = tuple(p[1] for p in combo)
            out_sel = tuple(p[2] for p in combo if p[2] is not None)
            complete = all(p[3] for p in combo)
            yield ChunkProjection(coords, chunk_sel, out_sel, complete)
