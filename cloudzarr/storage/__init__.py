"""Async key-value stores: memory, local disk, fsspec, S3, GCS, Azure, and measuring wrappers.

The cloud stores are imported on first use (``cloudzarr.storage.S3Store`` or ``open_store``), so
importing cloudzarr loads no cloud client library.
"""

from typing import TYPE_CHECKING, Any

from cloudzarr.storage.base import RequestCounter, Store, Version
from cloudzarr.storage.byte_range import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from cloudzarr.storage.faults import FaultStore
from cloudzarr.storage.fsspec import FsspecStore
from cloudzarr.storage.histogram import LatencyHistogram
from cloudzarr.storage.instrumented import InstrumentedStore, OperationStats, StoreStats
from cloudzarr.storage.latency import LatencyStore
from cloudzarr.storage.limiter import Limiter
from cloudzarr.storage.local import LocalStore
from cloudzarr.storage.memory import MemoryStore
from cloudzarr.storage.retry import RetryStore
from cloudzarr.storage.url import open_store
from cloudzarr.storage.wrapper import StoreWrapper

if TYPE_CHECKING:
    from cloudzarr.storage.azure import AzureStore
    from cloudzarr.storage.gcs import GCSStore
    from cloudzarr.storage.s3 import S3Store

_LAZY = {
    "S3Store": "cloudzarr.storage.s3",
    "GCSStore": "cloudzarr.storage.gcs",
    "AzureStore": "cloudzarr.storage.azure",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AzureStore",
    "ByteRequest",
    "FaultStore",
    "FsspecStore",
    "GCSStore",
    "InstrumentedStore",
    "LatencyHistogram",
    "LatencyStore",
    "Limiter",
    "LocalStore",
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
