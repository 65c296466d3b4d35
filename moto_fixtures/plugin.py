"""Pytest plugin: session-scoped emulators on 127.0.0.1 and a fresh bucket or container per test.

Registered by ``tests/conftest.py`` (``pytest_plugins``), so every test of the project
can ask for:

- servers (session): ``s3_server``, ``gcs_server``, ``azure_server``;
- options (per test): ``s3_storage_options``, ``gcs_storage_options``, ``azure_storage_options``;
- fresh empty locations (per test): ``s3_bucket``, ``gcs_bucket``, ``azure_container``;
- fresh empty writable stores (per test): ``s3_store``, ``gcs_store``, ``azure_store``;
- a fault-injecting proxy in front of each server (per test, passing everything until the test
  sets its ``plan``): ``s3_fault_proxy``, ``gcs_fault_proxy``, ``azure_fault_proxy``
  (:class:`~cloudzarr.tools.faultproxy.FaultProxy`; reach the server through it with
  ``moto_fixtures.servers.through(server, proxy.url).storage_options``).

The servers start lazily: a test run that never asks for S3 never starts moto.
"""

from __future__ import annotations

import os

# gcsfs probes for hierarchical-namespace buckets over gRPC on first use unless this is set before
# it is imported; against an emulator that probe waits 60 s to time out.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from moto_fixtures.servers import (
    AzureServer,
    GCSServer,
    S3Server,
    host_port,
    run_azurite,
    run_fake_gcs_server,
    run_moto_server,
)

if TYPE_CHECKING:
    from cloudzarr.tools.faultproxy import FaultProxy


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server for the whole session (``.endpoint_url``, ``.storage_options``)."""
    with run_moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GCSServer]:
    """A fake-gcs-server for the whole session (``.endpoint_url``, ``.storage_options``)."""
    with run_fake_gcs_server() as server:
        yield server


@pytest.fixture(scope="session")
def azure_server() -> Iterator[AzureServer]:
    """An Azurite blob service for the whole session (``.connection_string``...)."""
    with run_azurite() as server:
        yield server


@pytest.fixture
def s3_storage_options(s3_server: S3Server) -> dict[str, Any]:
    """s3fs options reaching the moto server (a fresh dict per test)."""
    return dict(s3_server.storage_options)


@pytest.fixture
def gcs_storage_options(gcs_server: GCSServer) -> dict[str, Any]:
    """gcsfs options reaching fake-gcs-server (a fresh dict per test)."""
    return dict(gcs_server.storage_options)


@pytest.fixture
def azure_storage_options(azure_server: AzureServer) -> dict[str, Any]:
    """adlfs options reaching Azurite (a fresh dict per test)."""
    return dict(azure_server.storage_options)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """The name of a new, empty bucket on the moto server."""
    return s3_server.create_bucket()


@pytest.fixture
def gcs_bucket(gcs_server: GCSServer) -> str:
    """The name of a new, empty bucket on fake-gcs-server."""
    return gcs_server.create_bucket()


@pytest.fixture
def azure_container(azure_server: AzureServer) -> str:
    """The name of a new, empty container on Azurite."""
    return azure_server.create_container()


@pytest.fixture
async def s3_store(s3_bucket: str, s3_storage_options: dict[str, Any]) -> AsyncIterator[Any]:
    """A fresh, empty, writable :class:`~cloudzarr.storage.s3.S3Store` under a prefix."""
    from cloudzarr.storage.s3 import S3Store

    store = S3Store(s3_bucket, "root", storage_options=s3_storage_options)
    yield store
    await store.close()


@pytest.fixture
async def gcs_store(gcs_bucket: str, gcs_storage_options: dict[str, Any]) -> AsyncIterator[Any]:
    """A fresh, empty, writable :class:`~cloudzarr.storage.gcs.GCSStore` under a prefix."""
    from cloudzarr.storage.gcs import GCSStore

    store = GCSStore(gcs_bucket, "root", storage_options=gcs_storage_options)
    yield store
    await store.close()


@pytest.fixture
async def azure_store(
    azure_container: str, azure_storage_options: dict[str, Any]
) -> AsyncIterator[Any]:
    """A fresh, empty, writable :class:`~cloudzarr.storage.azure.AzureStore` under a prefix."""
    from cloudzarr.storage.azure import AzureStore

    store = AzureStore(azure_container, "root", storage_options=azure_storage_options)
    yield store
    await store.close()


def _fault_proxy(url: str, flavour: Any) -> Iterator[FaultProxy]:
    from cloudzarr.tools.faultproxy import run_fault_proxy

    host, port = host_port(url)
    with run_fault_proxy(host, port, flavour=flavour) as proxy:
        yield proxy


@pytest.fixture
def s3_fault_proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    """A fault proxy in front of the moto server (no faults until the test sets ``plan``)."""
    yield from _fault_proxy(s3_server.endpoint_url, "s3")


@pytest.fixture
def gcs_fault_proxy(gcs_server: GCSServer) -> Iterator[FaultProxy]:
    """A fault proxy in front of fake-gcs-server (no faults until the test sets ``plan``)."""
    yield from _fault_proxy(gcs_server.endpoint_url, "gcs")


@pytest.fixture
def azure_fault_proxy(azure_server: AzureServer) -> Iterator[FaultProxy]:
    """A fault proxy in front of Azurite (no faults until the test sets ``plan``)."""
    yield from _fault_proxy(azure_server.blob_endpoint, "azure")
