"""The embedded S3 server of ``cloudzarr demo`` and ``cloudzarr bench``, and the process
handling shared with the test emulators (:mod:`moto_fixtures.servers` builds on it).

:func:`run_moto_server` starts moto's S3 server as a subprocess on a free loopback port, polls it
until it answers (no fixed sleeps), yields an :class:`S3Server`, and on exit kills its whole
process group. If the server exits or does not answer in time, the error carries its log.

The credentials below are moto's conventional test values; they are never printed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

#: moto accepts any credentials; these are the conventional test values.
S3_TEST_KEY = "testing"
S3_TEST_SECRET = "testing"
S3_TEST_REGION = "us-east-1"

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


# --- the S3 server ----------------------------------------------------------------------------


@contextlib.contextmanager
def run_moto_server(port: int | None = None) -> Iterator[S3Server]:
    """Run moto's S3 server on 127.0.0.1 and yield an :class:`S3Server`.

    Parameters
    ----------
    port
        The port to listen on; a free one by default.
    """
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "cloudzarr.tools._moto_main",
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    with _run_process("moto server", command, f"{url}/moto-api/"):
        yield S3Server(endpoint_url=url)
