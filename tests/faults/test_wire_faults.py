"""Faults on the wire, on S3, GCS and Azure: nothing fails, nothing is wrong, nothing hangs.

A fault proxy (:mod:`cloudzarr.tools.faultproxy`) sits between the stores and each emulator and
fails requests at the socket: resets, truncated answers, 500s, throttling answers, stalls and
lost responses. The stores' own request layer must absorb them: the workload sees no error, the
data and the consolidated metadata read back straight from the emulator are exactly what was
written, a stalled endpoint becomes a :class:`~cloudzarr.errors.StoreTimeoutError` in the
configured time, and racing creators are each told the truth even when their answer was lost.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import numpy as np
import pytest

from cloudzarr.api import asynchronous as aapi
from cloudzarr.config import config
from cloudzarr.errors import AmbiguousWriteError, ContainsGroupError, StoreTimeoutError
from cloudzarr.groups import AsyncGroup
from cloudzarr.storage import Store
from cloudzarr.tools.faultproxy import Fault, FaultPlan

from .conftest import Cloud

#: Every kind of fault once among the first requests, so a run cannot pass without meeting each.
EVERY_KIND = [
    None,
    Fault.RESET,
    None,
    Fault.TRUNCATE,
    None,
    Fault.ERROR_500,
    None,
    Fault.THROTTLE,
    None,
    Fault.STALL,
]
MIXED_KINDS = ("reset", "truncate", "500", "throttle", "stall")

#: A store that hangs fails its test in a minute rather than stalling the whole directory.
pytestmark = pytest.mark.timeout(60)


async def members(store: Store, *, consolidated: bool) -> dict[str, dict[str, Any]]:
    """Path -> metadata document of every node below the root, from consolidated metadata or
    from a walk of the store."""
    root = await AsyncGroup.open(store, use_consolidated=consolidated)
    assert root.consolidated == consolidated
    found = {}
    async for path, node in root.members(max_depth=None):
        doc = node.metadata.to_dict()
        # A group read from its parent's consolidated metadata carries an empty one of its own.
        doc.pop("consolidated_metadata", None)
        found[path] = doc
    return found


async def warm_store(cloud: Cloud) -> Store:
    """A store through the proxy that has made one request (client built, credentials found,
    modules imported), so that what is timed next is the stall alone; proxy stats zeroed."""
    store = cloud.store()
    assert await store.get("warm/missing") is None
    cloud.proxy.reset_stats()
    return store


async def create_or_lose(store: Store, name: str) -> bool:
    """Create group ``name`` under the root: True if this call created it, False if it lost."""
    root = await AsyncGroup.open(store)
    try:
        await root.create_group(name, attributes={"by": id(store)})
    except ContainsGroupError:
        return False
    return True


async def test_mixed_faults_lose_nothing(cloud: Cloud) -> None:
    store = cloud.store()
    cloud.proxy.plan = FaultPlan.mixed(0.10, seed=10, schedule=EVERY_KIND)

    await aapi.create_group(store, zarr_format=3, attributes={"root": True})
    await aapi.consolidate_metadata(store)
    root = await AsyncGroup.open(store)
    values = np.arange(32 * 48, dtype="int32").reshape(32, 48)
    array = await root.create_array("data", shape=values.shape, dtype="int32", chunks=(8, 8))
    await array.setitem(slice(None), values)
    np.testing.assert_array_equal(await array.getitem(slice(None)), values)
    await asyncio.gather(*(root.create_group(f"g{i}", attributes={"i": i}) for i in range(8)))
    races, racers = 3, 4
    for r in range(races):
        outcomes = await asyncio.gather(
            *(create_or_lose(cloud.store(), f"race{r}") for _ in range(racers))
        )
        assert sorted(outcomes) == [False] * (racers - 1) + [True], f"race{r}: {outcomes}"

    faults = {k: cloud.proxy.stats[k] for k in MIXED_KINDS}
    assert all(faults.values()), f"every kind of fault must have happened: {faults}"
    cloud.proxy.plan = FaultPlan()
    # What the emulator holds, read without the proxy.
    clean = cloud.clean_store()
    expected = {"data"} | {f"g{i}" for i in range(8)} | {f"race{r}" for r in range(races)}
    walked = await members(clean, consolidated=False)
    assert set(walked) == expected
    assert await members(clean, consolidated=True) == walked
    stored = await AsyncGroup.open(clean, use_consolidated=False)
    assert stored.attrs == {"root": True}
    read_back = await (await stored.getitem("data")).getitem(slice(None))
    np.testing.assert_array_equal(read_back, values)
    assert {walked[f"g{i}"]["attributes"]["i"] for i in range(8)} == set(range(8))


@pytest.mark.parametrize("operation", ["get", "set"])
async def test_stalled_endpoint_times_out_after_every_retry(cloud: Cloud, operation: str) -> None:
    retries, timeout = 2, 0.3
    with config.set(
        {
            "storage.request_timeout": timeout,
            "storage.retries": retries,
            "storage.backoff_max": 0.02,
        }
    ):
        store = await warm_store(cloud)
        cloud.proxy.plan = FaultPlan(rates={Fault.STALL: 1.0})
        started = time.monotonic()
        with pytest.raises(StoreTimeoutError) as caught:
            if operation == "get":
                await store.get("stalled/key")
            else:
                await store.set("stalled/key", b"x")
        elapsed = time.monotonic() - started
    assert "stalled/key" in str(caught.value)
    # One attempt and `retries` more, no layer below retrying again.
    assert cloud.proxy.stats["requests"] == retries + 1
    assert (retries + 1) * timeout <= elapsed < (retries + 1) * (timeout + 0.02) + 2.0


async def test_operation_timeout_caps_a_stalled_operation(cloud: Cloud) -> None:
    with config.set(
        {"storage.request_timeout": 0.25, "storage.retries": 50, "storage.operation_timeout": 1.0}
    ):
        store = await warm_store(cloud)
        cloud.proxy.plan = FaultPlan(rates={Fault.STALL: 1.0})
        started = time.monotonic()
        with pytest.raises(StoreTimeoutError, match="stalled/op"):
            await store.get("stalled/op")
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0
    assert 2 <= cloud.proxy.stats["requests"] <= 5


async def test_racing_creators_with_lost_responses_get_one_true_per_key(cloud: Cloud) -> None:
    keys, racers = 6, 32
    stores = [cloud.store() for _ in range(racers)]
    cloud.proxy.plan = FaultPlan(rates={Fault.LOST: 0.10}, seed=32)

    async def create(i: int, key: str) -> bool:
        return await stores[i].set_if_not_exists(key, f"racer {i}".encode())

    names = [f"race/k{k}" for k in range(keys)]
    results = await asyncio.gather(*(create(i, key) for key in names for i in range(racers)))
    lost = cloud.proxy.stats["lost"]
    cloud.proxy.plan = FaultPlan()
    assert lost >= 5, f"too few lost responses to prove anything: {lost}"
    clean = cloud.clean_store()
    for k, key in enumerate(names):
        told = results[k * racers : (k + 1) * racers]
        assert told.count(True) == 1, f"{key}: {told.count(True)} creators told True"
        winner = told.index(True)
        assert await clean.get(key) == f"racer {winner}".encode()


async def test_racing_swaps_with_lost_responses_apply_each_change_once(cloud: Cloud) -> None:
    # Each worker appends its entries to one JSON list by compare-and-swap, re-reading when it
    # loses. A swap that landed but was reported lost would be appended again (a duplicate); one
    # reported done that did not land would be missing. AmbiguousWriteError is a true answer when
    # another writer swapped on top of a landed write before its resend (the write token is gone
    # with the object it tagged): the worker then looks for its entry, as the upkeep of
    # consolidated metadata does.
    workers, each = 6, 4
    stores = [cloud.store() for _ in range(workers)]
    await cloud.clean_store().set("swap/list", b"[]")
    cloud.proxy.plan = FaultPlan(rates={Fault.LOST: 0.10}, seed=64)

    async def append(w: int) -> None:
        store = stores[w]
        for n in range(each):
            while True:
                found = await store.get_with_version("swap/list")
                assert found is not None
                data, version = found
                entries = json.loads(data)
                if f"{w}.{n}" in entries:
                    break  # an ambiguous write had landed
                value = json.dumps([*entries, f"{w}.{n}"]).encode()
                try:
                    if await store.set_if_version("swap/list", value, version):
                        break
                except AmbiguousWriteError:
                    continue

    await asyncio.gather(*(append(w) for w in range(workers)))
    lost = cloud.proxy.stats["lost"]
    cloud.proxy.plan = FaultPlan()
    assert lost >= 3, f"too few lost responses to prove anything: {lost}"
    final = json.loads((await cloud.clean_store().get("swap/list")) or b"")
    assert sorted(final) == sorted(f"{w}.{n}" for w in range(workers) for n in range(each))


async def test_a_body_that_stops_arriving_is_timed_out_and_retried(cloud: Cloud) -> None:
    value = bytes(range(256)) * 1024
    with config.set({"storage.request_timeout": 0.5, "storage.retries": 2}):
        store = await warm_store(cloud)
        await store.set("slow/body", value)
        cloud.proxy.reset_stats()
        cloud.proxy.plan = FaultPlan(schedule=[Fault.SLOW_BODY])
        assert await store.get("slow/body") == value  # the second attempt is answered
        assert cloud.proxy.stats == {"requests": 2, "slow_body": 1}
        cloud.proxy.plan = FaultPlan(rates={Fault.SLOW_BODY: 1.0})
        cloud.proxy.reset_stats()
        with pytest.raises(StoreTimeoutError, match="slow/body"):
            await store.get("slow/body")
        assert cloud.proxy.stats["requests"] == 3
