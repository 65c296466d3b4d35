"""cloudzarr."""

from cloudzarr.storage import LocalStore, MemoryStore, open_store

__all__ = [
    "LocalStore",
    "MemoryStore",
    "open_store",
]
