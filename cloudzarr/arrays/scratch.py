"""The memory a read decodes into: outputs, scratch buffers, and one chunk into its region.

When the region is the whole chunk and laid out as the chunk is, the codecs decompress straight
into it. Otherwise the chunk is decoded into a per-thread scratch buffer, reused from chunk to
chunk, and the selected part copied into the region once: freshly allocated megabyte buffers
cost page faults that dominate decoding on small machines (on a 2-core VM, first-touching
memory costs as much CPU as zstd decoding it). String chunks decode to new objects anyway and
take no scratch.

Outputs of 4 MiB or more are allocated without numpy's request for transparent huge pages
(``madvise(MADV_HUGEPAGE)``, which numpy makes from 4 MiB on) unless ``array.huge_pages`` is set.
On the 2-core cloud VM this project is measured on, first-touching 256 MiB that asked for huge
pages cost 0.53-0.55 s after a few idle seconds (the hypervisor backs each 2 MiB page afresh),
against 0.10-0.12 s in 4 KiB pages; that made a 256 MiB read from S3 1.3-1.5x slower
(1.0-1.16 s against 0.76-0.79 s). Where huge pages come cheap they save about 0.05 s per 256 MiB,
which is why the setting exists.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from cloudzarr.codecs.pipeline import CodecPipeline
from cloudzarr.config import config
from cloudzarr.metadata.dtypes import is_string_dtype

__all__ = ["decode_to_region", "empty_output", "in_layout", "scratch_array"]

#: numpy asks for huge pages for allocations from this size on (4 MiB).
_HUGE_PAGE_FROM = 4 * 2**20


@cache
def _madvise() -> Callable[[int, int, int], int] | None:
    if not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.madvise
    except (OSError, AttributeError):
        return None
    func.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    func.restype = ctypes.c_int
    return func


def empty_output(shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """An uninitialised output array, in 4 KiB pages when large (see the module docstring)."""
    out = np.empty(shape, dtype=dtype)
    if out.nbytes >= _HUGE_PAGE_FROM and not config.get("array.huge_pages"):
        madvise = _madvise()
        if madvise is not None:
            # Whole pages inside the array only; nothing has touched them yet. A failure
            # (an old kernel) leaves numpy's choice in place, which is merely slower.
            page = mmap.PAGESIZE
            start = -(-out.ctypes.data // page) * page
            end = (out.ctypes.data + out.nbytes) // page * page
            if end > start:
                madvise(start, end - start, mmap.MADV_NOHUGEPAGE)
    return out


_local = threading.local()

#: Scratch buffers one thread keeps (one per chunk layout); arrays of many layouts read in turn
#: drop them all rather than grow without bound.
_MAX_LAYOUTS = 8


def scratch_array(shape: tuple[int, ...], dtype: np.dtype[Any], order: str = "C") -> np.ndarray:
    """A per-thread buffer of ``shape``, reused across chunks of one layout (contents undefined)."""
    buffers: dict[tuple[Any, ...], np.ndarray] | None = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    key = (shape, dtype.str, order)
    buf = buffers.get(key)
    if buf is None:
        if len(buffers) >= _MAX_LAYOUTS:
            buffers.clear()
        buf = buffers[key] = np.empty(shape, dtype=dtype, order=order)  # type: ignore[call-overload]
    return buf


def decode_to_region(
    pipeline: CodecPipeline,
    data: Any,
    region: np.ndarray,
    chunk_shape: tuple[int, ...],
    chunk_selection: tuple[Any, ...],
    whole: bool,
    order: str = "C",
) -> np.ndarray:
    """Decode ``data`` (one chunk of ``chunk_shape``) and put ``chunk[chunk_selection]`` into
    ``region``; ``whole`` says the selection is the whole chunk.

    Returns the decoded chunk: ``region`` itself when decoded in place, else the scratch buffer
    (valid until this thread decodes the next chunk of the layout), so a caller can copy other
    parts of it (readers sharing one decode) before that. Codec failures propagate as raised.
    """
    dtype = pipeline.dtype
    if is_string_dtype(dtype):
        chunk = pipeline.decode(data, chunk_shape)
        region[...] = chunk[chunk_selection]
        return chunk
    flags = region.flags
    in_layout = flags.f_contiguous if order == "F" else flags.c_contiguous
    if whole and in_layout and region.shape == chunk_shape and region.dtype == dtype:
        pipeline.decode_into(data, region)
        return region
    chunk = scratch_array(chunk_shape, dtype, order)
    pipeline.decode_into(data, chunk)
    region[...] = chunk[chunk_selection]
    return chunk


def in_layout(chunk: np.ndarray, order: str = "C") -> np.ndarray:
    """``chunk`` if it is contiguous in ``order``, else a copy in this thread's scratch buffer
    (valid until the thread's next use of it): what an encoder needs, without allocating a
    fresh chunk for each strided region of a caller's array."""
    flags = chunk.flags
    if (flags.f_contiguous if order == "F" else flags.c_contiguous) or is_string_dtype(chunk.dtype):
        return chunk
    buf = scratch_array(chunk.shape, chunk.dtype, order)
    buf[...] = chunk
    return buf
