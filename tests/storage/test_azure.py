"""AzureStore on a real Azurite: exact HTTP request counts, errors, pickling, fresh listings.

Counts are the Azure REST operations seen by the SDK's ``raw_request_hook``: ``GetBlob``,
``GetBlobProperties``, ``PutBlob``, ``DeleteBlob``, ``ListBlobs``, ``BlobBatch``.
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
    AzureStore,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from moto_fixtures.servers import AzureServer

WRONG_KEY = "d3Jvbmcta2V5LXRoYXQtbXVzdC1uZXZlci1zaG93LWluLWFuLWVycm9yLW1lc3NhZ2U="


async def test_get_is_one_request(azure_store: AzureStore) -> None:
    await azure_store.set("k", b"0123456789")
    azure_store.requests.reset()
    assert await azure_store.get("k") == b"0123456789"
    assert azure_store.requests.snapshot() == {"GetBlob": 1}


@pytest.mark.parametrize(
    ("byte_range", "expected"),
    [
        (RangeByteRequest(2, 5), b"234"),
        (OffsetByteRequest(7), b"789"),
        (RangeByteRequest(8, 30), b"89"),
        (RangeByteRequest(20, 30), b""),
    ],
)
async def test_range_get_is_one_request(
    azure_store: AzureStore, byte_range: Any, expected: bytes
) -> None:
    await azure_store.set("k", b"0123456789")
    azure_store.requests.reset()
    assert await azure_store.get("k", byte_range) == expected
    assert azure_store.requests.snapshot() == {"GetBlob": 1}


@pytest.mark.parametrize(
    ("suffix", "expected"), [(4, b"6789"), (10, b"0123456789"), (40, b"0123456789")]
)
async def test_suffix_is_size_then_range(
    azure_store: AzureStore, suffix: int, expected: bytes
) -> None:
    # Azure Blob has no suffix ranges: one request for the size, one for the bytes.
    assert azure_store.supports_suffix_ranges is False
    await azure_store.set("k", b"0123456789")
    azure_store.requests.reset()
    assert await azure_store.get("k", SuffixByteRequest(suffix)) == expected
    assert azure_store.requests.snapshot() == {"GetBlobProperties": 1, "GetBlob": 1}


async def test_suffix_of_missing_blob_is_one_request(azure_store: AzureStore) -> None:
    assert await azure_store.get("nope", SuffixByteRequest(3)) is None
    assert azure_store.requests.snapshot() == {"GetBlobProperties": 1}


async def test_create_is_one_conditional_request(azure_store: AzureStore) -> None:
    assert await azure_store.set_if_not_exists("zarr.json", b"a") is True
    assert azure_store.requests.snapshot() == {"PutBlob": 1}
    azure_store.requests.reset()
    assert await azure_store.set_if_not_exists("zarr.json", b"b") is False
    assert azure_store.requests.snapshot() == {"PutBlob": 1}
    assert await azure_store.get("zarr.json") == b"a"


async def test_32_concurrent_creators_one_winner(azure_store: AzureStore) -> None:
    results = await asyncio.gather(
        *(azure_store.set_if_not_exists("g/zarr.json", b"%d" % i) for i in range(32))
    )
    assert results.count(True) == 1
    assert azure_store.requests.snapshot() == {"PutBlob": 32}
    assert await azure_store.get("g/zarr.json") == b"%d" % results.index(True)


async def test_exists_getsize_delete_are_one_request_each(azure_store: AzureStore) -> None:
    await azure_store.set("k", b"abc")
    azure_store.requests.reset()
    assert await azure_store.exists("k")
    assert await azure_store.getsize("k") == 3
    await azure_store.delete("k")
    assert azure_store.requests.snapshot() == {"GetBlobProperties": 2, "DeleteBlob": 1}


async def test_list_dir_is_one_request_per_5000_children(azure_store: AzureStore) -> None:
    # Azurite writes slowly (about 15 ms a blob), so 300 children stand in for 1,100: both fit
    # in one 5,000-entry page.
    await azure_store.set_many({f"dir/p{i:04d}/k": b"x" for i in range(300)})
    azure_store.requests.reset()
    names = [n async for n in azure_store.list_dir("dir")]
    assert names == [f"p{i:04d}" for i in range(300)]
    assert azure_store.requests.snapshot() == {"ListBlobs": 1}


async def test_delete_dir_falls_back_to_single_deletes_on_azurite(
    azure_store: AzureStore,
) -> None:
    await azure_store.set_many({f"dir/k{i:04d}": b"x" for i in range(300)})
    await azure_store.set("dir-sibling", b"kept")
    azure_store.requests.reset()
    await azure_store.delete_dir("dir")
    # Azurite (< 3.37) rejects the SDK's batch: one BlobBatch is tried, then each blob is
    # deleted on its own and the store sends no further batches.
    assert azure_store.requests.snapshot() == {"ListBlobs": 1, "BlobBatch": 1, "DeleteBlob": 300}
    assert [k async for k in azure_store.list()] == ["dir-sibling"]


async def test_listing_is_never_stale(azure_store: AzureStore) -> None:
    await azure_store.set("a/x", b"1")
    assert [n async for n in azure_store.list_dir("a")] == ["x"]
    await azure_store.set("a/y", b"2")
    assert [n async for n in azure_store.list_dir("a")] == ["x", "y"]
    await azure_store.delete("a/x")
    assert [k async for k in azure_store.list_prefix("a")] == ["a/y"]


async def test_missing_container_names_container_and_key(
    azure_storage_options: dict[str, Any],
) -> None:
    store = AzureStore("no-such-container", "p", storage_options=azure_storage_options)
    try:
        with pytest.raises(StoreNotFoundError, match="no-such-container") as info:
            await store.get("some/key")
        assert "p/some/key" in str(info.value)
        with pytest.raises(StoreNotFoundError):
            await store.set("k", b"x")
        with pytest.raises(StoreNotFoundError):
            [n async for n in store.list_dir("")]
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("key", "reason"),
    [(WRONG_KEY, "AuthorizationFailure"), ("FAKESECRET-not-base64", "AzureSigningError")],
)
async def test_wrong_key_is_access_denied_without_the_key(
    azure_server: AzureServer, azure_container: str, key: str, reason: str
) -> None:
    options = {
        "account_name": azure_server.account_name,
        "account_key": key,
        "account_host": azure_server.blob_endpoint,
    }
    store = AzureStore(azure_container, storage_options=options)
    try:
        assert key not in repr(store)
        with pytest.raises(AccessDeniedError, match=azure_container) as info:
            await store.get("k")
        # The message says why (a key that is not base64 fails before any request and once
        # read "access denied by Azure (None)").
        assert f"access denied by Azure ({reason})" in str(info.value)
        assert key not in str(info.value)
        assert key not in repr(info.value)
        assert info.value.__cause__ is None
    finally:
        await store.close()


async def test_connection_string_never_in_repr(azure_store: AzureStore) -> None:
    assert "AccountKey" not in repr(azure_store)
    assert repr(azure_store).startswith("AzureStore('az://")


async def test_pickle_rebuilds_by_configuration(azure_store: AzureStore) -> None:
    await azure_store.set("k", b"v")
    clone = pickle.loads(pickle.dumps(azure_store))
    assert clone == azure_store
    assert clone.requests.total == 0
    try:
        assert await clone.get("k") == b"v"
        assert clone.requests.snapshot() == {"GetBlob": 1}
    finally:
        await clone.close()


def test_from_url_matches_constructor(azure_storage_options: dict[str, Any]) -> None:
    for url in ("az://cont/a/b", "abfs://cont/a/b", "abfs://cont@acct.dfs.core.windows.net/a/b"):
        store = AzureStore.from_url(url, storage_options=azure_storage_options)
        assert store == AzureStore("cont", "a/b", storage_options=azure_storage_options)


def test_concurrency_from_environment(
    monkeypatch: pytest.MonkeyPatch, azure_storage_options: dict[str, Any]
) -> None:
    monkeypatch.setenv("CLOUDZARR_AZURE_CONCURRENCY", "9")
    assert AzureStore("cont", storage_options=azure_storage_options).limiter.size == 9


async def test_blob_above_the_sdk_chunk_size_is_one_request(azure_store: AzureStore) -> None:
    # The SDK would read 32 MiB per request; the store raises that to 1 GiB.
    value = bytes(range(256)) * (40 * 4096)  # 40 MiB
    await azure_store.set("big", value)
    azure_store.requests.reset()
    assert await azure_store.get("big") == value
    assert azure_store.requests.snapshot() == {"GetBlob": 1}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(404, "ContainerNotFound", StoreNotFoundError), (403, "AuthenticationFailed",
      AccessDeniedError), (412, "ConditionNotMet", PreconditionFailedError),
     (503, "ServerBusy", ThrottledError)],
)  # fmt: skip
def test_error_mapping_names_container_and_blob(
    status: int, code: str, expected: type[Exception], azure_storage_options: dict[str, Any]
) -> None:
    from azure.core.exceptions import HttpResponseError

    store = AzureStore("cont", "pre", storage_options=azure_storage_options)
    exc = HttpResponseError(message=f"server says {WRONG_KEY}")
    exc.status_code = status
    exc.error_code = code
    error = store._map_error(exc, "a/b", "GetBlob")
    assert isinstance(error, expected)
    assert "az://cont/pre/a/b" in str(error)
    assert WRONG_KEY not in str(error)
