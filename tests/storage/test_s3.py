"""S3Store on a real moto server: exact HTTP request counts, errors, pickling, fresh listings.

Counts are botocore operations seen by the store's ``before-send`` hook, one per HTTP request.
"""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

from cloudzarr.errors import (
    AccessDeniedError,
    InvalidStoreURLError,
    PreconditionFailedError,
    StoreNotFoundError,
    ThrottledError,
)
from cloudzarr.storage import (
    FsspecStore,
    OffsetByteRequest,
    RangeByteRequest,
    S3Store,
    SuffixByteRequest,
)
from cloudzarr.sync import sync

SECRET = "s3-secret-that-must-never-show"


async def _fill(store: S3Store, n_prefixes: int) -> None:
    await store.set_many({f"dir/p{i:04d}/k": b"x" for i in range(n_prefixes)})
    store.requests.reset()


async def test_get_is_one_request(s3_store: S3Store) -> None:
    await s3_store.set("k", b"0123456789")
    s3_store.requests.reset()
    assert await s3_store.get("k") == b"0123456789"
    assert s3_store.requests.snapshot() == {"GetObject": 1}


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
    s3_store: S3Store, byte_range: Any, expected: bytes
) -> None:
    await s3_store.set("k", b"0123456789")
    s3_store.requests.reset()
    assert await s3_store.get("k", byte_range) == expected
    assert s3_store.requests.snapshot() == {"GetObject": 1}


async def test_missing_key_is_one_request(s3_store: S3Store) -> None:
    assert await s3_store.get("nope") is None
    assert await s3_store.get("nope", SuffixByteRequest(3)) is None
    assert s3_store.requests.snapshot() == {"GetObject": 2}


async def test_create_is_one_conditional_request(s3_store: S3Store) -> None:
    assert await s3_store.set_if_not_exists("zarr.json", b"a") is True
    assert s3_store.requests.snapshot() == {"PutObject": 1}
    s3_store.requests.reset()
    assert await s3_store.set_if_not_exists("zarr.json", b"b") is False
    assert s3_store.requests.snapshot() == {"PutObject": 1}
    assert await s3_store.get("zarr.json") == b"a"


async def test_32_concurrent_creators_one_winner(s3_store: S3Store) -> None:
    results = await asyncio.gather(
        *(s3_store.set_if_not_exists("g/zarr.json", b"%d" % i) for i in range(32))
    )
    assert results.count(True) == 1
    assert s3_store.requests.snapshot() == {"PutObject": 32}
    assert await s3_store.get("g/zarr.json") == b"%d" % results.index(True)


async def test_exists_getsize_delete_are_one_request_each(s3_store: S3Store) -> None:
    await s3_store.set("k", b"abc")
    s3_store.requests.reset()
    assert await s3_store.exists("k")
    assert await s3_store.getsize("k") == 3
    await s3_store.delete("k")
    assert s3_store.requests.snapshot() == {"HeadObject": 2, "DeleteObject": 1}


async def test_list_dir_of_1100_prefixes_then_delete_dir_of_1100_keys(
    s3_store: S3Store,
) -> None:
    # One fill serves both (moto writes at a few ms per object): 1,100 prefixes, one key each.
    await _fill(s3_store, 1100)
    await s3_store.set("dir-sibling", b"kept")
    s3_store.requests.reset()
    names = [n async for n in s3_store.list_dir("dir")]
    assert names == [f"p{i:04d}" for i in range(1100)]
    # S3 pages 1,000 entries (keys and common prefixes) per ListObjectsV2.
    assert s3_store.requests.snapshot() == {"ListObjectsV2": 2}

    s3_store.requests.reset()
    await s3_store.delete_dir("dir")
    # Two listing pages, each deleted by one DeleteObjects.
    assert s3_store.requests.snapshot() == {"ListObjectsV2": 2, "DeleteObjects": 2}
    assert [k async for k in s3_store.list()] == ["dir-sibling"]


async def test_listing_is_never_stale(s3_store: S3Store) -> None:
    await s3_store.set("a/x", b"1")
    assert [n async for n in s3_store.list_dir("a")] == ["x"]
    await s3_store.set("a/y", b"2")
    assert [n async for n in s3_store.list_dir("a")] == ["x", "y"]
    await s3_store.delete("a/x")
    assert [k async for k in s3_store.list_prefix("a")] == ["a/y"]


async def test_generic_fsspec_store_over_s3fs_is_never_stale(
    s3_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    # s3fs caches listings by default; FsspecStore turns that cache off.
    store = FsspecStore.from_url(f"s3://{s3_bucket}/g", storage_options=s3_storage_options)
    try:
        await store.set("a/x", b"1")
        assert [n async for n in store.list_dir("a")] == ["x"]
        await store.set("a/y", b"2")
        assert [n async for n in store.list_dir("a")] == ["x", "y"]
        assert store.supports_atomic_create
        assert await store.set_if_not_exists("a/y", b"3") is False
    finally:
        await store.close()


async def test_missing_bucket_names_bucket_and_key(s3_storage_options: dict[str, Any]) -> None:
    store = S3Store("no-such-bucket-here", "p", storage_options=s3_storage_options)
    try:
        with pytest.raises(StoreNotFoundError, match="no-such-bucket-here") as info:
            await store.get("some/key")
        assert "p/some/key" in str(info.value)
        with pytest.raises(StoreNotFoundError):
            await store.set("k", b"x")
    finally:
        await store.close()


async def test_credentials_never_in_repr_or_errors(s3_server: Any) -> None:
    options = {**s3_server.storage_options, "secret": SECRET}
    store = S3Store("no-such-bucket-here", storage_options=options)
    try:
        assert SECRET not in repr(store)
        assert SECRET not in str(store)
        with pytest.raises(StoreNotFoundError) as info:
            await store.get("k")
        assert SECRET not in str(info.value)
        assert SECRET not in repr(info.value)
    finally:
        await store.close()


async def test_pickle_rebuilds_by_configuration(s3_store: S3Store) -> None:
    await s3_store.set("k", b"v")
    clone = pickle.loads(pickle.dumps(s3_store))
    assert clone == s3_store
    assert clone.requests is not s3_store.requests
    assert clone.requests.total == 0
    try:
        assert await clone.get("k") == b"v"
        assert clone.requests.snapshot() == {"GetObject": 1}
    finally:
        await clone.close()


def test_from_url_matches_constructor(s3_bucket: str, s3_storage_options: dict[str, Any]) -> None:
    store = S3Store.from_url(f"s3://{s3_bucket}/a/b", storage_options=s3_storage_options)
    assert store == S3Store(s3_bucket, "a/b", storage_options=s3_storage_options)
    assert repr(store) == f"S3Store('s3://{s3_bucket}/a/b')"
    for url in ("s3://", "s3:///key"):
        with pytest.raises(InvalidStoreURLError, match="no bucket"):
            S3Store.from_url(url, storage_options=s3_storage_options)


def test_concurrency_from_environment(
    monkeypatch: pytest.MonkeyPatch, s3_storage_options: dict[str, Any]
) -> None:
    monkeypatch.setenv("CLOUDZARR_S3_CONCURRENCY", "7")
    assert S3Store("b-b", storage_options=s3_storage_options).limiter.size == 7
    assert S3Store("b-b", storage_options=s3_storage_options, concurrency=3).limiter.size == 3


async def test_read_only_view_shares_the_counter(s3_store: S3Store) -> None:
    await s3_store.set("k", b"v")
    view = s3_store.with_read_only()
    s3_store.requests.reset()
    assert await view.get("k") == b"v"
    assert s3_store.requests.snapshot() == {"GetObject": 1}


async def test_one_store_on_two_event_loops(s3_store: S3Store) -> None:
    # The sync API runs on cloudzarr's background loop; this test runs on its own loop.
    await s3_store.set("k", b"v")
    from_background = await asyncio.to_thread(sync, s3_store.get("k"))
    assert from_background == b"v"
    assert await s3_store.get("k") == b"v"
    await s3_store.close()


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchBucket", 404, StoreNotFoundError),
        ("AccessDenied", 403, AccessDeniedError),
        ("InvalidAccessKeyId", 403, AccessDeniedError),
        ("PreconditionFailed", 412, PreconditionFailedError),
        ("SlowDown", 503, ThrottledError),
    ],
)
def test_error_mapping_names_bucket_and_key(
    code: str, status: int, expected: type[Exception], s3_storage_options: dict[str, Any]
) -> None:
    from botocore.exceptions import ClientError

    store = S3Store("my-bucket", "pre", storage_options=s3_storage_options)
    response: Any = {
        "Error": {"Code": code, "Message": f"server says {SECRET}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    error = store._map_error(ClientError(response, "PutObject"), "a/b", "PutObject")
    assert isinstance(error, expected)
    assert "s3://my-bucket/pre/a/b" in str(error)
    assert SECRET not in str(error)


async def test_no_credentials_is_access_denied_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, s3_server: Any, s3_bucket: str, tmp_path: Any
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    # No credential files, and no instance-metadata lookup (it would leave loopback).
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store(s3_bucket, storage_options={"endpoint_url": s3_server.endpoint_url})
    try:
        with pytest.raises(AccessDeniedError, match=rf"no S3 credentials.*{s3_bucket}.*key="):
            await store.get("k")
    finally:
        await store.close()
