"""Running awaitables together so that a failure leaves nothing running behind it.

``asyncio.gather`` raises the first error but lets the other awaitables run on: requests the
caller no longer waits for, which may still write, hold the limiter, or fail noisily when the
store's session is closed under them. :func:`gather` cancels them and waits for them to end
before raising, so when it returns or raises, every request it started is over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["for_each", "gather"]


async def gather[T](*awaitables: Awaitable[T]) -> list[T]:
    """Await all of ``awaitables`` concurrently and return their results in order.

    Parameters
    ----------
    *awaitables
        Coroutines or futures.

    Returns
    -------
    list
        Their results, in the order given.

    Raises
    ------
    Exception
        The first error raised by any of them (its own type, not an exception group), once the
        others are cancelled and have ended.
    """
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def for_each[T](items: Iterable[T], func: Callable[[T], Awaitable[None]], limit: int) -> None:
    """Await ``func(item)`` for every item, ``limit`` at a time, pulling items lazily.

    A selection over a million chunks thus holds ``limit`` coroutines, not a million; the
    first failure cancels the other workers (as :func:`gather`) and is raised.
    """
    iterator = iter(items)

    async def worker() -> None:
        for item in iterator:
            await func(item)

    if limit <= 1:  # one worker needs no task of its own (a one-chunk read, most often)
        await worker()
        return
    await gather(*(worker() for _ in range(limit)))
