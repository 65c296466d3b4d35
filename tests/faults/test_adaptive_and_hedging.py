"""Adaptive concurrency against a proxy that throttles above N requests in flight, and hedged
reads against a proxy with a heavy tail: the work completes and is right, the limit settles near
N, and hedging stays within its request budget. (How much hedging cuts p99 is measured by
``benchmarks/bench_requests.py``, not asserted here.)"""

from __future__ import annotations

import asyncio

import pytest

from cloudzarr.config import config
from cloudzarr.tools.faultproxy import FaultPlan

from .conftest import Cloud

pytestmark = pytest.mark.timeout(60)


async def fill(cloud: Cloud, count: int) -> dict[str, bytes]:
    """``count`` small objects written straight to the emulator."""
    clean = cloud.clean_store()
    objects = {f"obj/{i}": f"value {i}".encode() * 4 for i in range(count)}
    await clean.set_many(objects)
    return objects


async def read_all(store: object, keys: list[str], concurrency: int) -> dict[str, bytes | None]:
    gate = asyncio.Semaphore(concurrency)

    async def one(key: str) -> tuple[str, bytes | None]:
        async with gate:
            return key, await store.get(key)  # type: ignore[attr-defined]

    return dict(await asyncio.gather(*(one(k) for k in keys)))


async def test_limit_converges_near_the_throttling_threshold(s3_cloud: Cloud) -> None:
    threshold, size = 4, 32
    objects = await fill(s3_cloud, 240)
    store = s3_cloud.store(concurrency=size)
    assert store.limiter.limit == size
    s3_cloud.proxy.plan = FaultPlan(latency=0.02, throttle_above=threshold)
    # Callers ask for far more than the server allows: the limiter, not the caller, must adapt.
    assert await read_all(store, list(objects), concurrency=64) == objects
    throttled = s3_cloud.proxy.stats["throttled"]
    served = s3_cloud.proxy.stats["requests"] - throttled
    assert served == len(objects)
    assert threshold // 2 <= store.limiter.limit <= 2 * threshold, store.limiter
    # Converging means the requests sent follow the limit. Ideal AIMD here bounces about 44 in
    # the first waves (32 -> 16 -> 8 -> 4) and then one per ~9 successes (4 -> 5, halve, regrow):
    # about 66 for 240. Attempts that keep retrying under the old limit bounce far more.
    assert throttled < 0.5 * served, f"{throttled} throttled for {served} served"


async def test_throttled_store_recovers_its_limit(s3_cloud: Cloud) -> None:
    objects = await fill(s3_cloud, 200)
    store = s3_cloud.store(concurrency=16)
    s3_cloud.proxy.plan = FaultPlan(latency=0.01, throttle_above=2)
    keys = list(objects)
    assert await read_all(store, keys[:100], concurrency=32) == dict(
        (k, objects[k]) for k in keys[:100]
    )
    low = store.limiter.limit
    assert low <= 4
    s3_cloud.proxy.plan = FaultPlan()
    assert await read_all(store, keys * 3, concurrency=32) == objects
    assert store.limiter.limit > low  # additive increase once the throttling stops


async def test_hedged_reads_stay_within_budget_and_answer_right(s3_cloud: Cloud) -> None:
    objects = await fill(s3_cloud, 400)
    keys = list(objects)
    s3_cloud.proxy.plan = FaultPlan(latency=0.005, tail_rate=0.02, tail_latency=0.5, seed=1)
    # Only hedges may add requests here: no attempt may time out, however loaded the machine.
    with config.set({"storage.request_timeout": 10.0}):
        hedged = s3_cloud.store(hedge=True)
        assert await read_all(hedged, keys, concurrency=8) == objects
        extra = s3_cloud.proxy.stats["requests"] - len(keys)
        # Hedges were sent (a 2 % tail of 500 ms is far beyond the p95), within the 5 % budget.
        assert 1 <= extra <= 0.05 * len(keys) + 1, s3_cloud.proxy.stats

        s3_cloud.proxy.reset_stats()
        plain = s3_cloud.store()
        assert await read_all(plain, keys, concurrency=8) == objects
    # Not hedged: one GET per read.
    assert s3_cloud.proxy.stats["requests"] == len(keys), s3_cloud.proxy.stats


async def test_each_clouds_throttling_answer_cuts_the_limit(cloud: Cloud) -> None:
    # S3 503 SlowDown, GCS 429 rateLimitExceeded, Azure 503 ServerBusy: each must read as
    # throttling (the limit shrinks), not as a plain server error, and the reads still complete.
    objects = await fill(cloud, 48)
    store = cloud.store(concurrency=16)
    cloud.proxy.plan = FaultPlan(latency=0.02, throttle_above=2)
    assert await read_all(store, list(objects), concurrency=16) == objects
    assert cloud.proxy.stats["throttled"] >= 1
    assert store.limiter.limit < 16, store.limiter
