"""The sync face: ``cloudzarr.sync.sync`` from scripts, from inside running loops, and not from
its own loop."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest

from cloudzarr.errors import KeyNotFoundError
from cloudzarr.storage import MemoryStore
from cloudzarr.sync import get_loop, sync


async def _where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


class _Custom(Exception):
    pass


async def _fail(exc: BaseException) -> None:
    await asyncio.sleep(0)
    raise exc


def test_from_a_plain_thread() -> None:
    assert sync(_where()) == "cloudzarr-io"


def test_one_background_loop() -> None:
    assert get_loop() is get_loop()
    assert sync(_loop_of_coroutine()) is get_loop()


async def _loop_of_coroutine() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_from_inside_asyncio_run() -> None:
    # What a notebook cell does: the calling thread already runs an event loop.
    async def cell() -> tuple[str, str]:
        return sync(_where()), threading.current_thread().name

    ran_on, caller = asyncio.run(cell())
    assert ran_on == "cloudzarr-io"
    assert caller == threading.current_thread().name


async def test_from_inside_a_running_test_loop() -> None:
    assert sync(_where()) == "cloudzarr-io"


def test_from_a_thread_whose_loop_runs_forever() -> None:
    # Jupyter's kernel: a loop running forever in its thread; sync() is called from a callback.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kernel-loop", daemon=True)
    thread.start()
    try:

        async def cell() -> tuple[str, bytes | None]:
            store = MemoryStore()
            sync(store.set("k", b"v"))
            return threading.current_thread().name, sync(store.get("k"))

        caller, value = asyncio.run_coroutine_threadsafe(cell(), loop).result(timeout=30)
        assert caller == "kernel-loop"
        assert value == b"v"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def test_from_many_threads_at_once() -> None:
    store = MemoryStore()
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            sync(store.set(f"k/{i}", str(i).encode()))
            assert sync(store.get(f"k/{i}")) == str(i).encode()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(sync(_keys(store))) == sorted(f"k/{i}" for i in range(16))


async def _keys(store: MemoryStore) -> list[str]:
    return [k async for k in store.list()]


def test_from_the_background_loop_raises() -> None:
    async def nested() -> None:
        sync(_where())  # would wait on the very loop it blocks

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="own event loop"):
            sync(nested())
        gc.collect()
    # The refused coroutine was closed, not left to warn "never awaited".
    assert not [w for w in caught if "never awaited" in str(w.message)]
    # ...and the loop still serves the next call.
    assert sync(_where()) == "cloudzarr-io"


@pytest.mark.parametrize(
    "exc",
    [_Custom("mine"), KeyNotFoundError("no value at 'x'"), ValueError("v"), KeyError("k")],
    ids=lambda e: type(e).__name__,
)
def test_exceptions_propagate_with_their_type(exc: BaseException) -> None:
    with pytest.raises(type(exc)) as info:
        sync(_fail(exc))
    assert info.value is exc


def test_store_errors_propagate() -> None:
    with pytest.raises(KeyNotFoundError, match="missing"):
        sync(MemoryStore().getsize("missing"))


def test_timeout_cancels_the_coroutine() -> None:
    cancelled = threading.Event()
    never = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        never.set()

    with pytest.raises(TimeoutError):
        sync(forever(), timeout=0.05)
    assert cancelled.wait(timeout=30)
    assert not never.is_set()


async def test_store_shared_between_the_test_loop_and_the_background_loop() -> None:
    # One store, two loops: the limiter keeps one semaphore per loop, both of its size.
    store = MemoryStore(concurrency=2)
    await store.set("k", b"v")
    assert sync(store.get("k")) == b"v"
    sync(store.set("j", b"w"))
    assert await store.get("j") == b"w"
    assert store.limiter.in_flight == 0
