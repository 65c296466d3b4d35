"""GCSStore on a real fake-gcs-server: exact HTTP request counts, errors, pickling, listings.

Counts are the HTTP requests seen by the aiohttp trace on the store's session (``GET object``,
``GET metadata``, ``GET list``, ``POST upload``, ``DELETE object``, ``POST batch``).
"""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

from cloudzarr.errors import (
    AccessDeniedError,
    PreconditionFailedError,
    StoreNotFoundError,
    ThrottledError,
)
from cloudzarr.storage import (
    GCSStore,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)

SECRET = "gcs-token-that-must-never-show"


async def test_get_is_one_request(gcs_store: GCSStore) -> None:
    await gcs_store.set("k", b"0123456789")
    gcs_store.requests.reset()
    assert await gcs_store.get("k") == b"0123456789"
    assert gcs_store.requests.snapshot() == {"GET object": 1}


@pytest.mark.parametrize(
    ("byte_range", "expected"),
    [
        (RangeByteRequest(2, 5), b"234"),
        (OffsetByteRequest(7), b"789"),
        (SuffixByteRequest(4), b"6789"),
        (SuffixByteRequest(40), b"0123456789"),
        (RangeByteRequest(20, 30), b""),
    ],
)
async def test_range_get_is_one_request(
    gcs_store: GCSStore, byte_range: Any, expected: bytes
) -> None:
    await gcs_store.set("k", b"0123456789")
    gcs_store.requests.reset()
    assert await gcs_store.get("k", byte_range) == expected
    assert gcs_store.requests.snapshot() == {"GET object": 1}


async def test_create_is_one_conditional_request(gcs_store: GCSStore) -> None:
    assert await gcs_store.set_if_not_exists("zarr.json", b"a") is True
    assert gcs_store.requests.snapshot() == {"POST upload": 1}
    gcs_store.requests.reset()
    assert await gcs_store.set_if_not_exists("zarr.json", b"b") is False
    assert gcs_store.requests.snapshot() == {"POST upload": 1}
    assert await gcs_store.get("zarr.json") == b"a"


async def test_32_concurrent_creators_one_winner(gcs_store: GCSStore) -> None:
    results = await asyncio.gather(
        *(gcs_store.set_if_not_exists("g/zarr.json", b"%d" % i) for i in range(32))
    )
    assert results.count(True) == 1
    assert gcs_store.requests.snapshot() == {"POST upload": 32}
    assert await gcs_store.get("g/zarr.json") == b"%d" % results.index(True)


async def test_exists_getsize_delete_are_one_request_each(gcs_store: GCSStore) -> None:
    await gcs_store.set("k", b"abc")
    gcs_store.requests.reset()
    assert await gcs_store.exists("k")
    assert await gcs_store.getsize("k") == 3
    await gcs_store.delete("k")
    assert gcs_store.requests.snapshot() == {"GET metadata": 2, "DELETE object": 1}


async def test_list_dir_of_1100_prefixes_then_delete_dir_of_1100_keys(
    gcs_store: GCSStore,
) -> None:
    await gcs_store.set_many({f"dir/p{i:04d}/k": b"x" for i in range(1100)})
    await gcs_store.set("dir-sibling", b"kept")
    gcs_store.requests.reset()
    names = [n async for n in gcs_store.list_dir("dir")]
    assert names == [f"p{i:04d}" for i in range(1100)]
    # fake-gcs-server answers a delimited listing in one page (GCS pages 1,000: 2 requests).
    assert gcs_store.requests.snapshot() == {"GET list": 1}

    gcs_store.requests.reset()
    await gcs_store.delete_dir("dir")
    # Two listing pages of at most 1,000 keys, one batch request per 100 keys.
    assert gcs_store.requests.snapshot() == {"GET list": 2, "POST batch": 11}
    assert [k async for k in gcs_store.list()] == ["dir-sibling"]


async def test_listing_is_never_stale(gcs_store: GCSStore) -> None:
    await gcs_store.set("a/x", b"1")
    assert [n async for n in gcs_store.list_dir("a")] == ["x"]
    await gcs_store.set("a/y", b"2")
    assert [n async for n in gcs_store.list_dir("a")] == ["x", "y"]
    await gcs_store.delete("a/x")
    assert [k async for k in gcs_store.list_prefix("a")] == ["a/y"]


async def test_missing_bucket_names_bucket(gcs_storage_options: dict[str, Any]) -> None:
    store = GCSStore("no-such-bucket-here", "p", storage_options=gcs_storage_options)
    try:
        with pytest.raises(StoreNotFoundError, match="no-such-bucket-here"):
            [n async for n in store.list_dir("")]
        with pytest.raises(StoreNotFoundError, match="p/k"):
            await store.set("k", b"x")
    finally:
        await store.close()


async def test_credentials_never_in_repr_or_errors(gcs_server: Any) -> None:
    # fake-gcs-server ignores credentials; the store must still never show them.
    session = {"headers": {"Authorization": f"Bearer {SECRET}"}}
    options = {**gcs_server.storage_options, "session_kwargs": session}
    store = GCSStore("no-such-bucket-here", storage_options=options)
    try:
        assert SECRET not in repr(store)
        with pytest.raises(StoreNotFoundError) as info:
            [n async for n in store.list_dir("")]
        assert SECRET not in str(info.value)
    finally:
        await store.close()


async def test_pickle_rebuilds_by_configuration(gcs_store: GCSStore) -> None:
    await gcs_store.set("k", b"v")
    clone = pickle.loads(pickle.dumps(gcs_store))
    assert clone == gcs_store
    assert clone.requests.total == 0
    try:
        assert await clone.get("k") == b"v"
        assert clone.requests.snapshot() == {"GET object": 1}
    finally:
        await clone.close()


def test_from_url_matches_constructor(gcs_storage_options: dict[str, Any]) -> None:
    for scheme in ("gs", "gcs"):
        store = GCSStore.from_url(f"{scheme}://bkt/a/b", storage_options=gcs_storage_options)
        assert store == GCSStore("bkt", "a/b", storage_options=gcs_storage_options)
        assert repr(store) == "GCSStore('gs://bkt/a/b')"


def test_concurrency_from_environment(
    monkeypatch: pytest.MonkeyPatch, gcs_storage_options: dict[str, Any]
) -> None:
    monkeypatch.setenv("CLOUDZARR_GCS_CONCURRENCY", "5")
    assert GCSStore("bkt", storage_options=gcs_storage_options).limiter.size == 5


@pytest.mark.parametrize(
    ("status", "expected"),
    [(404, StoreNotFoundError), (401, AccessDeniedError), (403, AccessDeniedError),
     (412, PreconditionFailedError), (429, ThrottledError), (503, ThrottledError)],
)  # fmt: skip
def test_status_mapping_names_bucket_and_key(
    status: int, expected: type[Exception], gcs_storage_options: dict[str, Any]
) -> None:
    store = GCSStore("my-bucket", "pre", storage_options=gcs_storage_options)
    body = b'{"error": {"code": %d, "message": "server says %s"}}' % (status, SECRET.encode())
    error = store._status_error(status, body, "a/b", "GET")
    assert isinstance(error, expected)
    assert "gs://my-bucket/pre/a/b" in str(error)
    assert SECRET not in str(error)
