"""The request layer: client CPU per request against obstore, adaptive concurrency, hedged reads.

Three measurements against one S3 server (moto in a subprocess by default, ``--endpoint`` for
another such as radosgw), all in one run:

1. **Client CPU per request** at concurrency 16 for GET 100 B, GET 256 KiB and PUT 640 KB:
   the process CPU time (every thread of this process; the server is another process) divided
   by the requests, through cloudzarr's ``S3Store`` and through obstore called directly
   (``obstore.get_async`` / ``put_async``) on the same server, the two in alternating blocks.
   Target: cloudzarr within 1.5x of obstore.
2. **Adaptive concurrency**: a fault proxy (its own process) answers 503 SlowDown to any
   request arriving while more than N are in flight; a store allowed 64 at once reads many small
   objects. Reported: where ``store.limiter.limit`` ended, how many requests were bounced.
3. **Hedged reads**: a proxy adds a heavy tail (1 % of answers 500 ms late); the same reads with
   ``hedge=False`` and ``hedge=True``: p50, p99 and p99.9 per read and the extra requests.

Usage::

    python -m benchmarks.bench_requests --requests 600
    python -m benchmarks.bench_requests --endpoint http://127.0.0.1:8000 --key K --secret S
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

CONCURRENCY = 16
TARGET_RATIO = 1.5
CASES = (
    ("GET 100 B", "get", 100),
    ("GET 256 KiB", "get", 256 * 1024),
    ("PUT 640 KB", "put", 640_000),
)
QUICK = {"requests": 48, "throttle_reads": 60, "tail_reads": 150, "rounds": 1}


@dataclass
class Target:
    """An S3 endpoint and a bucket on it."""

    endpoint: str
    bucket: str
    key: str
    secret: str = field(repr=False)
    region: str = "us-east-1"

    def options(self, endpoint: str | None = None) -> dict[str, Any]:
        return {"endpoint_url": endpoint or self.endpoint, "key": self.key, "secret": self.secret}


@contextlib.contextmanager
def _target(endpoint: str | None, key: str, secret: str, region: str) -> Iterator[Target]:
    bucket = f"bench-requests-{uuid.uuid4().hex[:10]}"
    if endpoint is None:
        from moto_fixtures.servers import run_moto_server

        with run_moto_server() as server:
            server.create_bucket(bucket)
            yield Target(server.endpoint_url, bucket, server.key, server.secret, server.region)
        return
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name=region,
    )
    client.create_bucket(Bucket=bucket)
    yield Target(endpoint, bucket, key, secret, region)


def _cloudzarr_store(target: Target, endpoint: str | None = None, **kwargs: Any) -> Any:
    from cloudzarr.storage.s3 import S3Store

    return S3Store(target.bucket, "bench", storage_options=target.options(endpoint), **kwargs)


def _obstore(target: Target) -> Any:
    from obstore.store import S3Store as ObS3Store

    return ObS3Store(
        target.bucket,
        endpoint=target.endpoint,
        access_key_id=target.key,
        secret_access_key=target.secret,
        region=target.region,
        client_options={"allow_http": True},
        virtual_hosted_style_request=False,
    )


Call = Callable[[int], Awaitable[Any]]


async def _drive(call: Call, requests: int) -> tuple[float, float]:
    """CPU seconds and wall seconds for ``requests`` calls, ``CONCURRENCY`` at a time."""
    counter = iter(range(requests))

    async def worker() -> None:
        for i in counter:
            await call(i)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.process_time() - cpu, time.perf_counter() - wall


async def _cpu_rows(target: Target, requests: int, rounds: int) -> list[dict[str, Any]]:
    import obstore

    store = _cloudzarr_store(target)
    ob = _obstore(target)
    rows = []
    try:
        for label, op, size in CASES:
            payload = os.urandom(size)
            if op == "get":
                await store.set(f"get-{size}", payload)

                async def ours(i: int, key: str = f"get-{size}") -> Any:
                    return await store.get(key)

                async def theirs(i: int, key: str = f"bench/get-{size}") -> Any:
                    return await (await obstore.get_async(ob, key)).bytes_async()
            else:

                async def ours(i: int, data: bytes = payload) -> Any:
                    return await store.set(f"put/{i % CONCURRENCY}", data)

                async def theirs(i: int, data: bytes = payload) -> Any:
                    return await obstore.put_async(ob, f"bench/put/{i % CONCURRENCY}", data)

            await _drive(ours, CONCURRENCY)  # warm: connections open, clients built
            await _drive(theirs, CONCURRENCY)
            cpu: dict[str, list[float]] = {"cloudzarr": [], "obstore": []}
            wall: dict[str, float] = {"cloudzarr": 0.0, "obstore": 0.0}
            for r in range(rounds):
                order = [("cloudzarr", ours), ("obstore", theirs)]
                for name, call in order if r % 2 == 0 else order[::-1]:
                    c, w = await _drive(call, requests)
                    cpu[name].append(c / requests)
                    wall[name] += w
            ours_ms = statistics.median(cpu["cloudzarr"]) * 1e3
            theirs_ms = statistics.median(cpu["obstore"]) * 1e3
            rows.append(
                {
                    "measure": "cpu",
                    "case": label,
                    "requests": requests * rounds,
                    "cloudzarr_cpu_ms": ours_ms,
                    "obstore_cpu_ms": theirs_ms,
                    "ratio": ours_ms / theirs_ms,
                    "within_target": ours_ms / theirs_ms <= TARGET_RATIO,
                    "cloudzarr_req_per_s": requests * rounds / wall["cloudzarr"],
                    "obstore_req_per_s": requests * rounds / wall["obstore"],
                }
            )
    finally:
        await store.close()
    return rows


def _proxied(
    target: Target, plan: Any, stats: Counter[str]
) -> contextlib.AbstractContextManager[str]:
    from cloudzarr.tools.faultproxy import run_fault_proxy_process
    from moto_fixtures.servers import host_port

    host, port = host_port(target.endpoint)
    return run_fault_proxy_process(host, port, plan, flavour="s3", stats=stats)


async def _fill(target: Target, count: int, prefix: str) -> list[str]:
    store = _cloudzarr_store(target)
    try:
        keys = [f"{prefix}/{i}" for i in range(count)]
        await store.set_many({k: k.encode() * 8 for k in keys})
        return keys
    finally:
        await store.close()


async def _reads(store: Any, keys: Sequence[str], concurrency: int) -> list[float]:
    """Seconds per read, checking each answer."""
    gate = asyncio.Semaphore(concurrency)

    async def one(key: str) -> float:
        async with gate:
            began = time.perf_counter()
            value = await store.get(key)
            elapsed = time.perf_counter() - began
        if value != key.encode() * 8:
            raise AssertionError(f"wrong answer for {key}")
        return elapsed

    return list(await asyncio.gather(*(one(k) for k in keys)))


async def _adaptive_row(target: Target, reads: int, threshold: int = 8) -> dict[str, Any]:
    from cloudzarr.tools.faultproxy import FaultPlan

    keys = await _fill(target, reads, "throttle")
    stats: Counter[str] = Counter()
    plan = FaultPlan(latency=0.01, throttle_above=threshold)
    with _proxied(target, plan, stats) as url:
        store = _cloudzarr_store(target, url, concurrency=64)
        try:
            began = time.perf_counter()
            await _reads(store, keys, concurrency=128)
            wall = time.perf_counter() - began
            limit, decreases = store.limiter.limit, getattr(store.limiter, "decreases", None)
        finally:
            await store.close()
    return {
        "measure": "adaptive",
        "threshold": threshold,
        "size": 64,
        "reads": reads,
        "limit_end": limit,
        "decreases": decreases,
        "throttled": stats["throttled"],
        "bounced_pct": 100 * stats["throttled"] / max(1, stats["requests"] - stats["throttled"]),
        "wall_s": wall,
    }


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _hedging_rows(target: Target, reads: int) -> list[dict[str, Any]]:
    from cloudzarr.tools.faultproxy import FaultPlan

    keys = await _fill(target, reads, "tail")
    rows = []
    for hedge in (False, True):
        stats: Counter[str] = Counter()
        plan = FaultPlan(latency=0.002, tail_rate=0.01, tail_latency=0.5, seed=99)
        with _proxied(target, plan, stats) as url:
            store = _cloudzarr_store(target, url, hedge=hedge)
            try:
                times = await _reads(store, keys, concurrency=8)
                hedging = getattr(store, "hedging", None)
            finally:
                await store.close()
        slow = sum(t >= plan.tail_latency for t in times)
        rows.append(
            {
                "measure": "hedging",
                "hedge": hedge,
                "reads": reads,
                "p50_ms": _quantile(times, 0.5) * 1e3,
                "p99_ms": _quantile(times, 0.99) * 1e3,
                "p999_ms": _quantile(times, 0.999) * 1e3,
                "late_answers": stats["tail"],
                "hedges": getattr(hedging, "hedges", 0),
                "hedge_wins": getattr(hedging, "hedge_wins", 0),
                "reads_over_tail": slow,
                "extra_requests_pct": 100 * (stats["requests"] - reads) / reads,
            }
        )
    return rows


def run(
    requests: int = 600,
    *,
    throttle_reads: int = 600,
    tail_reads: int = 2000,
    rounds: int = 3,
    endpoint: str | None = None,
    key: str = "testing",
    secret: str = "testing",
    region: str = "us-east-1",
) -> list[dict[str, Any]]:
    """Every measurement against one server; rows for :func:`to_markdown`."""
    if requests < CONCURRENCY or rounds < 1 or throttle_reads < 1 or tail_reads < 1:
        raise ValueError(f"requests must be at least {CONCURRENCY}, the rest at least 1")

    async def body(target: Target) -> list[dict[str, Any]]:
        rows = await _cpu_rows(target, requests, rounds)
        rows.append(await _adaptive_row(target, throttle_reads))
        rows += await _hedging_rows(target, tail_reads)
        return rows

    with _target(endpoint, key, secret, region) as target:
        return asyncio.run(body(target))


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Three tables: CPU per request, adaptive concurrency, hedging."""
    lines = [
        f"Client CPU per request at concurrency {CONCURRENCY} (process CPU time / requests; the "
        "server is another process):",
        "",
        "| case | requests | cloudzarr CPU ms | obstore CPU ms | ratio | within 1.5x "
        "| cloudzarr req/s | obstore req/s |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in (r for r in rows if r["measure"] == "cpu"):
        lines.append(
            f"| {r['case']} | {r['requests']} | {r['cloudzarr_cpu_ms']:.3f} "
            f"| {r['obstore_cpu_ms']:.3f} | {r['ratio']:.2f}x "
            f"| {'yes' if r['within_target'] else 'no'} "
            f"| {r['cloudzarr_req_per_s']:.0f} | {r['obstore_req_per_s']:.0f} |"
        )
    lines += [
        "",
        "Adaptive concurrency (proxy: 503 SlowDown above N in flight, 10 ms latency):",
        "",
        "| N | store size | reads | limit at end | decreases | throttled | bounced % | wall s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (r for r in rows if r["measure"] == "adaptive"):
        lines.append(
            f"| {r['threshold']} | {r['size']} | {r['reads']} | {r['limit_end']} "
            f"| {r['decreases']} | {r['throttled']} | {r['bounced_pct']:.1f} | {r['wall_s']:.2f} |"
        )
    lines += [
        "",
        "Hedged reads (proxy: 2 ms latency, 1 % of answers 500 ms late; 8 reads at a time):",
        "",
        "| hedge | reads | p50 ms | p99 ms | p99.9 ms | late answers | hedges | hedge wins "
        "| reads >= 500 ms | extra requests |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (r for r in rows if r["measure"] == "hedging"):
        lines.append(
            f"| {'on' if r['hedge'] else 'off'} | {r['reads']} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['p999_ms']:.1f} | {r['late_answers']} | {r['hedges']} "
            f"| {r['hedge_wins']} | {r['reads_over_tail']} | {r['extra_requests_pct']:.1f} % |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="per case, client and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--throttle-reads", type=int, default=600)
    parser.add_argument("--tail-reads", type=int, default=2000)
    parser.add_argument("--endpoint", default=None, help="an S3 endpoint (default: moto)")
    parser.add_argument("--key", default=os.environ.get("AWS_ACCESS_KEY_ID", "testing"))
    parser.add_argument("--secret", default=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    rows = run(
        args.requests,
        throttle_reads=args.throttle_reads,
        tail_reads=args.tail_reads,
        rounds=args.rounds,
        endpoint=args.endpoint,
        key=args.key,
        secret=args.secret,
        region=args.region,
    )
    print(to_markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
