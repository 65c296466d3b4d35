"""The adapter on S3 (moto): atomic creates, shared limiter and exact request counts under zarr.

Winners of a create race are counted on the server: the bucket is versioned, so every write
that took effect left one object version, whatever the client believed.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import FsspecStore as ZarrFsspecStore

import cloudzarr
from cloudzarr.errors import StoreNotFoundError
from cloudzarr.interop import as_zarr_store
from cloudzarr.storage import InstrumentedStore, RangeByteRequest, S3Store
from cloudzarr.storage import SuffixByteRequest as CloudzarrSuffix
from cloudzarr.sync import sync

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.ZarrUserWarning")

SECRET = "interop-secret-that-must-never-show"
RACERS = 32


@pytest.fixture
def versioned_bucket(s3_server: Any) -> str:
    """A fresh bucket with versioning on: one version per write that took effect."""
    bucket: str = s3_server.create_bucket()
    s3_server.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return bucket


def _versions(s3_server: Any, bucket: str, key: str) -> int:
    listing = s3_server.client().list_object_versions(Bucket=bucket, Prefix=key)
    return sum(1 for v in listing.get("Versions", []) if v["Key"] == key)


async def _race(store: zarr.abc.store.Store, key: str) -> None:
    await asyncio.gather(
        *(store.set_if_not_exists(key, cpu.Buffer.from_bytes(b"%d" % i)) for i in range(RACERS))
    )


async def test_32_concurrent_creates_through_the_adapter_one_winner(
    s3_server: Any, versioned_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    store = S3Store(versioned_bucket, "cz", storage_options=s3_storage_options)
    try:
        await _race(as_zarr_store(store), "g/zarr.json")
        assert _versions(s3_server, versioned_bucket, "cz/g/zarr.json") == 1
        # Each create is one conditional PutObject; 31 of them were refused with 412.
        assert store.requests.snapshot() == {"PutObject": RACERS}
        value = await store.get("g/zarr.json")
        assert value is not None and int(value) in range(RACERS)
    finally:
        await store.close()


async def test_zarr_fsspec_store_create_is_not_atomic(
    s3_server: Any, versioned_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    # The contrast on the same server: zarr-python's FsspecStore checks, then writes, so
    # several racers write (10 in every run measured: botocore's 10 pooled connections let
    # 10 existence checks out before the first write lands).
    # A fresh s3fs instance: fsspec's instance cache may hand back one bound to the event loop
    # of an earlier test ("attached to a different loop").
    zarr_store = ZarrFsspecStore.from_url(
        f"s3://{versioned_bucket}/zf",
        storage_options={**s3_storage_options, "skip_instance_cache": True},
    )
    await _race(zarr_store, "g/zarr.json")
    assert _versions(s3_server, versioned_bucket, "zf/g/zarr.json") > 1


def test_limiter_bounds_every_zarr_caller(
    s3_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    # zarr-python bounds each call by its own async.concurrency (10) semaphore; through the
    # adapter the store's one limiter bounds all of them together: two threads reading at once
    # never have more than 4 requests in flight.
    store = S3Store(s3_bucket, "root", storage_options=s3_storage_options, concurrency=4)
    try:
        _limited_reads(store)
    finally:
        sync(store.close())


def _limited_reads(store: S3Store) -> None:
    adapter = as_zarr_store(store)
    data = np.arange(64 * 64, dtype="uint16").reshape(64, 64)
    arr = zarr.create_array(adapter, shape=data.shape, chunks=(8, 8), dtype="uint16")
    arr[:] = data
    assert store.limiter.peak_in_flight == 4
    store.limiter.reset_peak()
    store.requests.reset()

    def read() -> np.ndarray:
        return np.asarray(zarr.open_array(adapter, mode="r", zarr_format=3)[:])

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: read(), range(2)))
    for result in results:
        np.testing.assert_array_equal(result, data)
    assert store.limiter.peak_in_flight == 4
    # Two opens (one zarr.json each) and two reads of 64 chunks.
    assert store.requests.snapshot() == {"GetObject": 2 + 2 * 64}


async def test_adapter_requests_are_the_stores_requests(s3_store: S3Store) -> None:
    adapter = as_zarr_store(s3_store)
    proto = default_buffer_prototype()
    await adapter.set("a/k", cpu.Buffer.from_bytes(b"0123456789"))
    await adapter.set_if_not_exists("a/k", cpu.Buffer.from_bytes(b"x"))
    await adapter._set_many([(f"d/{i}", cpu.Buffer.from_bytes(b"v")) for i in range(3)])
    assert s3_store.requests.snapshot() == {"PutObject": 5}
    s3_store.requests.reset()

    value = await adapter.get("a/k", proto)
    assert value is not None and value.to_bytes() == b"0123456789"
    suffix = await adapter.get("a/k", proto, zarr.abc.store.SuffixByteRequest(3))
    assert suffix is not None and suffix.to_bytes() == b"789"
    assert await adapter.get("a/missing", proto) is None
    partial = await adapter.get_partial_values(
        proto, [("a/k", zarr.abc.store.RangeByteRequest(1, 3)), ("a/k", None), ("nope", None)]
    )
    assert [p.to_bytes() if p is not None else None for p in partial] == [
        b"12",
        b"0123456789",
        None,
    ]
    assert s3_store.requests.snapshot() == {"GetObject": 6}
    s3_store.requests.reset()

    assert await adapter.exists("a/k")
    assert await adapter.getsize("a/k") == 10
    assert s3_store.requests.snapshot() == {"HeadObject": 2}
    s3_store.requests.reset()

    assert sorted([n async for n in adapter.list_dir("")]) == ["a", "d"]
    assert [k async for k in adapter.list_prefix("d/")] == ["d/0", "d/1", "d/2"]
    assert not await adapter.is_empty("d")
    await adapter.delete_dir("d")
    await adapter.delete("a/k")
    assert await adapter.is_empty("")
    assert s3_store.requests.snapshot() == {
        "ListObjectsV2": 5,  # list_dir, list_prefix, is_empty x2, and delete_dir's listing
        "DeleteObjects": 1,  # delete_dir: three keys in one request
        "DeleteObject": 1,
    }

    # The same operations on the cloudzarr store cost the same.
    await s3_store.set("a/k", b"0123456789")
    s3_store.requests.reset()
    assert await s3_store.get("a/k", CloudzarrSuffix(3)) == b"789"
    assert await s3_store.get("a/k", RangeByteRequest(1, 3)) == b"12"
    assert s3_store.requests.snapshot() == {"GetObject": 2}


def test_zarr_workload_counted_by_instrumented_store_and_store(
    s3_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    store = S3Store(s3_bucket, "root", storage_options=s3_storage_options)
    try:
        _instrumented_workload(store)
    finally:
        sync(store.close())


def _instrumented_workload(store: S3Store) -> None:
    measured = InstrumentedStore(store)
    adapter = as_zarr_store(measured)
    root = zarr.open_group(adapter, mode="w", zarr_format=3)
    arr = root.create_array("g/a", shape=(16, 16), chunks=(8, 8), dtype="int32")
    arr[:] = np.ones((16, 16), dtype="int32")
    zarr.consolidate_metadata(adapter)
    measured.reset()
    store.requests.reset()

    group = zarr.open_group(adapter, mode="r", zarr_format=3, use_consolidated=True)
    np.testing.assert_array_equal(group["g/a"][:], 1)
    # One zarr.json (holding the consolidated metadata), then the four chunks.
    assert store.requests.snapshot() == {"GetObject": 5}
    stats = measured.stats()
    assert stats["get"].count == 5
    assert stats.total_requests == store.requests.total
    # cloudzarr opens what zarr-python wrote with the same single document read.
    store.requests.reset()
    cloudzarr.open_group(store, mode="r", zarr_format=3, use_consolidated=True)
    assert store.requests.snapshot() == {"GetObject": 1}


def test_missing_bucket_keeps_its_type_and_hides_credentials(s3_server: Any) -> None:
    options = {**s3_server.storage_options, "secret": SECRET}
    store = S3Store("no-such-bucket-here", "p", storage_options=options)
    adapter = as_zarr_store(store)
    try:
        assert SECRET not in repr(adapter)
        assert SECRET not in str(adapter)
        # zarr_format=3: one document read per open. With zarr_format=None zarr-python reads
        # four at once and abandons the rest when the first fails, leaving requests in flight
        # while the store is closed below.
        # A write reaches zarr-python's caller as the store raised it.
        with pytest.raises(StoreNotFoundError, match="no-such-bucket-here") as info:
            zarr.open_group(adapter, mode="a", zarr_format=3)
        assert SECRET not in str(info.value)
        assert SECRET not in repr(info.value)
        # On a read, zarr-python takes any FileNotFoundError (StoreNotFoundError is one) for
        # "no metadata here"; its own error still names the bucket, through the adapter's repr.
        with pytest.raises(zarr.errors.GroupNotFoundError, match="no-such-bucket-here") as missing:
            zarr.open_group(adapter, mode="r", zarr_format=3)
        assert SECRET not in str(missing.value)
    finally:
        sync(store.close())


def test_sharded_partial_read_through_zarr(
    s3_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    # zarr-python's sharding codec reads the shard index with a suffix request and one inner
    # chunk with a range request; through the adapter each is one GetObject.
    store = S3Store(s3_bucket, "root", storage_options=s3_storage_options)
    try:
        adapter = as_zarr_store(store)
        data = np.arange(32 * 32, dtype="uint16").reshape(32, 32)
        arr = zarr.create_array(adapter, shape=(32, 32), chunks=(4, 4), shards=(16, 16), dtype="u2")
        arr[:] = data
        store.requests.reset()
        assert zarr.open_array(adapter, mode="r", zarr_format=3)[5, 6] == data[5, 6]
        assert store.requests.snapshot() == {"GetObject": 3}  # zarr.json, index, chunk
        np.testing.assert_array_equal(cloudzarr.open_array(store, mode="r")[:], data)
    finally:
        sync(store.close())


def test_xarray_on_an_s3_url(s3_bucket: str, s3_storage_options: dict[str, Any]) -> None:
    import xarray as xr

    adapter = as_zarr_store(
        f"s3://{s3_bucket}/data.zarr", storage_options=s3_storage_options, concurrency=3
    )
    store = adapter.store
    assert isinstance(store, S3Store)
    assert store.limiter.size == 3
    try:
        ds = xr.Dataset({"v": (("t",), np.arange(10.0))}, attrs={"source": "url"})
        ds.chunk({"t": 2}).to_zarr(adapter, zarr_format=3, consolidated=True, mode="w")
        with xr.open_zarr(adapter) as back:
            xr.testing.assert_identical(back.load(), ds)
        assert store.limiter.peak_in_flight == 3
        # What xarray wrote sits at the URL's prefix, as cloudzarr opens it.
        group = cloudzarr.open_group(
            f"s3://{s3_bucket}/data.zarr", mode="r", storage_options=s3_storage_options
        )
        assert group["v"].dimension_names == ("t",)  # type: ignore[union-attr]
    finally:
        sync(store.close())


def test_xarray_open_and_load_is_only_gets(s3_store: S3Store) -> None:
    # Reading a consolidated dataset back through the adapter: no HeadObject, no listing, at
    # most one GetObject per chunk plus the metadata documents zarr-python probes for (4).
    import xarray as xr

    adapter = as_zarr_store(s3_store)
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {f"v{i}": (("t", "x"), rng.random((40, 50))) for i in range(5)},
        coords={"t": np.arange(40), "x": np.arange(50)},
    ).chunk({"t": 10})
    ds.to_zarr(adapter, zarr_format=3, consolidated=True, mode="w")
    chunks = 5 * 4 + 2  # four chunks per variable, one per coordinate
    s3_store.requests.reset()
    with xr.open_zarr(adapter) as back:
        xr.testing.assert_identical(back.load(), ds)
    counts = s3_store.requests.snapshot()
    assert set(counts) == {"GetObject"}
    assert chunks <= counts["GetObject"] <= chunks + 4
