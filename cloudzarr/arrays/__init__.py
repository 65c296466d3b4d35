"""Arrays: numpy indexing over chunked storage, sharding, and metadata building."""

from cloudzarr.arrays.array import Array
from cloudzarr.arrays.async_array import AsyncArray
from cloudzarr.arrays.create import build_array_metadata

__all__ = ["Array", "AsyncArray", "build_array_metadata"]
