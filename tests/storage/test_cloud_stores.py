"""S3Store, GCSStore and AzureStore on their emulators (moto, fake-gcs-server, Azurite): one set
of expectations, parametrized by cloud.

Counts are HTTP attempts counted by the request layer (storage/transport.py), under each cloud's
operation names (``EXPECT[cloud]``). Where the clouds differ (Azure's missing suffix ranges, page
sizes), the table says so.
"""

from __future__ import annotations

import asyncio
import pickle
from dataclasses import dataclass
from typing import Any

import pytest

from cloudzarr.errors import (
    AccessDeniedError,
    CloudzarrError,
    InvalidStoreURLError,
    StoreNotFoundError,
)
from cloudzarr.storage import (
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from cloudzarr.storage.cloud import CloudStore
from cloudzarr.storage.transport import client_count
from cloudzarr.sync import sync

CLOUDS = ("s3", "gcs", "azure")
SECRET = "secret-that-must-never-show"


@dataclass(frozen=True)
class Expect:
    """How one cloud names and pages its requests."""

    get: str
    head: str
    put: str
    delete: str
    bulk_delete: str
    list: str
    #: Children per listing page, and how many children the paging test writes.
    page: int
    children: int
    suffix_costs_head: bool
    concurrency_env: str
    #: Requests of a delimited listing of ``children`` children.
    dir_pages: int
    #: Bulk-delete requests for ``children`` keys (S3 1,000 a request, GCS 100, Azure 256).
    bulk_requests: int


EXPECT = {
    "s3": Expect("GetObject", "HeadObject", "PutObject", "DeleteObject", "DeleteObjects",
                 "ListObjectsV2", 1000, 1100, False, "CLOUDZARR_S3_CONCURRENCY", 2, 2),
    # fake-gcs-server answers a delimited listing in one page (GCS pages 1,000: 2 requests).
    "gcs": Expect("GET object", "GET metadata", "POST upload", "DELETE object", "POST batch",
                  "GET list", 1000, 1100, False, "CLOUDZARR_GCS_CONCURRENCY", 1, 11),
    # Azurite writes slowly (about 15 ms a blob): 300 children stand in for a page of 5,000.
    "azure": Expect("GetBlob", "GetBlobProperties", "PutBlob", "DeleteBlob", "BlobBatch",
                    "ListBlobs", 5000, 300, True, "CLOUDZARR_AZURE_CONCURRENCY", 1, 2),
}  # fmt: skip


@pytest.fixture(params=CLOUDS)
def cloud(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(cloud: str, request: pytest.FixtureRequest) -> CloudStore:
    result: CloudStore = request.getfixturevalue(f"{cloud}_store")
    return result


def _bucket(cloud: str, request: pytest.FixtureRequest) -> str:
    name = "azure_container" if cloud == "azure" else f"{cloud}_bucket"
    return str(request.getfixturevalue(name))


def _options(cloud: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(request.getfixturevalue(f"{cloud}_storage_options"))


def _cls(store: CloudStore) -> type[CloudStore]:
    return type(store)


async def test_get_is_one_request(store: CloudStore, cloud: str) -> None:
    await store.set("k", b"0123456789")
    store.requests.reset()
    assert await store.get("k") == b"0123456789"
    assert store.requests.snapshot() == {EXPECT[cloud].get: 1}


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
    store: CloudStore, cloud: str, byte_range: Any, expected: bytes
) -> None:
    await store.set("k", b"0123456789")
    store.requests.reset()
    assert await store.get("k", byte_range) == expected
    want = {EXPECT[cloud].get: 1}
    if isinstance(byte_range, SuffixByteRequest) and EXPECT[cloud].suffix_costs_head:
        want[EXPECT[cloud].head] = 1  # Azure Blob has no suffix ranges: the size first
    assert store.requests.snapshot() == want


async def test_missing_key_reads_are_one_request(store: CloudStore, cloud: str) -> None:
    assert await store.get("nope") is None
    assert await store.get("nope", SuffixByteRequest(3)) is None
    assert await store.get_with_version("nope") is None
    e = EXPECT[cloud]
    want = {e.get: 2, e.head: 1} if e.suffix_costs_head else {e.get: 3}
    assert store.requests.snapshot() == want


async def test_create_is_one_conditional_request(store: CloudStore, cloud: str) -> None:
    assert await store.set_if_not_exists("zarr.json", b"a") is True
    assert store.requests.snapshot() == {EXPECT[cloud].put: 1}
    store.requests.reset()
    assert await store.set_if_not_exists("zarr.json", b"b") is False
    assert store.requests.snapshot() == {EXPECT[cloud].put: 1}
    assert await store.get("zarr.json") == b"a"


async def test_swap_is_one_conditional_request(store: CloudStore, cloud: str) -> None:
    await store.set("k", b"v1")
    got = await store.get_with_version("k")
    assert got is not None
    store.requests.reset()
    assert await store.set_if_version("k", b"v2", got[1]) is True
    assert store.requests.snapshot() == {EXPECT[cloud].put: 1}
    assert await store.get("k") == b"v2"


async def test_32_concurrent_creators_one_winner(store: CloudStore, cloud: str) -> None:
    results = await asyncio.gather(
        *(store.set_if_not_exists("g/zarr.json", b"%d" % i) for i in range(32))
    )
    assert results.count(True) == 1
    assert store.requests.snapshot() == {EXPECT[cloud].put: 32}
    assert await store.get("g/zarr.json") == b"%d" % results.index(True)


async def test_exists_getsize_delete_are_one_request_each(store: CloudStore, cloud: str) -> None:
    await store.set("k", b"abc")
    store.requests.reset()
    assert await store.exists("k")
    assert await store.getsize("k") == 3
    await store.delete("k")
    assert store.requests.snapshot() == {EXPECT[cloud].head: 2, EXPECT[cloud].delete: 1}


async def test_list_dir_pages_then_delete_dir(store: CloudStore, cloud: str) -> None:
    e = EXPECT[cloud]
    await store.set_many({f"dir/p{i:04d}/k": b"x" for i in range(e.children)})
    await store.set("dir-sibling", b"kept")
    store.requests.reset()
    names = [n async for n in store.list_dir("dir")]
    assert names == [f"p{i:04d}" for i in range(e.children)]
    assert store.requests.snapshot() == {e.list: e.dir_pages}
    pages = -(-e.children // e.page)

    store.requests.reset()
    await store.delete_dir("dir")
    assert store.requests.snapshot() == {e.list: pages, e.bulk_delete: e.bulk_requests}
    assert [k async for k in store.list()] == ["dir-sibling"]


async def test_listing_is_never_stale(store: CloudStore) -> None:
    await store.set("a/x", b"1")
    assert [n async for n in store.list_dir("a")] == ["x"]
    await store.set("a/y", b"2")
    assert [n async for n in store.list_dir("a")] == ["x", "y"]
    await store.delete("a/x")
    assert [k async for k in store.list_prefix("a")] == ["a/y"]


async def test_missing_bucket_names_bucket_and_key(
    store: CloudStore, cloud: str, request: pytest.FixtureRequest
) -> None:
    missing = _cls(store)("no-such-bucket-here", "p", storage_options=_options(cloud, request))
    with pytest.raises(StoreNotFoundError, match="no-such-bucket-here") as info:
        await missing.set("some/key", b"x")
    assert "p/some/key" in str(info.value)
    with pytest.raises(StoreNotFoundError, match="no-such-bucket-here"):
        [n async for n in missing.list_dir("")]
    await missing.close()


async def test_pickle_rebuilds_by_configuration_and_shares_the_client(
    store: CloudStore, cloud: str
) -> None:
    await store.set("k", b"v")
    clients = client_count()
    clone = pickle.loads(pickle.dumps(store))
    assert clone == store
    assert clone.requests is not store.requests
    assert clone.requests.total == 0
    assert await clone.get("k") == b"v"
    assert clone.requests.snapshot() == {EXPECT[cloud].get: 1}
    # One client per configuration per process: the clone made none.
    assert client_count() == clients


def test_from_url_matches_constructor(cloud: str, request: pytest.FixtureRequest) -> None:
    from cloudzarr.storage import AzureStore, GCSStore, S3Store

    options = _options(cloud, request)
    cls: type[CloudStore] = {"s3": S3Store, "gcs": GCSStore, "azure": AzureStore}[cloud]
    for scheme in cls.url_schemes:
        store = cls.from_url(f"{scheme}://bkt/a/b", storage_options=options)
        assert store == cls("bkt", "a/b", storage_options=options)
        assert repr(store) == f"{cls.__name__}('{cls.scheme}://bkt/a/b')"
    with pytest.raises(InvalidStoreURLError, match=f"no {cls.bucket_word}"):
        cls.from_url(f"{cls.scheme}://", storage_options=options)


def test_concurrency_from_environment(
    cloud: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudzarr.storage import AzureStore, GCSStore, S3Store

    cls: type[CloudStore] = {"s3": S3Store, "gcs": GCSStore, "azure": AzureStore}[cloud]
    monkeypatch.setenv(EXPECT[cloud].concurrency_env, "7")
    options = _options(cloud, request)
    assert cls("bkt", storage_options=options).limiter.size == 7
    assert cls("bkt", storage_options=options, concurrency=3).limiter.limit == 3


def test_unknown_option_is_refused_with_a_suggestion(
    cloud: str, request: pytest.FixtureRequest
) -> None:
    from cloudzarr.storage import AzureStore, GCSStore, S3Store

    cls: type[CloudStore] = {"s3": S3Store, "gcs": GCSStore, "azure": AzureStore}[cloud]
    typo, meant = {
        "s3": ("endpoint_ur", "endpoint_url"),
        "gcs": ("tokn", "token"),
        "azure": ("account_nam", "account_name"),
    }[cloud]
    with pytest.raises(InvalidStoreURLError, match=f"did you mean {meant!r}"):
        cls("bkt", storage_options={**_options(cloud, request), typo: "x"})


async def test_read_only_view_shares_the_counter(store: CloudStore, cloud: str) -> None:
    await store.set("k", b"v")
    view = store.with_read_only()
    store.requests.reset()
    assert await view.get("k") == b"v"
    assert store.requests.snapshot() == {EXPECT[cloud].get: 1}


async def test_one_store_on_two_event_loops(store: CloudStore) -> None:
    # The sync API runs on cloudzarr's background loop; this test runs on its own loop.
    await store.set("k", b"v")
    from_background = await asyncio.to_thread(sync, store.get("k"))
    assert from_background == b"v"
    assert await store.get("k") == b"v"


async def test_credentials_never_in_repr_or_errors(
    cloud: str, request: pytest.FixtureRequest
) -> None:
    from cloudzarr.storage import AzureStore, GCSStore, S3Store

    options = _options(cloud, request)
    if cloud == "s3":
        options["secret"] = SECRET
    elif cloud == "gcs":
        options["session_kwargs"] = {"headers": {"Authorization": f"Bearer {SECRET}"}}
    else:
        options["connection_string"] = options["connection_string"].replace(
            "AccountKey=", f"AccountKey={SECRET}"
        )
    cls: type[CloudStore] = {"s3": S3Store, "gcs": GCSStore, "azure": AzureStore}[cloud]
    store = cls("no-such-bucket-here", storage_options=options)
    assert SECRET not in repr(store)
    assert SECRET not in str(store)
    with pytest.raises(CloudzarrError) as info:
        await store.set("k", b"v")
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    await store.close()


async def test_s3_without_credentials_is_access_denied_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, s3_server: Any, s3_bucket: str, tmp_path: Any
) -> None:
    from cloudzarr.storage import S3Store

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    # No credential files, and no instance-metadata lookup (it would leave loopback).
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store(s3_bucket, storage_options={"endpoint_url": s3_server.endpoint_url})
    with pytest.raises(AccessDeniedError, match=rf"no S3 credentials.*{s3_bucket}.*key="):
        await store.get("k")


async def test_s3_profile_credentials_are_found(
    monkeypatch: pytest.MonkeyPatch, s3_server: Any, s3_bucket: str, tmp_path: Any
) -> None:
    from cloudzarr.storage import S3Store

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[lab]\naws_access_key_id = {s3_server.key}\naws_secret_access_key = {s3_server.secret}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    store = S3Store(
        s3_bucket,
        storage_options={"endpoint_url": s3_server.endpoint_url, "profile": "lab"},
    )
    await store.set("k", b"v")
    assert await store.get("k") == b"v"


async def test_azure_wrong_key_is_access_denied_without_the_key(
    azure_server: Any, azure_container: str
) -> None:
    from cloudzarr.storage import AzureStore

    wrong = "d3Jvbmcta2V5LXRoYXQtbXVzdC1uZXZlci1zaG93LWluLWFuLWVycm9yLW1lc3NhZ2U="
    for key in (wrong, "FAKESECRET-not-base64"):
        options = {
            "account_name": azure_server.account_name,
            "account_key": key,
            "account_host": azure_server.blob_endpoint,
        }
        store = AzureStore(azure_container, storage_options=options)
        assert key not in repr(store)
        with pytest.raises(AccessDeniedError, match=azure_container) as info:
            await store.get("k")
        assert key not in str(info.value)
        assert info.value.__cause__ is None


def test_azure_credential_must_be_a_key_or_an_identity_credential(
    azure_storage_options: dict[str, Any],
) -> None:
    from cloudzarr.errors import InvalidArgumentError
    from cloudzarr.storage import AzureStore

    with pytest.raises(InvalidArgumentError, match=r"credential=.*not object"):
        AzureStore("cont", storage_options={"account_name": "a", "credential": object()})
