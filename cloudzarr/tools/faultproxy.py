"""An HTTP/1.1 proxy on loopback that fails chosen requests the way a network and a cloud do.

It sits between a client and an object-store server (moto, fake-gcs-server, Azurite, radosgw) on
real sockets, reads each request off a keep-alive connection (:mod:`cloudzarr.tools.http1`) and
decides, per request, what happens to it:

============  ===================================================================================
fault         what the client sees                               did the server apply it?
============  ===================================================================================
``reset``     the connection reset (RST) after sending the        no
              request
``truncate``  the response cut in the middle (half the body, or   yes
              half the head when there is no body), then RST
``500``       HTTP 500 with the cloud's error body                no
``throttle``  the cloud's throttling answer: S3 503 SlowDown,     no
              GCS 429 rateLimitExceeded, Azure 503 ServerBusy
``stall``     nothing, ever (the request is read, never           no
              answered; the connection stays open)
``lost``      the connection closed with no response              yes
``slow_body`` the head and half the body, then nothing more (the  yes
              connection stays open): a body that stops arriving
============  ===================================================================================

A :class:`FaultPlan` says which: a ``schedule`` (one entry per request, in arrival order, used
first) and/or ``rates`` (probabilities per fault, drawn from ``random.Random(seed)``), limited to
some ``methods`` if given; plus added ``latency`` on every answer, a heavy tail (``tail_rate`` of
answers ``tail_latency`` late) and ``throttle_above``: a request arriving while more than N are
in flight gets the throttling answer. The plan can be swapped while the proxy runs.

Use :class:`FaultProxy` in a running loop, :func:`run_fault_proxy` from synchronous code (a
thread of its own), or :func:`run_fault_proxy_process` (``python -m cloudzarr.tools.faultproxy``)
for a proxy in another process (benchmarks, so the proxy's CPU is not charged to the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import random
import socket
import struct
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cloudzarr.tools.http1 import Message, ProtocolError, read_body, read_head, response
from cloudzarr.tools.proxy import LoopbackListener, run_on_thread

Flavour = Literal["s3", "gcs", "azure"]


class Fault(enum.StrEnum):
    """What the proxy does to one request (see the module docstring)."""

    RESET = "reset"
    TRUNCATE = "truncate"
    ERROR_500 = "500"
    THROTTLE = "throttle"
    STALL = "stall"
    LOST = "lost"
    SLOW_BODY = "slow_body"


@dataclass(frozen=True)
class FaultPlan:
    """Which requests fail and how; the default plan passes everything through untouched.

    Parameters
    ----------
    rates
        Probability of each fault per request (their sum at most 1).
    schedule
        Faults (None: pass) for the first ``len(schedule)`` eligible requests, before ``rates``.
    methods
        Only requests with these methods are eligible for faults (all when None).
    latency
        Seconds added before every answer.
    tail_rate, tail_latency
        A ``tail_rate`` fraction of answers is ``tail_latency`` seconds later still.
    throttle_above
        More than this many requests in flight: the newcomer gets the throttling answer.
    seed
        Seed of the draws, for a reproducible sequence.
    """

    rates: Mapping[Fault, float] = field(default_factory=dict)
    schedule: Sequence[Fault | None] = ()
    methods: frozenset[str] | None = None
    latency: float = 0.0
    tail_rate: float = 0.0
    tail_latency: float = 0.0
    throttle_above: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if any(p < 0 for p in self.rates.values()) or sum(self.rates.values()) > 1 + 1e-9:
            raise ValueError(f"fault rates must be non-negative and sum to at most 1: {self.rates}")
        if self.latency < 0 or self.tail_latency < 0 or not 0 <= self.tail_rate <= 1:
            raise ValueError("latencies must be non-negative and tail_rate within [0, 1]")
        if self.throttle_above is not None and self.throttle_above < 1:
            raise ValueError("throttle_above must be at least 1")

    @classmethod
    def mixed(cls, rate: float, *, seed: int | None = None, **kwargs: object) -> FaultPlan:
        """``rate`` of requests failed, evenly across reset, truncate, 500, throttle and stall."""
        kinds = (Fault.RESET, Fault.TRUNCATE, Fault.ERROR_500, Fault.THROTTLE, Fault.STALL)
        return cls(rates={k: rate / len(kinds) for k in kinds}, seed=seed, **kwargs)  # type: ignore[arg-type]

    def to_json(self) -> str:
        """The plan as JSON (for a proxy in another process)."""
        return json.dumps(
            {
                "rates": {str(k): v for k, v in self.rates.items()},
                "schedule": [None if f is None else str(f) for f in self.schedule],
                "methods": sorted(self.methods) if self.methods is not None else None,
                "latency": self.latency,
                "tail_rate": self.tail_rate,
                "tail_latency": self.tail_latency,
                "throttle_above": self.throttle_above,
                "seed": self.seed,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        """The plan :meth:`to_json` wrote."""
        doc = json.loads(text)
        methods = doc.get("methods")
        return cls(
            rates={Fault(k): float(v) for k, v in doc.get("rates", {}).items()},
            schedule=[None if f is None else Fault(f) for f in doc.get("schedule", [])],
            methods=frozenset(methods) if methods is not None else None,
            latency=float(doc.get("latency", 0.0)),
            tail_rate=float(doc.get("tail_rate", 0.0)),
            tail_latency=float(doc.get("tail_latency", 0.0)),
            throttle_above=doc.get("throttle_above"),
            seed=doc.get("seed"),
        )


def _error_answer(flavour: Flavour, fault: Fault) -> tuple[int, str, bytes, list[tuple[str, str]]]:
    """Status, reason, body and headers of the cloud's own 500 or throttling answer."""
    xml = [("Content-Type", "application/xml")]
    if flavour == "gcs":
        code, reason, what = (
            (429, "Too Many Requests", "rateLimitExceeded")
            if fault is Fault.THROTTLE
            else (500, "Internal Server Error", "backendError")
        )
        body = {"error": {"code": code, "message": what, "errors": [{"reason": what}]}}
        return code, reason, json.dumps(body).encode(), [("Content-Type", "application/json")]
    if flavour == "azure":
        code, reason, what = (
            (503, "Service Unavailable", "ServerBusy")
            if fault is Fault.THROTTLE
            else (500, "Internal Server Error", "InternalError")
        )
        body_text = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{what}</Code></Error>'
        return code, reason, body_text.encode(), [*xml, ("x-ms-error-code", what)]
    code, reason, what = (
        (503, "Slow Down", "SlowDown")
        if fault is Fault.THROTTLE
        else (500, "Internal Server Error", "InternalError")
    )
    body_text = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{what}</Code>'
        f"<Message>injected by the fault proxy</Message></Error>"
    )
    return code, reason, body_text.encode(), xml


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST rather than a FIN, as a peer that crashed or a middlebox does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy(LoopbackListener):
    """Forward HTTP/1.1 from 127.0.0.1 to ``target``, failing requests as :attr:`plan` says.

    Parameters
    ----------
    target_host, target_port
        The server behind the proxy.
    plan
        The faults; replace :attr:`plan` at any time (the draws restart from its seed).
    flavour
        Whose error bodies to answer with: ``"s3"``, ``"gcs"`` or ``"azure"``.
    listen_port
        The port to listen on; a free one by default.

    Attributes
    ----------
    stats
        Counts: ``requests`` (every request read), each fault's name, ``throttled`` (answers
        given by ``throttle_above``), ``tail`` (answers delayed by the tail).
    peak_in_flight
        The most requests in flight at once.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        plan: FaultPlan | None = None,
        *,
        flavour: Flavour = "s3",
        listen_port: int = 0,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.flavour: Flavour = flavour
        self._listen_port = listen_port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.plan = plan or FaultPlan()

    @property
    def plan(self) -> FaultPlan:
        """The faults in force."""
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan) -> None:
        self._plan = plan
        self._random = random.Random(plan.seed)
        self._scheduled = 0

    def reset_stats(self) -> None:
        """Zero :attr:`stats` and :attr:`peak_in_flight`."""
        self.stats.clear()
        self.peak_in_flight = self.in_flight

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._listen_port)

    async def stop(self) -> None:
        """Stop listening and drop every connection (stalled ones included)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _choose(self, request: Message) -> Fault | None:
        plan = self._plan
        if plan.methods is not None and request.method not in plan.methods:
            return None
        if self._scheduled < len(plan.schedule):
            self._scheduled += 1
            return plan.schedule[self._scheduled - 1]
        draw = self._random.random()
        for fault, rate in plan.rates.items():
            if draw < rate:
                return fault
            draw -= rate
        return None

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        try:
            while await self._exchange(client_r, client_w, upstream):
                pass
        except (OSError, ProtocolError, asyncio.IncompleteReadError):
            client_w.transport.abort()
        except asyncio.CancelledError:
            # stop() cancels every connection; this task is the top of its own stack.
            client_w.transport.abort()
        finally:
            self._tasks.discard(task)
            client_w.close()
            for _, server_w in upstream:
                server_w.close()

    async def _exchange(
        self,
        client_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        upstream: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
    ) -> bool:
        """Serve one request; whether the client connection can carry another."""
        request = await read_head(client_r)
        if request is None:
            return False
        expect = (request.header("Expect") or "").lower() == "100-continue"
        if expect:  # answer for the server, which never sees the Expect header
            client_w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await client_w.drain()
        await read_body(client_r, request)
        self.stats["requests"] += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            plan = self._plan
            if plan.throttle_above is not None and self.in_flight > plan.throttle_above:
                self.stats["throttled"] += 1
                await self._answer_error(client_w, request, Fault.THROTTLE)
                return request.keep_alive
            fault = self._choose(request)
            if fault is not None:
                self.stats[str(fault)] += 1
            if fault is Fault.RESET:
                _reset(client_w)
                return False
            if fault is Fault.STALL:
                await client_r.read()  # until the client gives up and closes
                return False
            if fault in (Fault.ERROR_500, Fault.THROTTLE):
                await self._delay(plan)
                await self._answer_error(client_w, request, fault)
                return request.keep_alive
            answer = await self._forward(request, upstream, drop_expect=expect)
            if fault is Fault.LOST:
                client_w.close()
                return False
            await self._delay(plan)
            if fault is Fault.SLOW_BODY:
                client_w.write(answer.head_bytes() + answer.raw_body[: len(answer.raw_body) // 2])
                await client_w.drain()
                await client_r.read()  # until the client gives up and closes
                return False
            if fault is Fault.TRUNCATE:
                if answer.raw_body:
                    client_w.write(
                        answer.head_bytes() + answer.raw_body[: len(answer.raw_body) // 2]
                    )
                else:
                    head = answer.head_bytes()
                    client_w.write(head[: len(head) // 2])
                await client_w.drain()
                _reset(client_w)
                return False
            client_w.write(answer.raw())
            await client_w.drain()
            return request.keep_alive and answer.keep_alive
        finally:
            self.in_flight -= 1

    async def _delay(self, plan: FaultPlan) -> None:
        delay = plan.latency
        if plan.tail_rate and self._random.random() < plan.tail_rate:
            self.stats["tail"] += 1
            delay += plan.tail_latency
        if delay:
            await asyncio.sleep(delay)

    async def _answer_error(
        self, client_w: asyncio.StreamWriter, request: Message, fault: Fault
    ) -> None:
        status, reason, body, headers = _error_answer(self.flavour, fault)
        client_w.write(response(status, reason, body, headers, head_only=request.method == "HEAD"))
        await client_w.drain()

    async def _forward(
        self,
        request: Message,
        upstream: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
        *,
        drop_expect: bool,
    ) -> Message:
        """Send ``request`` to the server on this client's upstream connection; its answer."""
        data = request.head_bytes(drop=frozenset({"expect"}) if drop_expect else frozenset())
        data += request.raw_body
        for attempt in range(2):
            reused = bool(upstream)
            if not upstream:
                upstream.append(await asyncio.open_connection(self.target_host, self.target_port))
            server_r, server_w = upstream[0]
            try:
                server_w.write(data)
                await server_w.drain()
                answer = await read_head(server_r)
                while answer is not None and 100 <= answer.status < 200:
                    answer = await read_head(server_r)  # an interim answer; the real one follows
            except OSError:
                answer = None
            if answer is None:
                # The server closed an idle keep-alive connection before reading this request:
                # nothing was applied, so one resend on a fresh connection is safe.
                server_w.close()
                upstream.clear()
                if reused and attempt == 0:
                    continue
                raise ProtocolError("the server closed the connection without answering")
            await read_body(server_r, answer, response_to=request.method)
            if not answer.keep_alive:
                server_w.close()
                upstream.clear()
            return answer
        raise AssertionError("unreachable")


@contextlib.contextmanager
def run_fault_proxy(
    target_host: str,
    target_port: int,
    plan: FaultPlan | None = None,
    *,
    flavour: Flavour = "s3",
) -> Iterator[FaultProxy]:
    """Run a :class:`FaultProxy` on a thread of its own for the duration of a ``with`` block.

    Examples
    --------
    >>> with run_fault_proxy("127.0.0.1", port, FaultPlan.mixed(0.1)) as proxy:  # doctest: +SKIP
    ...     options = {"endpoint_url": proxy.url}
    """
    with run_on_thread(FaultProxy(target_host, target_port, plan, flavour=flavour)) as proxy:
        yield proxy


@contextlib.contextmanager
def run_fault_proxy_process(
    target_host: str,
    target_port: int,
    plan: FaultPlan | None = None,
    *,
    flavour: Flavour = "s3",
    stats: Counter[str] | None = None,
) -> Iterator[str]:
    """Run a fault proxy in a process of its own; yield its URL.

    Benchmarks use this so the proxy's CPU is not charged to the client being measured. On
    exit the proxy's :attr:`FaultProxy.stats` are added to ``stats`` when given.
    """
    import subprocess
    import sys

    command = [
        sys.executable, "-m", "cloudzarr.tools.faultproxy",
        "--target", f"{target_host}:{target_port}",
        "--plan", (plan or FaultPlan()).to_json(),
        "--flavour", flavour,
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line.startswith("port "):
            raise RuntimeError(f"the fault proxy did not start (said {line!r})")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.stdin.close()  # the proxy's signal to stop and report
        report = proc.stdout.read()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if stats is not None and report.strip():
            stats.update(json.loads(report))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m cloudzarr.tools.faultproxy --target HOST:PORT [--plan JSON]``.

    Prints ``port N`` once listening, then runs until stdin closes (its parent is done or gone)
    and prints its stats as one JSON line.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m cloudzarr.tools.faultproxy")
    parser.add_argument("--target", required=True, help="HOST:PORT of the server")
    parser.add_argument("--plan", default="{}", help="a FaultPlan as JSON (FaultPlan.to_json)")
    parser.add_argument("--flavour", default="s3", choices=["s3", "gcs", "azure"])
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")

    async def serve() -> None:
        proxy = FaultProxy(host, int(port), FaultPlan.from_json(args.plan), flavour=args.flavour)
        await proxy.start()
        print(f"port {proxy.port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        await proxy.stop()
        print(json.dumps(dict(proxy.stats)), flush=True)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
