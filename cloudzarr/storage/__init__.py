"""Async key-value stores: memory, local disk, fsspec, S3, GCS, Azure, and measuring wrappers."""

from cloudzarr.storage.base import RequestCounter, Store
from cloudzarr.storage.byte_range import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from cloudzarr.storage.limiter import Limiter
from cloudzarr.storage.local import LocalStore
from cloudzarr.storage.memory import MemoryStore
from cloudzarr.storage.url import open_store

__all__ = [
    "ByteRequest",
    "Limiter",
    "LocalStore",
    "MemoryStore",
    "OffsetByteRequest",
    "RangeByteRequest",
    "RequestCounter",
    "Store",
    "SuffixByteRequest",
    "open_store",
]
