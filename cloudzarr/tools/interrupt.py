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
    task = _wait(started)
    try:
        return _wait(done)
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(task.cancel)
        # The task's own finally blocks (the clean-up) run now; wait for them.
        with _interrupts_deferred(), contextlib.suppress(BaseException):
            _wait(done)
        raise


def _wait[R](future: concurrent.futures.Future[R]) -> R:
    # A signal may be delivered to any thread of the process; a main thread blocked in one
    # long lock wait would then never run the Python handler. Waking a few times a second lets
    # Ctrl-C and SIGTERM take effect promptly.
    while True:
        try:
            return future.result(timeout=0.1)
        except concurrent.futures.TimeoutError:
            continue


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
    """Within the block, Ctrl-C and SIGTERM raise KeyboardInterrupt (main thread only).

    SIGINT's handler is installed explicitly: a process started in the background by a
    non-interactive shell inherits SIGINT as ignored, and the bench must still clean up when
    sent one.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
