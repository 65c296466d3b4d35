"""A TCP proxy on loopback that delays every byte by a fixed time in each direction.

This kernel has no ``netem``, so network latency is modelled in user space: the proxy accepts
connections on 127.0.0.1 and forwards them to a target, holding each chunk it reads for ``delay``
seconds before writing it on. Chunks are pipelined, not serialised: a chunk read at ``t`` is
written at ``t + delay`` whatever else is in transit, as on a real link with that one-way delay.
A request/response exchange over the proxy therefore takes ``2 * delay`` plus the server's own
time, which is what ``cloudzarr bench`` must report.

Use :func:`run_latency_proxy` from synchronous code (it runs the proxy on a thread of its own)
or :class:`LatencyProxy` inside a running event loop. :func:`run_on_thread` serves any proxy of
this kind so (the fault proxy of :mod:`cloudzarr.tools.faultproxy` too).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol

_CHUNK = 256 * 1024


class LoopbackListener:
    """What every proxy here shares: a server on 127.0.0.1, its port and URL."""

    _server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the proxy."""
        return f"http://127.0.0.1:{self.port}"


class LatencyProxy(LoopbackListener):
    """Forward TCP connections from 127.0.0.1 to ``target``, delaying each direction.

    Parameters
    ----------
    target_host, target_port
        Where to forward connections (a loopback server).
    delay
        Seconds added to every chunk in each direction (0.025 gives a 50 ms round trip).
    listen_port
        The port to listen on; a free one by default (read :attr:`port` after :meth:`start`).
    """

    def __init__(
        self, target_host: str, target_port: int, *, delay: float = 0.025, listen_port: int = 0
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must be non-negative, got {delay}")
        self.target_host = target_host
        self.target_port = target_port
        self.delay = delay
        self._listen_port = listen_port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connections accepted since start.
        self.connections = 0

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._listen_port)

    async def stop(self) -> None:
        """Stop listening and close every forwarded connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> LatencyProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        server_w: asyncio.StreamWriter | None = None
        try:
            try:
                server_r, server_w = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                client_w.close()
                return
            await asyncio.gather(
                self._pipe(client_r, server_w),
                self._pipe(server_r, client_w),
                return_exceptions=True,
            )
        finally:
            self._tasks.discard(task)
            client_w.close()
            if server_w is not None:
                server_w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(_CHUNK)
                queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    break
            await sender
        except (OSError, asyncio.IncompleteReadError):
            sender.cancel()
        finally:
            if not sender.done():
                sender.cancel()
            with contextlib.suppress(BaseException):
                await sender


class _Served(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@contextlib.contextmanager
def run_on_thread[P: _Served](proxy: P) -> Iterator[P]:
    """Run ``proxy`` (anything with async ``start``/``stop``) on a thread and event loop of its
    own for the duration of a ``with`` block, so it answers while the caller blocks."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(proxy.start())
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(proxy.stop())
        loop.close()

    thread = threading.Thread(target=serve, name=f"cloudzarr-{type(proxy).__name__}", daemon=True)
    thread.start()
    started.wait()
    if failure:
        thread.join()
        raise failure[0]
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@contextlib.contextmanager
def run_latency_proxy(
    target_host: str, target_port: int, *, delay: float = 0.025
) -> Iterator[LatencyProxy]:
    """Run a :class:`LatencyProxy` on a thread of its own for the duration of a ``with`` block.

    Examples
    --------
    >>> with run_latency_proxy("127.0.0.1", server_port, delay=0.025) as proxy:  # doctest: +SKIP
    ...     fetch(proxy.url)  # every exchange now takes 50 ms more
    """
    with run_on_thread(LatencyProxy(target_host, target_port, delay=delay)) as proxy:
        yield proxy
