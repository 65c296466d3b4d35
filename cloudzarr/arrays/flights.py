"""Single-flight chunk reads: concurrent readers of one stored chunk share one fetch and decode.

A thousand concurrent one-chunk slices over a few hundred distinct chunks (a tile server, a
dask graph whose tasks overlap) would otherwise send a thousand requests and decode every chunk
as many times as it is asked for. The first reader of a key becomes its *leader*: it fetches,
and every reader that joined while it waited (a *waiter*: where its part of the chunk goes) is
served by the leader's one decode job, which decodes once and copies into each waiter's output.
That is one request, one decode and one hop to the codec pool per chunk, however many readers.
Readers that arrive after the leader's job started get the fetched bytes and decode themselves:
still one request per chunk.

Flights are kept per store object and per event loop; a write through cloudzarr ends the
flights of its key (:func:`forget`), so a read that starts after a write returned never joins a
fetch that began before it.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cloudzarr.storage.base import Store
from cloudzarr.storage.byte_range import ByteRequest

__all__ = ["Flight", "Outcome", "Waiter", "forget", "join_or_lead", "leave", "shared_get"]


@dataclass(slots=True)
class Outcome:
    """What a leader hands its followers.

    ``retry`` is set when the leader was cancelled before it had anything: followers then read
    on their own. ``error`` is the leader's failure, raised in each follower too.
    """

    data: Any = None
    error: BaseException | None = None
    retry: bool = False


@dataclass(slots=True, eq=False)
class Waiter:
    """A follower's part of the chunk: the leader places it there when ``placed`` is set."""

    proj: Any
    out: np.ndarray
    placed: bool = False


@dataclass(slots=True)
class Flight:
    """One in-flight read of a key: its future and the followers waiting on it."""

    future: asyncio.Future[Outcome]
    loop: asyncio.AbstractEventLoop
    waiters: list[Waiter] = field(default_factory=list)
    done: bool = field(default=False)

    def take_waiters(self) -> list[Waiter]:
        """The waiters so far, handed to the leader's decode job (later ones decode alone)."""
        taken, self.waiters = self.waiters, []
        return taken

    def finish(self, outcome: Outcome) -> None:
        """Hand ``outcome`` to the followers (once)."""
        if not self.done:
            self.done = True
            self.future.set_result(outcome)


#: Flights per store object, by id: hashing a store may cost as much as its configuration
#: (a memory store's is its whole mapping), too much for every chunk read.
_tables: dict[int, dict[str, Flight]] = {}


def _table(store: Store) -> dict[str, Flight]:
    table = _tables.get(id(store))
    if table is None:
        table = _tables[id(store)] = {}
        weakref.finalize(store, _tables.pop, id(store), None)
    return table


def join_or_lead(store: Store, key: str, waiter: Waiter) -> tuple[Flight, bool]:
    """The flight of ``key`` and whether the caller leads it (True) or follows (False).

    A follower's ``waiter`` is registered at once, so the leader's decode job can serve it.
    """
    table = _table(store)
    loop = asyncio.get_running_loop()
    flight = table.get(key)
    if flight is not None and flight.loop is loop and not flight.done:
        flight.waiters.append(waiter)
        return flight, False
    flight = Flight(loop.create_future(), loop)
    table[key] = flight
    return flight, True


def leave(flight: Flight, waiter: Waiter) -> None:
    """Withdraw a cancelled follower's ``waiter`` if the leader has not taken it yet."""
    if waiter in flight.waiters:
        flight.waiters.remove(waiter)


def land(store: Store, key: str, flight: Flight) -> None:
    """Remove ``flight`` from the table (if still current) once its leader is done."""
    table = _table(store)
    if table.get(key) is flight:
        del table[key]


def forget(store: Store, key: str) -> None:
    """End the sharing of ``key``'s flights: later readers fetch anew (after a write).

    Every store object's flight of ``key`` ends, not only ``store``'s: a wrapper and the store
    it wraps (or two handles on one bucket) are different objects over the same data. Another
    bucket's key of the same name only loses its sharing for one read.
    """
    del store
    for table in _tables.values():
        table.pop(key, None)
    for ranges in _range_tables.values():
        ranges.pop(key, None)


# --- shared byte-range reads (partial shard reads) ---------------------------------------------

#: In-flight range reads per store object: key -> byte range -> (loop, future of the bytes).
_range_tables: dict[int, dict[str, dict[ByteRequest | None, tuple[Any, asyncio.Future[Any]]]]] = {}


class _Retry(Exception):
    """The reader that fetched for the others was cancelled: each fetches for itself."""


async def shared_get(store: Store, key: str, byte_range: ByteRequest | None) -> Any:
    """``store.get_buffer(key, byte_range)``, one request for concurrent identical reads.

    A thousand readers of one shard read its index (and the inner chunks they share) once, not
    a thousand times. Only reads in flight together share: nothing is kept after the request
    returns, and a write through cloudzarr ends the sharing (:func:`forget`).
    """
    table = _range_tables.get(id(store))
    if table is None:
        table = _range_tables[id(store)] = {}
        weakref.finalize(store, _range_tables.pop, id(store), None)
    loop = asyncio.get_running_loop()
    per_key = table.setdefault(key, {})
    entry = per_key.get(byte_range)
    if entry is not None and entry[0] is loop:
        try:
            return await asyncio.shield(entry[1])
        except _Retry:
            return await store.get_buffer(key, byte_range)
    future: asyncio.Future[Any] = loop.create_future()
    per_key[byte_range] = (loop, future)
    try:
        data = await store.get_buffer(key, byte_range)
    except asyncio.CancelledError:
        future.set_exception(_Retry())
        raise
    except Exception as exc:
        future.set_exception(exc)
        raise
    else:
        future.set_result(data)
        return data
    finally:
        if future.done():
            future.exception()  # marks a failure seen: with no follower, nobody else looks
        current = table.get(key)
        if current is not None and current.get(byte_range, (None, None))[1] is future:
            del current[byte_range]
            if not current:
                del table[key]
