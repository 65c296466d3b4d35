"""The wrappers on every backend: forwarding is exact, and a wrapper sends no extra request."""

from __future__ import annotations

from cloudzarr.storage import InstrumentedStore, LatencyStore, RangeByteRequest, RetryStore, Store


async def _workload(store: Store, prefix: str) -> list[object]:
    seen: list[object] = []
    await store.set(f"{prefix}/a", b"0123456789")
    seen.append(await store.set_if_not_exists(f"{prefix}/b", b"x"))
    seen.append(await store.set_if_not_exists(f"{prefix}/b", b"y"))
    seen.append(await store.get(f"{prefix}/a"))
    seen.append(await store.get(f"{prefix}/a", RangeByteRequest(2, 5)))
    seen.append(await store.get(f"{prefix}/missing"))
    seen.append(await store.exists(f"{prefix}/b"))
    seen.append(await store.getsize(f"{prefix}/a"))
    seen.append([k async for k in store.list_prefix(prefix)])
    seen.append([k async for k in store.list_dir(prefix)])
    await store.delete(f"{prefix}/b")
    await store.delete_dir(prefix)
    seen.append(await store.is_empty(prefix))
    return seen


async def test_wrapped_store_sends_exactly_the_same_requests(any_store: Store) -> None:
    # Some stores learn from their first bulk delete (Azurite refuses blob batches); let that
    # happen before counting.
    await any_store.set("warm/x", b"")
    await any_store.delete_dir("warm")
    before = any_store.requests.snapshot()
    bare = await _workload(any_store, "bare")
    middle = any_store.requests.snapshot()
    wrapped_store = InstrumentedStore(RetryStore(LatencyStore(any_store, latency=0.001)))
    wrapped = await _workload(wrapped_store, "wrap")

    after = any_store.requests.snapshot()
    bare_counts = {k: middle.get(k, 0) - before.get(k, 0) for k in middle}
    wrapped_counts = {k: after.get(k, 0) - middle.get(k, 0) for k in after}
    # Same answers (listings relative to their prefix) and the same requests on the wire.
    assert [str(x).replace("bare", "P") for x in bare] == [
        str(x).replace("wrap", "P") for x in wrapped
    ]
    assert {k: v for k, v in wrapped_counts.items() if v} == {
        k: v for k, v in bare_counts.items() if v
    }
    stats = wrapped_store.stats()
    assert stats["set"].count == 1
    assert stats["set_if_not_exists"].count == 2
    assert stats["get"].count == 3
    assert stats["get"].bytes_out == 13
    assert stats["getsize"].count == 1
    assert stats.total_requests >= 12
