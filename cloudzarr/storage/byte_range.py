"""Byte-range requests, with the same names and meanings as zarr-python's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloudzarr.errors import StoreError


@dataclass(frozen=True, slots=True)
class RangeByteRequest:
    """Bytes ``[start, end)``. A range reaching past the end returns what exists."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise StoreError(f"invalid byte range [{self.start}, {self.end})")


@dataclass(frozen=True, slots=True)
class OffsetByteRequest:
    """Every byte from ``offset`` to the end."""

    offset: int

    def __post_init__(self) -> None:
        if self.offset < 0:
            raise StoreError(f"invalid byte offset {self.offset}")


@dataclass(frozen=True, slots=True)
class SuffixByteRequest:
    """The last ``suffix`` bytes; a suffix longer than the value returns all of it."""

    suffix: int

    def __post_init__(self) -> None:
        if self.suffix < 0:
            raise StoreError(f"invalid byte suffix {self.suffix}")


ByteRequest = RangeByteRequest | OffsetByteRequest | SuffixByteRequest


def slice_bytes(data: bytes, byte_range: ByteRequest | None) -> bytes:
    """Apply a byte request to a whole value held in memory."""
    if byte_range is None:
        return data
    match byte_range:
        case RangeByteRequest(start, end):
            return data[start:end]
        case OffsetByteRequest(offset):
            return data[offset:]
        case SuffixByteRequest(suffix):
            return data[-suffix:] if suffix else b""
    raise TypeError(f"unknown byte request {byte_range!r}")


def resolve_range(byte_range: ByteRequest | None, size: int) -> tuple[int, int]:
    """Turn a byte request into absolute ``[start, end)`` for a value of ``size`` bytes."""
    if byte_range is None:
        return 0, size
    match byte_range:
        case RangeByteRequest(start, end):
            return min(start, size), min(end, size)
        case OffsetByteRequest(offset):
            return min(offset, size), size
        case SuffixByteRequest(suffix):
            return max(size - suffix, 0), size
    raise TypeError(f"unknown byte request {byte_range!r}")


def http_range_header(byte_range: ByteRequest | None) -> str | None:
    """The HTTP ``Range`` header value of a byte request.

    Returns None for a whole-object read and ``""`` for an empty request, which has no HTTP
    form (the caller then only needs to know whether the key exists).
    """
    match byte_range:
        case None:
            return None
        case RangeByteRequest(start, end):
            return f"bytes={start}-{end - 1}" if end > start else ""
        case OffsetByteRequest(offset):
            return f"bytes={offset}-"
        case SuffixByteRequest(suffix):
            return f"bytes=-{suffix}" if suffix > 0 else ""
    raise TypeError(f"unknown byte request {byte_range!r}")


@dataclass(frozen=True, slots=True)
class CoalescedRange:
    """One request ``[start, end)`` covering the wanted ranges at ``members`` (input positions)."""

    start: int
    end: int
    members: tuple[int, ...]


def coalesce_ranges(
    ranges: Sequence[tuple[int, int]], *, max_gap: int, max_size: int
) -> list[CoalescedRange]:
    """Group byte ranges ``[start, end)`` of one value into fewer, larger requests.

    Ranges are taken in order of their start. A range joins the current request when the gap
    between them is at most ``max_gap`` bytes (overlaps count as no gap) and the request would
    still span at most ``max_size`` bytes; a range alone larger than ``max_size`` is still one
    request (it is never split). ``max_gap = -1`` keeps even touching ranges apart (one request
    per range unless ranges overlap).

    Parameters
    ----------
    ranges
        Absolute ``(start, end)`` pairs, in any order.
    max_gap
        The most bytes read and thrown away between two merged ranges.
    max_size
        The most bytes one merged request spans.

    Returns
    -------
    list of CoalescedRange
        In order of ``start``; every input position appears in exactly one ``members``.
    """
    if max_gap < -1:
        raise StoreError(f"invalid coalescing gap {max_gap} (must be >= -1)")
    if max_size < 0:
        raise StoreError(f"invalid coalesced request size {max_size} (must be >= 0)")
    for start, end in ranges:
        if start < 0 or end < start:
            raise StoreError(f"invalid byte range [{start}, {end})")
    order = sorted(range(len(ranges)), key=lambda i: ranges[i])
    merged: list[CoalescedRange] = []
    start = end = 0
    members: list[int] = []
    for i in order:
        lo, hi = ranges[i]
        if members and lo - end <= max_gap and max(end, hi) - start <= max_size:
            end = max(end, hi)
            members.append(i)
            continue
        if members:
            merged.append(CoalescedRange(start, end, tuple(members)))
        start, end, members = lo, hi, [i]
    if members:
        merged.append(CoalescedRange(start, end, tuple(members)))
    return merged
