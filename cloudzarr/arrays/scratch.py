"""Decoding one chunk into its region of an output, with as few copies and fresh pages as can be.

When the region is the whole chunk and laid out as the chunk is, the codecs decompress straight
into it. Otherwise the chunk is decoded into a per-thread scratch buffer, reused from chunk to
chunk, and the selected part copied into the region once: freshly allocated megabyte buffers
cost page faults that dominate decoding on small machines (on a 2-core VM, first-touching
memory costs as much CPU as zstd decoding it). String chunks decode to new objects anyway and
take no scratch.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from cloudzarr.codecs.pipeline import CodecPipeline
from cloudzarr.metadata.dtypes import is_string_dtype

__all__ = ["decode_to_region", "scratch_array"]

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
