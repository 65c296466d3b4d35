"""Connections of the cloud stores: one client per configuration, no descriptor growth over many
open/drop cycles, nothing printed at interpreter exit (checked in fresh subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from cloudzarr.storage.cloud import CloudStore
from cloudzarr.storage.transport import client_count
from cloudzarr.sync import sync

CLOUDS = ("s3", "gcs", "azure")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=CLOUDS)
def cloud(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _make(cloud: str, request: pytest.FixtureRequest) -> CloudStore:
    from cloudzarr.storage import AzureStore, GCSStore, S3Store

    cls: type[CloudStore] = {"s3": S3Store, "gcs": GCSStore, "azure": AzureStore}[cloud]
    bucket = request.getfixturevalue("azure_container" if cloud == "azure" else f"{cloud}_bucket")
    options = request.getfixturevalue(f"{cloud}_storage_options")
    return cls(bucket, "root", storage_options=dict(options))


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_300_open_drop_cycles_keep_descriptors_and_clients_flat(
    cloud: str, request: pytest.FixtureRequest
) -> None:
    first = _make(cloud, request)
    sync(first.set("k", b"v"))
    for _ in range(20):  # warm the pool
        assert sync(_make(cloud, request).get("k")) == b"v"
    clients, descriptors = client_count(), _open_descriptors()
    for _ in range(300):
        store = _make(cloud, request)
        assert sync(store.get("k")) == b"v"
        del store
    assert client_count() == clients
    # A few descriptors of slack: pooled connections may be replaced, never accumulated.
    assert _open_descriptors() <= descriptors + 4


_EXIT_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from cloudzarr.storage import open_store
    from cloudzarr.sync import sync

    url, options = sys.argv[1], eval(sys.argv[2])
    store = open_store(url, storage_options=options)
    sync(store.set("k", b"v"))
    assert sync(store.get("k")) == b"v"

    async def on_a_user_loop():
        other = open_store(url, storage_options=options)
        assert await other.get("k") == b"v"

    asyncio.run(on_a_user_loop())
    print("done")
    """
)


def test_nothing_is_printed_at_interpreter_exit(cloud: str, request: pytest.FixtureRequest) -> None:
    store = _make(cloud, request)
    options: dict[str, Any] = dict(store._options)
    url = f"{store.url}/exit"
    # Without gcsfs's opt-out variable: the store never triggers gcsfs's bucket probes.
    env = {k: v for k, v in os.environ.items() if k != "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"}
    env["PYTHONPATH"] = str(ROOT)
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-c", _EXIT_SCRIPT, url, repr(options)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=ROOT,
            check=False,
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, "done\n", "")


def test_importing_cloudzarr_loads_no_cloud_library() -> None:
    code = (
        "import sys, cloudzarr, cloudzarr.storage; "
        "print(sorted(m for m in ('obstore', 'gcsfs', 'botocore', 'azure', 's3fs') "
        "if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"


def test_opening_a_gcs_store_sets_no_environment_variable(
    request: pytest.FixtureRequest,
) -> None:
    code = (
        "import os; from cloudzarr.storage import GCSStore; "
        "GCSStore('b', storage_options={'token': 'anon'}); "
        "print(os.environ.get('GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "None"
