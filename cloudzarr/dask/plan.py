"""Write plans: which dask blocks write which part of an array, one writer per stored object.

A stored object is a shard when the array is sharded, else a chunk; its shape is
``metadata.chunks`` either way (the "write grid"). Two tasks writing parts of one stored object
would each read it, change their part and write it back, and one of the parts would be lost.
A plan is safe when every block boundary inside the written region falls on the write grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from cloudzarr.errors import InvalidArgumentError, UnsafeWriteError

__all__ = ["WritePlan", "aligned_chunks", "check_plan", "normalize_region"]

Chunks = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class WritePlan:
    """Where each block of a source goes: ``chunks`` of the source, placed at ``offset``."""

    chunks: Chunks
    offset: tuple[int, ...]

    def block_selection(self, index: Sequence[int]) -> tuple[slice, ...]:
        """The array selection block ``index`` (block coordinates) writes."""
        out = []
        for dim, i in enumerate(index):
            sizes = self.chunks[dim]
            start = self.offset[dim] + sum(sizes[:i])
            out.append(slice(start, start + sizes[i]))
        return tuple(out)

    @property
    def nblocks(self) -> int:
        n = 1
        for sizes in self.chunks:
            n *= len(sizes)
        return n


def normalize_region(
    region: Sequence[slice] | None, shape: Sequence[int], source_shape: Sequence[int], name: str
) -> tuple[int, ...]:
    """The offset of ``region`` in an array of ``shape``, checked against the source's shape.

    Raises
    ------
    InvalidArgumentError
        If the region has the wrong number of dimensions, a step, or a size unlike the source's.
    """
    if region is None:
        region = tuple(slice(None) for _ in shape)
    region = tuple(region)
    if len(region) != len(shape):
        raise InvalidArgumentError(
            f"region for array {name!r} has {len(region)} dimensions, the array has {len(shape)}"
        )
    offset = []
    for dim, (sl, n, m) in enumerate(zip(region, shape, source_shape, strict=True)):
        if not isinstance(sl, slice):
            raise InvalidArgumentError(
                f"region for array {name!r}: dimension {dim} must be a slice, got {sl!r}"
            )
        start, stop, step = sl.indices(n)
        if step != 1:
            raise InvalidArgumentError(
                f"region for array {name!r}: dimension {dim} has step {step}; only 1 is allowed"
            )
        if stop - start != m:
            raise InvalidArgumentError(
                f"region for array {name!r}: dimension {dim} selects {max(0, stop - start)} "
                f"elements but the source has {m}"
            )
        offset.append(start)
    return tuple(offset)


def _internal_boundaries(sizes: Sequence[int], start: int) -> list[int]:
    out = []
    pos = start
    for size in sizes[:-1]:
        pos += size
        out.append(pos)
    return out


def check_plan(
    chunks: Chunks,
    offset: Sequence[int],
    shape: Sequence[int],
    grid: Sequence[int],
    name: str,
    *,
    safe_edges: bool = True,
) -> None:
    """Refuse a plan in which two blocks (or this write and untouched data) share a stored object.

    Parameters
    ----------
    chunks, offset
        The source's block sizes per dimension, and where its first element lands.
    shape, grid
        The array's shape and the shape of its stored objects (shards, or chunks).
    name
        The array's path, for messages.
    safe_edges
        Also refuse a region whose edges cut a stored object (the write then rewrites an
        object other writers may be writing too, as with xarray's ``safe_chunks``).

    Raises
    ------
    UnsafeWriteError
        Naming the array, the dimension and the boundary.
    """
    for dim, sizes in enumerate(chunks):
        g, start = grid[dim], offset[dim]
        for b in _internal_boundaries(sizes, start):
            if b % g:
                raise UnsafeWriteError(
                    f"array {name!r}: two blocks would write parts of one stored "
                    f"object along dimension {dim} (block boundary at {b} is not a multiple "
                    f"of the write grid {g}); rechunk the source to multiples of {g} "
                    "or let cloudzarr rechunk it (rechunk=True)"
                )
        end = start + sum(sizes)
        if safe_edges and (start % g or (end % g and end != shape[dim])):
            edge = start if start % g else end
            raise UnsafeWriteError(
                f"array {name!r}: the region along dimension {dim} ends at {edge}, inside a "
                f"stored object of {g} elements, which other writers may be writing too; align "
                f"the region to multiples of {g} (or pass safe_chunks=False if no other writer "
                "touches that object)"
            )


def aligned_chunks(chunks: Chunks, offset: Sequence[int], grid: Sequence[int]) -> Chunks:
    """Block sizes close to ``chunks`` whose boundaries fall on the write grid.

    Each dimension gets blocks of a whole number of grid cells (the source's typical block
    size rounded to the nearest multiple, at least one cell), cut at multiples of that size
    in array coordinates, so the first and last blocks may be shorter.
    """
    out = []
    for sizes, start, g in zip(chunks, offset, grid, strict=True):
        total = sum(sizes)
        if total == 0:
            out.append(tuple(sizes))
            continue
        typical = max(sizes)
        step = max(1, round(typical / g)) * g
        end = start + total
        cuts = [start]
        nxt = (start // step + 1) * step
        while nxt < end:
            cuts.append(nxt)
            nxt += step
        cuts.append(end)
        out.append(tuple(b - a for a, b in itertools.pairwise(cuts)))
    return tuple(out)
