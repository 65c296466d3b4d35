"""Where chunk encoding and decoding run: inline for small chunks, in a thread pool for large ones.

numcodecs' zstd, blosc and zlib release the GIL, and numpy releases it for large copies, so a
pool of one thread per core overlaps the codec work of many chunks with each other and with the
event loop's I/O. Handing a job to the pool costs tens of microseconds, more than decoding a
small chunk, so chunks below :data:`INLINE_BYTES` are coded inline on the event loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from cloudzarr.config import config

__all__ = ["INLINE_BYTES", "codec_threads", "run_cpu"]

#: Chunks smaller than this (decoded bytes) are encoded/decoded inline. Measured on the 2-core
#: development machine (loaded): a pool round trip cost 300 us, zstd decoded 16 KiB in 215 us
#: and 64 KiB in 430 us, encoding took about twice as long: from 64 KiB on, the pool pays.
INLINE_BYTES = 64 * 1024

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def codec_threads() -> int:
    """How many threads the codec pool has (``codec.threads``, else one per core)."""
    threads: int | None = config.get("codec.threads")
    return threads if threads is not None else max(os.cpu_count() or 1, 1)


def pool() -> ThreadPoolExecutor:
    """The process-wide codec thread pool (created on first use)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=codec_threads(), thread_name_prefix="cloudzarr-codec"
            )
        return _pool


def _after_fork() -> None:
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


async def run_cpu[T](nbytes: int, func: Callable[..., T], *args: object) -> T:
    """Run ``func(*args)`` in the codec pool if it handles ``nbytes`` or more, else inline."""
    if nbytes < INLINE_BYTES:
        return func(*args)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool(), func, *args)
