"""The request layer on the wire: retries, typed errors, timeouts, lost responses, throttling,
radosgw's ETag quirk. A scripted proxy (wire_proxy.py) sits between each cloud store and its
real emulator and misbehaves on purpose; nothing in the client is patched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from cloudzarr.config import config
from cloudzarr.errors import (
    AccessDeniedError,
    ConnectionResetStoreError,
    StoreTimeoutError,
    ThrottledError,
    TransientStoreError,
    UnsupportedError,
)
from cloudzarr.storage.cloud import CloudStore
from tests.storage.wire_proxy import WireProxy, is_get, is_put, run_wire_proxy

CLOUDS = ("s3", "gcs", "azure")
RETRIES = 3
PUT = {"s3": "PutObject", "gcs": "POST upload", "azure": "PutBlob"}
GET = {"s3": "GetObject", "gcs": "GET object", "azure": "GetBlob"}
HEAD = {"s3": "HeadObject", "gcs": "GET metadata", "azure": "GetBlobProperties"}


@pytest.fixture(params=CLOUDS)
def cloud(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fast_policy() -> Iterator[None]:
    settings = {"storage.retries": RETRIES, "storage.backoff_min": 0.001}
    with config.set({**settings, "storage.backoff_max": 0.01}):
        yield


@pytest.fixture
def proxy(cloud: str, request: pytest.FixtureRequest) -> Iterator[WireProxy]:
    server = request.getfixturevalue(f"{cloud}_server")
    upstream = server.blob_endpoint.rsplit("/", 1)[0] if cloud == "azure" else server.endpoint_url
    with run_wire_proxy(upstream) as running:
        yield running


def _through(
    cloud: str,
    proxy: WireProxy,
    request: pytest.FixtureRequest,
    extra: dict[str, Any] | None = None,
    **kw: Any,
) -> Any:
    from cloudzarr.storage import AzureStore, GCSStore, S3Store

    server = request.getfixturevalue(f"{cloud}_server")
    if cloud == "s3":
        options = {**server.storage_options, "endpoint_url": proxy.url, **(extra or {})}
        return S3Store(request.getfixturevalue("s3_bucket"), "root", storage_options=options, **kw)
    if cloud == "gcs":
        options = {**server.storage_options, "endpoint_url": proxy.url, **(extra or {})}
        bucket = request.getfixturevalue("gcs_bucket")
        return GCSStore(bucket, "root", storage_options=options, **kw)
    endpoint = f"{proxy.url}/{server.account_name}"
    options = {
        "connection_string": server.connection_string.replace(server.blob_endpoint, endpoint)
    }
    container = request.getfixturevalue("azure_container")
    return AzureStore(container, "root", storage_options=options, **kw)


@pytest.fixture
async def store(
    cloud: str, proxy: WireProxy, fast_policy: None, request: pytest.FixtureRequest
) -> AsyncIterator[CloudStore]:
    result: CloudStore = _through(cloud, proxy, request)
    yield result
    await result.close()


async def test_server_error_then_success_is_retried(
    store: CloudStore, proxy: WireProxy, cloud: str
) -> None:
    await store.set("k", b"value")
    proxy.add(is_get, ("status", 500, b"<Error><Code>InternalError</Code></Error>"))
    store.requests.reset()
    assert await store.get("k") == b"value"
    assert store.requests.snapshot() == {GET[cloud]: 2}


@pytest.mark.parametrize("fault", ["reset", "truncate"])
async def test_reset_or_truncated_body_is_retried(
    store: CloudStore, proxy: WireProxy, cloud: str, fault: str
) -> None:
    value = bytes(range(256)) * 64
    await store.set("k", value)
    proxy.add(is_get, fault)
    store.requests.reset()
    assert await store.get("k") == value
    assert store.requests.snapshot() == {GET[cloud]: 2}


async def test_throttling_exhausts_into_a_typed_error_and_shrinks_the_limiter(
    store: CloudStore, proxy: WireProxy, cloud: str
) -> None:
    await store.set("k", b"v")
    body = b"<Error><Code>SlowDown</Code></Error>"
    proxy.add(is_get, ("status", 503, body), times=100)
    store.requests.reset()
    with pytest.raises(ThrottledError) as info:
        await store.get("k")
    message = str(info.value)
    assert GET[cloud].split()[-1] in message or "GET" in message
    assert "root/k" in message
    assert f"all {RETRIES + 1} attempts" in message
    assert store.requests.snapshot() == {GET[cloud]: RETRIES + 1}
    assert store.limiter.limit < store.limiter.size
    # Successes grow it back, one slot per window.
    proxy.clear()
    before = store.limiter.limit
    for _ in range(4 * before):
        await store.get("k")
    assert store.limiter.limit > before


async def test_reset_exhausts_into_a_connection_error(
    store: CloudStore, proxy: WireProxy, cloud: str
) -> None:
    await store.set("k", b"v")
    proxy.add(is_get, "reset", times=100)
    store.requests.reset()
    with pytest.raises(ConnectionResetStoreError, match="root/k"):
        await store.get("k")
    assert store.requests.snapshot() == {GET[cloud]: RETRIES + 1}


async def test_a_stalled_endpoint_times_out_within_bounds(
    cloud: str, proxy: WireProxy, fast_policy: None, request: pytest.FixtureRequest
) -> None:
    store = _through(cloud, proxy, request, request_timeout=0.3)
    await store.set("k", b"v")
    proxy.add(is_get, "stall", times=100)
    store.requests.reset()
    began = time.monotonic()
    with pytest.raises(StoreTimeoutError, match="timed out"):
        await store.get("k")
    elapsed = time.monotonic() - began
    assert store.requests.snapshot() == {GET[cloud]: RETRIES + 1}
    # Four attempts of 0.3 s plus at most 10 ms backoff each; generous for a loaded machine.
    assert 4 * 0.3 <= elapsed < 4 * 0.3 + 5
    await store.close()


async def test_access_denied_is_not_retried(
    store: CloudStore, proxy: WireProxy, cloud: str
) -> None:
    proxy.add(is_get, ("status", 403, b"<Error><Code>AccessDenied</Code></Error>"))
    with pytest.raises(AccessDeniedError, match="root/k"):
        await store.get("k")
    assert store.requests.snapshot() == {GET[cloud]: 1}


async def test_lost_response_on_create_resolves_to_true_by_the_write_token(
    store: CloudStore, proxy: WireProxy, cloud: str
) -> None:
    # The first create reaches the server and is applied; its answer is lost. The resend is
    # refused (412): the key's write token is ours, so the creator is told True.
    proxy.add(is_put, "lost")
    assert await store.set_if_not_exists("g/zarr.json", b"mine") is True
    assert store.requests.snapshot() == {PUT[cloud]: 2, HEAD[cloud]: 1}
    assert await store.get("g/zarr.json") == b"mine"


async def test_lost_request_on_create_of_an_existing_key_is_false(
    store: CloudStore, proxy: WireProxy, cloud: str
) -> None:
    await store.set_if_not_exists("g/zarr.json", b"theirs")
    store.requests.reset()
    proxy.add(is_put, "reset")
    assert await store.set_if_not_exists("g/zarr.json", b"mine") is False
    assert store.requests.snapshot() == {PUT[cloud]: 2, HEAD[cloud]: 1}
    assert await store.get("g/zarr.json") == b"theirs"


async def test_lost_response_on_swap_resolves_to_true(
    store: CloudStore, proxy: WireProxy, cloud: str
) -> None:
    await store.set("k", b"v1")
    got = await store.get_with_version("k")
    assert got is not None
    proxy.add(is_put, "lost")
    assert await store.set_if_version("k", b"v2", got[1]) is True
    assert await store.get("k") == b"v2"


async def test_32_creators_with_lost_responses_get_exactly_one_true(
    store: CloudStore, proxy: WireProxy
) -> None:
    proxy.add(is_put, "lost", times=8)
    results = await asyncio.gather(
        *(store.set_if_not_exists("race/zarr.json", b"%d" % i) for i in range(32))
    )
    assert results.count(True) == 1
    assert await store.get("race/zarr.json") == b"%d" % results.index(True)


async def test_server_without_conditional_writes_is_unsupported_at_once(
    store: CloudStore, proxy: WireProxy, cloud: str
) -> None:
    body = b"<Error><Code>NotImplemented</Code></Error>"
    proxy.add(is_put, ("status", 501, body))
    with pytest.raises((UnsupportedError, TransientStoreError)) as info:
        await store.set_if_not_exists("k", b"v")
    assert isinstance(info.value, UnsupportedError)
    assert store.requests.snapshot() == {PUT[cloud]: 1}


async def test_hedged_get_answers_from_the_faster_request(
    cloud: str, proxy: WireProxy, fast_policy: None, request: pytest.FixtureRequest
) -> None:
    store = _through(cloud, proxy, request, hedge=True)
    await store.set("k", b"v")
    for _ in range(60):  # a latency history for the p95
        await store.get("k")
    assert store.hedging is not None
    # Within the budget: at most 5 % of GETs were hedged.
    assert store.hedging.hedges <= 0.05 * store.hedging.gets
    hedges, wins = store.hedging.hedges, store.hedging.hedge_wins
    # The warm-up may have spent the budget on loopback jitter; this GET must be allowed one.
    store.hedging.budget = 1.0
    proxy.add(is_get, "stall")
    store.requests.reset()
    assert await store.get("k") == b"v"
    assert store.hedging.hedges == hedges + 1
    assert store.hedging.hedge_wins == wins + 1
    assert store.requests.snapshot() == {GET[cloud]: 2}
    await store.close()


def _quoted_if_match(request: Any) -> bool:
    value = request.headers.get("If-Match", "")
    return request.method == "PUT" and value.startswith('"')


async def test_radosgw_quoted_etag_refusal_is_handled_and_remembered(
    s3_server: Any, fast_policy: None, request: pytest.FixtureRequest
) -> None:
    # radosgw refuses If-Match with the quoted ETag S3 returns, accepting the unquoted one.
    with run_wire_proxy(s3_server.endpoint_url) as radosgw_like:
        radosgw_like.add(_quoted_if_match, ("status", 412, b"<Error/>"), times=1000)
        store = _through("s3", radosgw_like, request)
        await store.set("k", b"v1")
        got = await store.get_with_version("k")
        assert got is not None and got[1].startswith('"')
        store.requests.reset()
        assert await store.set_if_version("k", b"v2", got[1]) is True
        assert store.requests.snapshot() == {"PutObject": 2}  # quoted refused, unquoted taken
        got = await store.get_with_version("k")
        assert got is not None
        store.requests.reset()
        assert await store.set_if_version("k", b"v3", got[1]) is True
        assert store.requests.snapshot() == {"PutObject": 1}  # remembered: unquoted at once
        # A stale version is still refused.
        assert await store.set_if_version("k", b"v4", got[1]) is False
        assert await store.get("k") == b"v3"


async def test_the_operation_timeout_caps_all_attempts(
    s3_server: Any, request: pytest.FixtureRequest
) -> None:
    settings = {"storage.retries": 50, "storage.backoff_min": 0.001, "storage.backoff_max": 0.01}
    with (
        config.set({**settings, "storage.operation_timeout": 1.0}),
        run_wire_proxy(s3_server.endpoint_url) as stalled,
    ):
        store = _through("s3", stalled, request, request_timeout=0.4)
        await store.set("k", b"v")
        stalled.add(is_get, "stall", times=100)
        store.requests.reset()
        began = time.monotonic()
        with pytest.raises(StoreTimeoutError, match="operation_timeout=1 s"):
            await store.get("k")
        elapsed = time.monotonic() - began
        # Attempts of 0.4 s until the 1 s budget is spent (the last one cut to what is left):
        # 3 on an idle machine, 2 if scheduling delays push the second past the budget.
        assert store.requests.snapshot()["GetObject"] in (2, 3)
        assert 1.0 <= elapsed < 1.0 + 3


@pytest.mark.parametrize("cloud", ["s3", "gcs"], indirect=True)  # Azure has no requester-pays
async def test_requester_pays_is_sent(
    cloud: str, proxy: WireProxy, fast_policy: None, request: pytest.FixtureRequest
) -> None:
    payer = True if cloud == "s3" else "billing-project"
    store = _through(cloud, proxy, request, {"requester_pays": payer})
    await store.set("k", b"v")
    assert await store.get("k") == b"v"
    for _method, path_qs, headers in proxy.seen:
        if cloud == "s3":
            assert {k.lower(): v for k, v in headers.items()}["x-amz-request-payer"] == "requester"
        else:
            assert "userProject=billing-project" in path_qs
    await store.close()


async def test_s3_anonymous_access_sends_no_signature(
    s3_server: Any, proxy_s3: WireProxy, request: pytest.FixtureRequest
) -> None:
    from cloudzarr.storage import S3Store

    writer = _through("s3", proxy_s3, request)
    await writer.set("public", b"open")
    bucket = request.getfixturevalue("s3_bucket")
    s3_server.client().put_object_acl(Bucket=bucket, Key="root/public", ACL="public-read")
    proxy_s3.clear()
    anonymous = S3Store(
        bucket,
        "root",
        storage_options={"endpoint_url": proxy_s3.url, "anon": True},
    )
    assert await anonymous.get("public") == b"open"  # moto does not enforce authentication
    assert proxy_s3.seen
    assert all("authorization" not in {k.lower() for k in h} for _, _, h in proxy_s3.seen)


@pytest.fixture
def proxy_s3(s3_server: Any) -> Iterator[WireProxy]:
    with run_wire_proxy(s3_server.endpoint_url) as running:
        yield running


async def test_radosgw_cancelled_swap_then_refusal_is_a_plain_false(
    s3_server: Any, fast_policy: None, request: pytest.FixtureRequest
) -> None:
    # radosgw answers a conditional PUT that lost a race inside the server with HTTP 500
    # UnknownError, not applied. The resend's 412 is then definitive: False, not ambiguous.
    with run_wire_proxy(s3_server.endpoint_url) as radosgw_like:
        store = _through("s3", radosgw_like, request)
        await store.set("k", b"v0")
        got = await store.get_with_version("k")
        assert got is not None
        # A first swap teaches the store its server's ETag form (no unquoted probe below).
        assert await store.set_if_version("k", b"v1", got[1]) is True
        got = await store.get_with_version("k")
        assert got is not None
        await store.set("k", b"v2")  # another writer, meanwhile
        body = b"<Error><Code>UnknownError</Code><Message></Message></Error>"
        radosgw_like.add(is_put, ("status", 500, body))
        store.requests.reset()
        assert await store.set_if_version("k", b"mine", got[1]) is False
        assert store.requests.snapshot() == {"PutObject": 2}
        assert await store.get("k") == b"v2"
