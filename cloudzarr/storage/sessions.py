"""aiohttp sessions shared per configuration and event loop, closed quietly.

An aiohttp session is bound to the event loop that made it, while a store may be used from the
sync API's background loop and from a user's loop in turn. :func:`loop_session` keeps one session
per (configuration, running loop), shared by every store object with that configuration. A loop
that closed takes its sessions with it without "Unclosed client session" noise, and sessions of
loops still running at interpreter exit are closed by an ``atexit`` hook.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import weakref
from collections.abc import Callable

import aiohttp

_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aiohttp.ClientSession]]
_SESSIONS = weakref.WeakKeyDictionary()


def loop_session(key: str, factory: Callable[[], aiohttp.ClientSession]) -> aiohttp.ClientSession:
    """The running loop's session for configuration ``key``, made by ``factory`` if needed."""
    loop = asyncio.get_running_loop()
    sessions = _SESSIONS.get(loop)
    if sessions is None:
        _forget_closed_loops()
        sessions = _SESSIONS[loop] = {}
    session = sessions.get(key)
    if session is None or session.closed:
        session = sessions[key] = factory()
    return session


async def close_loop_session(key: str) -> None:
    """Close the running loop's session for ``key`` (the next use makes a new one)."""
    session = _SESSIONS.get(asyncio.get_running_loop(), {}).pop(key, None)
    if session is not None:
        await session.close()


def _forget_closed_loops() -> None:
    """Drop the sessions of loops that are closed, without "Unclosed client session" noise."""
    for loop in [loop for loop in list(_SESSIONS.keys()) if loop.is_closed()]:
        for session in _SESSIONS.pop(loop, {}).values():
            connector = session.connector
            if connector is not None:
                with contextlib.suppress(Exception):
                    connector._close()
            session._connector = None


def _close_sessions_at_exit() -> None:
    """Close sessions on loops still running at exit (the sync API's background loop).

    atexit runs while daemon threads still run, so their loops can close their sessions.
    """
    for loop, sessions in list(_SESSIONS.items()):
        for session in list(sessions.values()):
            if loop.is_running():
                future = asyncio.run_coroutine_threadsafe(session.close(), loop)
                with contextlib.suppress(Exception):
                    future.result(timeout=2)
    _forget_closed_loops()
    _SESSIONS.clear()


atexit.register(_close_sessions_at_exit)
