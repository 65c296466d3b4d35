"""One background event loop that runs the async core for the sync API.

The sync classes (``Group``, ``Array``...) call :func:`sync` with a coroutine of their async
counterpart. The coroutine always runs on cloudzarr's own loop thread, never on the caller's, so
the sync API works the same in a plain script and inside Jupyter, where the caller's thread
already runs a loop. Running every sync call on one loop also means one limiter per store really
bounds every request the process sends through that store.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """Return cloudzarr's background event loop, starting its thread on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="cloudzarr-io", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
        return _loop


def _after_fork() -> None:
    # A forked child (dask's multiprocessing, say) inherits the loop object but not its thread.
    global _loop, _thread
    _loop = None
    _thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def sync[T](coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run ``coro`` on the background loop and return its result.

    Parameters
    ----------
    coro
        The coroutine to run.
    timeout
        Seconds to wait before giving up (the coroutine is then cancelled).

    Raises
    ------
    RuntimeError
        If called from the background loop itself, where waiting would deadlock; use the
        async API there.
    """
    loop = get_loop()
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError(
            "cloudzarr's sync API was called from its own event loop; await the async API instead"
        )
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result(timeout)
    except BaseException:
        # KeyboardInterrupt or a timeout: do not leave the coroutine running unobserved.
        future.cancel()
        raise
