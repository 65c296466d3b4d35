"""A scripted HTTP proxy on loopback, in front of a real emulator, for the request-layer tests.

It runs its own event loop in a thread (the stores' clients, obstore's Rust runtime included,
reach it over TCP like any server) and forwards every request to the upstream unless a rule
matches it. A rule says what to do instead, a given number of times:

- ``("status", code, body)``: answer with that status, never forwarding;
- ``"reset"``: close the connection before forwarding (the request never reached the server);
- ``"lost"``: forward, then close the connection (the server applied it; the answer is lost);
- ``"stall"``: hold the request until the client gives up;
- ``"truncate"``: forward, then send the answer's headers and half its body, then close.

Every request seen is recorded as ``(method, path_qs, headers)``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

Predicate = Callable[[web.Request], bool]
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Rule:
    """Do ``action`` to the next ``times`` requests matching ``when``."""

    when: Predicate
    action: Any
    times: int = 1


@dataclass
class WireProxy:
    """The running proxy: its URL, its rules, and what it saw."""

    upstream: str
    url: str = ""
    rules: list[Rule] = field(default_factory=list)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, when: Predicate, action: Any, times: int = 1) -> None:
        """Apply ``action`` to the next ``times`` requests matching ``when``."""
        with self.lock:
            self.rules.append(Rule(when, action, times))

    def clear(self) -> None:
        """Forget the rules and the requests seen."""
        with self.lock:
            self.rules.clear()
            self.seen.clear()

    def _take(self, request: web.Request) -> Any:
        with self.lock:
            self.seen.append((request.method, request.path_qs, dict(request.headers)))
            for rule in self.rules:
                if rule.times > 0 and rule.when(request):
                    rule.times -= 1
                    return rule.action
        return None


def is_put(request: web.Request) -> bool:
    """A write of an object (S3/Azure PUT, GCS upload)."""
    return request.method == "PUT" or "/upload/" in request.path


def is_get(request: web.Request) -> bool:
    """A read of an object's bytes."""
    if request.method != "GET":
        return False
    query = request.query
    if "/storage/v1/" in request.path:
        return query.get("alt") == "media"
    return "comp" not in query and "list-type" not in query and "restype" not in query


async def _handle(proxy: WireProxy, session: aiohttp.ClientSession, request: web.Request) -> Any:
    action = proxy._take(request)
    body = await request.read()
    if isinstance(action, tuple) and action[0] == "status":
        _, code, payload = action
        return web.Response(status=code, body=payload, content_type="application/xml")
    if action == "reset":
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)
    if action == "stall":
        await proxy.stopping.wait()
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    # No header of aiohttp's own: Azure signs Content-Type and friends.
    async with session.request(
        request.method,
        proxy.upstream + request.path_qs,
        headers=headers,
        data=body,
        skip_auto_headers=("Content-Type", "User-Agent", "Accept", "Accept-Encoding"),
    ) as upstream:
        content = await upstream.read()
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
        status = upstream.status
        length = upstream.headers.get("Content-Length")
    if request.method == "HEAD":
        response = web.Response(status=status, headers=out_headers)
        if length is not None:
            response.headers["Content-Length"] = length
        return response
    if action == "lost":
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)
    if action == "truncate" and len(content) > 1:
        response = web.StreamResponse(status=status, headers=out_headers)
        response.content_length = len(content)
        await response.prepare(request)
        await response.write(content[: len(content) // 2])
        assert request.transport is not None
        request.transport.close()
        return response
    return web.Response(status=status, body=content, headers=out_headers)


@contextmanager
def run_wire_proxy(upstream: str) -> Iterator[WireProxy]:
    """Run a :class:`WireProxy` in front of ``upstream`` (``http://host:port``) on loopback."""
    proxy = WireProxy(upstream.rstrip("/"))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1 << 30)

        async def handle(request: web.Request) -> Any:
            return await _handle(proxy, session, request)

        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        proxy.url = f"http://127.0.0.1:{port}"
        state.update(runner=runner, session=session)
        ready.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="wire-proxy", daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield proxy
    finally:

        async def stop() -> None:
            proxy.stopping.set()
            await state["runner"].cleanup()
            await state["session"].close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
