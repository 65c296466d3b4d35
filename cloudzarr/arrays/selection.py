"""Orthogonal, coordinate (vectorized), mask and block selections over a regular chunk grid.

zarr-python's semantics: ``a.oindex[sel]`` indexes each dimension independently (integer
arrays and lists, Boolean masks of the dimension's length, slices with any non-zero step,
integers); ``a.vindex[sel]`` takes points (a tuple of broadcastable integer arrays, or one
Boolean mask of the array's shape); ``a.blocks[sel]`` selects whole chunks by chunk index.
``a[sel]`` dispatches like zarr-python: pure fancy selections go to ``vindex``, selections with
at most one array (or arrays in every dimension) to ``oindex``, the rest to basic indexing.

An indexer yields one :class:`FancyPart` per chunk the selection touches, so a read fetches
exactly those chunks: the part names a basic *box* inside the chunk (what the chunk I/O reads,
so a sharded array fetches only the inner chunks under the box), the *pick* of the selected
elements inside the box, where they go in the output, and the same elements as a fancy index
into the whole chunk (what a write assigns).

Errors name the offending part of the selection in one short line: never a whole mask or
index array.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from cloudzarr.arrays.indexing import DimSelection, _normalize_one, _project_dim
from cloudzarr.errors import IndexingError

__all__ = [
    "CoordinateIndexer",
    "FancyPart",
    "OrthogonalIndexer",
    "block_selection_to_basic",
    "is_pure_fancy",
    "is_pure_orthogonal",
]


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool | np.bool_)


def _is_int_list(x: Any) -> bool:
    return isinstance(x, list) and len(x) > 0 and all(_is_int(i) for i in x)


def _is_bool_list(x: Any) -> bool:
    return isinstance(x, list) and len(x) > 0 and all(isinstance(i, bool | np.bool_) for i in x)


def _is_int_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.ndim > 0 and x.dtype.kind in "iu"


def _is_bool_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype == bool


def _is_array_like(x: Any) -> bool:
    return _is_int_list(x) or _is_bool_list(x) or _is_int_array(x) or _is_bool_array(x)


def is_pure_fancy(selection: Any, ndim: int) -> bool:
    """zarr-python's rule for ``a[sel]`` going to ``vindex``: a Boolean array, an integer
    list/array on a 1-d array, or one integer-or-array per dimension with an array among them."""
    if _is_bool_array(selection):
        return True
    if ndim == 1 and (_is_int_list(selection) or _is_int_array(selection)):
        return True
    if ndim == 1 and _is_bool_list(selection):
        return True
    if not isinstance(selection, tuple) or len(selection) != ndim:
        return False
    if any(isinstance(s, slice) or s is Ellipsis for s in selection):
        return False
    return all(_is_int(s) or _is_int_list(s) or _is_int_array(s) for s in selection) and any(
        _is_int_list(s) or _is_int_array(s) for s in selection
    )


def is_pure_orthogonal(selection: Any, ndim: int) -> bool:
    """zarr-python's rule for ``a[sel]`` going to ``oindex``: arrays in every dimension, or at
    most one array with integers and slices."""
    if not ndim:
        return False
    items = selection if isinstance(selection, tuple) else (selection,)
    if len(items) == ndim and all(_is_array_like(s) for s in items):
        return True
    return (
        len(items) <= ndim
        and sum(_is_array_like(s) for s in items) <= 1
        and all(_is_array_like(s) or _is_int(s) or isinstance(s, slice) for s in items)
    )


def _describe(index: Any) -> str:
    """A short description of an index, never its full contents."""
    if isinstance(index, np.ndarray) or (isinstance(index, list) and len(index) > 8):
        arr = np.asarray(index)
        return f"{type(index).__name__} of shape {arr.shape} and dtype {arr.dtype}"
    text = repr(index)
    return text if len(text) <= 60 else text[:57] + "..."


def _int_positions(index: Any, length: int, axis: int) -> np.ndarray:
    """An integer or Boolean array (or list) for one dimension as non-negative positions."""
    arr = np.asarray(index)
    if isinstance(index, list) and not index:
        arr = arr.astype(np.int64)  # [] selects nothing, as in numpy
    if arr.dtype == bool:
        if arr.shape != (length,):
            raise IndexingError(
                f"Boolean index of shape {arr.shape} does not match axis {axis} of length {length}"
            )
        return np.flatnonzero(arr)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise IndexingError(
            f"unsupported index for axis {axis}: {_describe(index)} (expected a 1-d integer or "
            "Boolean array, an integer or a slice)"
        )
    return _wrap_bounds(arr.astype(np.int64, copy=False), length, axis)


def _wrap_bounds(arr: np.ndarray, length: int, axis: int) -> np.ndarray:
    if arr.size and (arr.min() < -length or arr.max() >= length):
        bad = arr[(arr < -length) | (arr >= length)][0]
        raise IndexingError(f"index {int(bad)} is out of bounds for axis {axis} with size {length}")
    return np.where(arr < 0, arr + length, arr)


class FancyPart(NamedTuple):
    """One chunk touched by an orthogonal or coordinate selection.

    Attributes
    ----------
    chunk_coords
        The chunk's coordinates in the chunk grid.
    box
        A basic selection inside the chunk (ints and step-1 or strided slices) covering every
        selected element; ints drop their dimension.
    box_shape
        The shape of ``chunk[box]``.
    pick
        Index into ``chunk[box]`` giving the selected elements, shaped as ``out`` expects.
    out
        Index into the (orthogonal) output, or into the flattened output (coordinates).
    chunk_index
        The selected elements as an index into the whole chunk, for writes, in the same
        order and shape as ``chunk[box][pick]``.
    is_complete
        The selection covers every element of the chunk's in-bounds extent exactly once.
    """

    chunk_coords: tuple[int, ...]
    box: tuple[int | slice, ...]
    box_shape: tuple[int, ...]
    pick: tuple[Any, ...]
    out: tuple[Any, ...]
    chunk_index: tuple[Any, ...]
    is_complete: bool


# --- orthogonal ---------------------------------------------------------------------------------

# One dimension's share of one chunk: chunk index, box entry, pick inside the box (None for a
# dropped dimension), output index (None if dropped), positions in the chunk, complete.
_Dim = tuple[int, int | slice, Any, Any, Any, bool]


def _array_dim(positions: np.ndarray, length: int, chunk_len: int) -> list[_Dim]:
    if positions.size == 0:
        return []
    order = np.argsort(positions, kind="stable")
    ordered = positions[order]
    chunk_ids = ordered // chunk_len
    bounds = np.flatnonzero(np.diff(chunk_ids)) + 1
    parts: list[_Dim] = []
    for lo_i, hi_i in zip(
        np.concatenate(([0], bounds)).tolist(),
        np.concatenate((bounds, [ordered.size])).tolist(),
        strict=True,
    ):
        c = int(chunk_ids[lo_i])
        local = ordered[lo_i:hi_i] - c * chunk_len
        first, last = int(local[0]), int(local[-1])
        extent = min(chunk_len, length - c * chunk_len)
        complete = local.size == extent and first == 0 and bool(np.all(np.diff(local) == 1))
        out = order[lo_i:hi_i]
        parts.append((c, slice(first, last + 1), local - first, out, local, complete))
    return parts


def _slice_dim(dim: DimSelection, length: int, chunk_len: int) -> list[_Dim]:
    parts: list[_Dim] = []
    for c, chunk_sel, out_sel, complete in _project_dim(dim, length, chunk_len):
        if dim.drop:
            assert isinstance(chunk_sel, int)
            parts.append((c, chunk_sel, None, None, np.array([chunk_sel]), complete))
        else:
            assert isinstance(chunk_sel, slice)
            local = np.arange(chunk_sel.start, chunk_sel.stop, chunk_sel.step)
            parts.append((c, chunk_sel, slice(None), out_sel, local, complete))
    return parts


def _expand(selection: Any, ndim: int) -> list[Any]:
    items = list(selection) if isinstance(selection, tuple) else [selection]
    if sum(1 for it in items if it is Ellipsis) > 1:
        raise IndexingError("an index can only have a single Ellipsis ('...')")
    explicit = len(items) - sum(1 for it in items if it is Ellipsis)
    if explicit > ndim:
        raise IndexingError(f"too many indices for an array of {ndim} dimension(s): {explicit}")
    full: list[Any] = []
    for it in items:
        if it is Ellipsis:
            full.extend([slice(None)] * (ndim - explicit))
        else:
            full.append(it)
    return full + [slice(None)] * (ndim - len(full))


def _as_range(index: Any, size: int) -> Any:
    return np.arange(size)[index] if isinstance(index, slice) else index


class OrthogonalIndexer:
    """Projects an orthogonal selection onto a regular chunk grid.

    Attributes
    ----------
    shape
        The shape of the result (integer dimensions dropped).
    nchunks
        How many chunks the selection touches.
    """

    def __init__(
        self, selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]
    ) -> None:
        self.array_shape = tuple(shape)
        self.chunk_shape = tuple(chunk_shape)
        out_shape: list[int] = []
        self._parts: list[list[_Dim]] = []
        self._kept: list[bool] = []
        self._arrays = 0
        for axis, (index, n, c) in enumerate(
            zip(_expand(selection, len(shape)), shape, chunk_shape, strict=True)
        ):
            if _is_array_like(index) or isinstance(index, list) or np.ndim(index) > 0:
                positions = _int_positions(index, n, axis)
                self._parts.append(_array_dim(positions, n, c))
                out_shape.append(int(positions.size))
                self._kept.append(True)
                self._arrays += 1
                continue
            dim = _normalize_one(index, n, axis)
            self._parts.append(_slice_dim(dim, n, c))
            self._kept.append(not dim.drop)
            if not dim.drop:
                out_shape.append(dim.count)
        self.shape = tuple(out_shape)

    @property
    def nchunks(self) -> int:
        """How many chunks the selection touches."""
        return math.prod(len(p) for p in self._parts)

    def __iter__(self) -> Iterator[FancyPart]:
        for combo in itertools.product(*self._parts):
            coords = tuple(p[0] for p in combo)
            box = tuple(p[1] for p in combo)
            kept = [p for p, k in zip(combo, self._kept, strict=True) if k]
            box_shape = tuple(
                len(range(*p[1].indices(self.chunk_shape[i])))
                for i, p in enumerate(combo)
                if isinstance(p[1], slice)
            )
            picks = [p[2] for p in kept]
            outs = [p[3] for p in kept]
            if self._arrays > 1:
                # numpy broadcasts several index arrays together; np.ix_ keeps them orthogonal.
                pick: tuple[Any, ...] = np.ix_(
                    *(_as_range(pk, s) for pk, s in zip(picks, box_shape, strict=True))
                )
                out: tuple[Any, ...] = np.ix_(
                    *(
                        np.arange(self.shape[i])[o] if isinstance(o, slice) else o
                        for i, o in enumerate(outs)
                    )
                )
            else:
                pick, out = tuple(picks), tuple(outs)
            # Writes: every dimension as an array (dropped ones too), kept ones reshaped.
            chunk_index = np.ix_(*(p[4] for p in combo))
            yield FancyPart(
                coords, box, box_shape, pick, out, chunk_index, all(p[5] for p in combo)
            )


# --- coordinates and masks ---------------------------------------------------------------------


class CoordinateIndexer:
    """Projects a coordinate selection (points) or a mask selection onto a chunk grid.

    The output is computed flat (one element per point) and reshaped to :attr:`shape`.
    """

    def __init__(
        self,
        selection: Any,
        shape: tuple[int, ...],
        chunk_shape: tuple[int, ...],
        *,
        mask: bool = False,
    ) -> None:
        self.array_shape = tuple(shape)
        self.chunk_shape = tuple(chunk_shape)
        ndim = len(shape)
        if mask:
            sel = (
                selection[0] if isinstance(selection, tuple) and len(selection) == 1 else selection
            )
            arr = np.asarray(sel) if isinstance(sel, list | np.ndarray) else None
            if arr is None or arr.dtype != bool:
                raise IndexingError(
                    f"mask selection must be a Boolean array, got {_describe(selection)}"
                )
            if arr.shape != self.array_shape:
                raise IndexingError(
                    f"Boolean mask of shape {arr.shape} does not match array shape "
                    f"{self.array_shape}"
                )
            coords = np.nonzero(arr)
            self.shape: tuple[int, ...] = (int(coords[0].size),) if ndim else ()
            self._coords = np.stack([c.astype(np.int64) for c in coords]) if ndim else None
        else:
            items = selection if isinstance(selection, tuple) else (selection,)
            if len(items) != ndim:
                raise IndexingError(
                    f"coordinate selection needs one index per dimension ({ndim}), got {len(items)}"
                )
            arrays = []
            for axis, it in enumerate(items):
                if isinstance(it, slice) or it is Ellipsis:
                    raise IndexingError(
                        f"coordinate selection takes integer arrays, not {_describe(it)} on "
                        f"axis {axis} (use oindex for slices)"
                    )
                arr = np.asarray(it)
                if arr.dtype.kind not in "iu":
                    raise IndexingError(
                        f"coordinate selection for axis {axis} must be integers, got "
                        f"{_describe(it)}"
                    )
                arrays.append(arr.astype(np.int64, copy=False))
            try:
                broadcast = np.broadcast_arrays(*arrays)
            except ValueError:
                shapes = ", ".join(str(a.shape) for a in arrays)
                raise IndexingError(
                    f"coordinate arrays of shapes {shapes} cannot be broadcast together"
                ) from None
            self.shape = broadcast[0].shape
            self._coords = np.stack(
                [
                    _wrap_bounds(b.reshape(-1), n, axis)
                    for axis, (b, n) in enumerate(zip(broadcast, shape, strict=True))
                ]
            )
        self._groups = self._group()

    def _group(self) -> list[tuple[tuple[int, ...], np.ndarray, np.ndarray]]:
        coords = self._coords
        if coords is None or coords.shape[1] == 0:
            return []
        chunks = np.asarray(self.chunk_shape, dtype=np.int64)[:, None]
        grid = tuple(-(-n // c) for n, c in zip(self.array_shape, self.chunk_shape, strict=True))
        flat = np.ravel_multi_index(tuple(coords // chunks), grid)
        order = np.argsort(flat, kind="stable")
        sorted_flat = flat[order]
        bounds = np.flatnonzero(np.diff(sorted_flat)) + 1
        groups = []
        for ids in np.split(order, bounds):
            chunk = tuple(int(v) for v in coords[:, ids[0]] // chunks[:, 0])
            local = coords[:, ids] - (np.asarray(chunk) * chunks[:, 0])[:, None]
            groups.append((chunk, ids, local))
        return groups

    @property
    def nchunks(self) -> int:
        """How many chunks the selection touches."""
        return len(self._groups)

    def __iter__(self) -> Iterator[FancyPart]:
        for chunk, ids, local in self._groups:
            lo = local.min(axis=1)
            hi = local.max(axis=1)
            box = tuple(slice(int(a), int(b) + 1) for a, b in zip(lo, hi, strict=True))
            box_shape = tuple(int(b - a + 1) for a, b in zip(lo, hi, strict=True))
            pick = tuple(local - lo[:, None])
            yield FancyPart(chunk, box, box_shape, pick, (ids,), tuple(local), False)


# --- blocks -----------------------------------------------------------------------------------


def block_selection_to_basic(
    selection: Any, shape: tuple[int, ...], chunk_shape: tuple[int, ...]
) -> tuple[slice, ...]:
    """The basic selection of the array elements a block selection covers.

    Integers select one block (the dimension is kept, as in zarr-python); slices select a
    run of blocks with step 1.

    Raises
    ------
    IndexingError
        A block index is out of range, a slice has a step other than 1, or the selection is
        not integers and slices.
    """
    out: list[slice] = []
    for axis, (index, n, c) in enumerate(
        zip(_expand(selection, len(shape)), shape, chunk_shape, strict=True)
    ):
        nblocks = -(-n // c)
        if _is_int(index) or (isinstance(index, np.ndarray) and index.ndim == 0):
            b = int(index)
            if not -nblocks <= b < nblocks:
                raise IndexingError(
                    f"block index {b} is out of bounds for axis {axis} with {nblocks} blocks"
                )
            b = b + nblocks if b < 0 else b
            out.append(slice(b * c, min((b + 1) * c, n)))
        elif isinstance(index, slice):
            start, stop, step = index.indices(nblocks)
            if step != 1:
                raise IndexingError(
                    f"block selection for axis {axis}: only slices with step 1, got {index!r}"
                )
            stop = max(stop, start)
            out.append(slice(start * c, min(stop * c, n)))
        else:
            raise IndexingError(
                f"block selection for axis {axis} takes integers and slices, got {_describe(index)}"
            )
    return tuple(out)
