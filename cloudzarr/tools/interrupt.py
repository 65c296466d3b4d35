"""Run a coroutine from the command line so that Ctrl-C and SIGTERM cancel it *cleanly*.

``cloudzarr.sync.sync`` cancels its future on Ctrl-C and returns at once, while the coroutine's
clean-up may still be running on the background loop. The CLI must not exit (or start deleting)
before that clean-up is done, so :func:`run_interruptibly` cancels the task and then waits for
it to finish, ignoring further interrupts meanwhile, and only then re-raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Coroutine, Iterator
from types import FrameType
from typing import Any

from cloudzarr.sync import get_loop


def run_interruptibly[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on cloudzarr's loop; on KeyboardInterrupt cancel it, await it, re-raise."""
    loop = get_loop()
    done: concurrent.futures.Future[T] = concurrent.futures.Future()
    started: concurrent.futures.Future[asyncio.Task[None]] = concurrent.futures.Future()

    async def runner() -> None:
        try:
            done.set_result(await coro)
        except BaseException as exc:
            done.set_exception(exc)

    loop.call_soon_threadsafe(lambda: started.set_result(loop.create_task(runner())))
    task = started.result()
    try:
        return done.result()
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(task.cancel)
        # The task's own finally blocks (the clean-up) run now; wait for them.
        with _interrupts_deferred(), contextlib.suppress(BaseException):
            done.result()
        raise


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
