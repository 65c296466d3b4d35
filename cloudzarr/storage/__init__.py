"""Async key-value stores: memory, local disk, fsspec, S3, GCS, Azure, and measuring wrappers."""

from cloudzarr.storage.azure import AzureStore
from cloudzarr.storage.base import RequestCounter, Store, Version
from cloudzarr.storage.byte_range import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from cloudzarr.storage.cache import CacheStats, CacheStore, MemoryCache
from cloudzarr.storage.disk_cache import DiskCache
from cloudzarr.storage.faults import FaultStore
from cloudzarr.storage.fsspec import FsspecStore
from cloudzarr.storage.gcs import GCSStore
from cloudzarr.storage.histogram import LatencyHistogram
from cloudzarr.storage.instrumented import InstrumentedStore, OperationStats, StoreStats
from cloudzarr.storage.latency import LatencyStore
from cloudzarr.storage.limiter import Limiter
from cloudzarr.storage.local import LocalStore
from cloudzarr.storage.memory import MemoryStore
from cloudzarr.storage.retry import RetryStore
from cloudzarr.storage.s3 import S3Store
from cloudzarr.storage.url import open_store
from cloudzarr.storage.wrapper import StoreWrapper

__all__ = [
    "AzureStore",
    "ByteRequest",
    "CacheStats",
    "CacheStore",
    "DiskCache",
    "FaultStore",
    "FsspecStore",
    "GCSStore",
    "InstrumentedStore",
    "LatencyHistogram",
    "LatencyStore",
    "Limiter",
    "LocalStore",
    "MemoryCache",
    "MemoryStore",
    "OffsetByteRequest",
    "OperationStats",
    "RangeByteRequest",
    "RequestCounter",
    "RetryStore",
    "S3Store",
    "Store",
    "StoreStats",
    "StoreWrapper",
    "SuffixByteRequest",
    "Version",
    "open_store",
]
