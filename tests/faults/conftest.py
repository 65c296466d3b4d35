"""Stores of each cloud reached through a fault proxy, and short timeouts for every fault test.

A fault test builds its stores with :class:`Cloud`: ``cloud.store()`` goes through the proxy
(``cloud.proxy``, faults as its ``plan`` says), ``cloud.clean_store()`` straight to the
emulator, for checking what the server really holds.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from cloudzarr.config import config
from cloudzarr.storage import Store
from cloudzarr.tools.faultproxy import FaultProxy
from moto_fixtures.servers import through

CLOUDS = ["s3", "gcs", "azure"]

#: Short timeouts and back-offs, so that a stall costs a second and not half a minute.
FAST = {
    "storage.connect_timeout": 1.0,
    "storage.request_timeout": 1.0,
    "storage.operation_timeout": 60.0,
    "storage.retries": 10,
    "storage.backoff_min": 0.005,
    "storage.backoff_max": 0.05,
}


@dataclass
class Cloud:
    """One cloud's emulator, a fresh bucket or container on it, and a fault proxy in front."""

    name: str
    server: Any
    bucket: str
    proxy: FaultProxy
    prefix: str = field(default_factory=lambda: f"root-{uuid.uuid4().hex[:8]}")
    _opened: list[Store] = field(default_factory=list)

    def _make(self, options: dict[str, Any], **kwargs: Any) -> Store:
        store: Store
        if self.name == "s3":
            from cloudzarr.storage.s3 import S3Store

            store = S3Store(self.bucket, self.prefix, storage_options=options, **kwargs)
        elif self.name == "gcs":
            from cloudzarr.storage.gcs import GCSStore

            store = GCSStore(self.bucket, self.prefix, storage_options=options, **kwargs)
        else:
            from cloudzarr.storage.azure import AzureStore

            store = AzureStore(self.bucket, self.prefix, storage_options=options, **kwargs)
        self._opened.append(store)
        return store

    def store(self, **kwargs: Any) -> Store:
        """A store reaching the emulator through the proxy."""
        return self._make(dict(through(self.server, self.proxy.url).storage_options), **kwargs)

    def clean_store(self) -> Store:
        """A store reaching the emulator directly (no faults)."""
        return self._make(dict(self.server.storage_options))

    async def close(self) -> None:
        for store in self._opened:
            await store.close()


@pytest.fixture(autouse=True)
def fast_timeouts() -> Iterator[None]:
    with config.set(FAST):
        yield


@pytest.fixture(params=CLOUDS)
async def cloud(request: pytest.FixtureRequest) -> AsyncIterator[Cloud]:
    """Each cloud in turn, with a fresh location and a fault proxy passing everything."""
    name = request.param
    location = "container" if name == "azure" else "bucket"
    server_fixture = f"{name}_server"
    item = Cloud(
        name,
        request.getfixturevalue(server_fixture),
        request.getfixturevalue(f"{name}_{location}"),
        request.getfixturevalue(f"{name}_fault_proxy"),
    )
    yield item
    item.proxy.plan = type(item.proxy.plan)()  # closing must not meet faults
    await item.close()


@pytest.fixture
async def s3_cloud(
    s3_server: Any, s3_bucket: str, s3_fault_proxy: FaultProxy
) -> AsyncIterator[Cloud]:
    """S3 only (for the measurements that need one cloud)."""
    item = Cloud("s3", s3_server, s3_bucket, s3_fault_proxy)
    yield item
    item.proxy.plan = type(item.proxy.plan)()
    await item.close()
