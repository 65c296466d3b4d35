"""Fixtures shared by every test: one store of each backend, behind the ``any_store`` fixture,
and ``cas_workers``, which runs separate processes for the cross-process compare-and-swap tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from cloudzarr.storage import LocalStore, MemoryStore, Store
from cloudzarr.storage.fsspec import FsspecStore

#: The emulator fixtures (s3_server, s3_store...): the project's own plugin, not an installed one.
#: An environment installed before it stopped being a ``pytest11`` entry point has loaded it
#: already (registering it twice would be refused); ``-p no:moto_fixtures`` runs as without.
pytest_plugins = [] if "moto_fixtures.plugin" in sys.modules else ["moto_fixtures.plugin"]

#: Every backend the store-level and engine-level suites run on. Each name ``k`` is served by a
#: fixture ``k + "_store"`` that yields a fresh, empty, writable store.
#: Runs ``tests/cas_worker.py`` once per argv (see :func:`cas_workers`).
CasWorkers = Callable[[list[list[str]], dict[str, Any] | None], Awaitable[list[dict[str, Any]]]]

STORE_KINDS = ["memory", "local", "fsspec_memory", "fsspec_local", "s3", "gcs", "azure"]


@pytest.fixture(params=STORE_KINDS)
def any_store(request: pytest.FixtureRequest) -> Store:
    """A fresh, empty, writable store of each backend in turn."""
    store: Store = request.getfixturevalue(f"{request.param}_store")
    return store


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    # The root does not exist yet: the first write must create it.
    return LocalStore(tmp_path / "store")


@pytest.fixture
def fsspec_memory_store() -> Iterator[FsspecStore]:
    # fsspec's memory filesystem is one process-wide dict: a unique root isolates each test.
    fs = fsspec.filesystem("memory")
    root = f"/cloudzarr-test-{uuid.uuid4().hex}"
    yield FsspecStore(fs, root)
    with contextlib.suppress(FileNotFoundError):
        fs.rm(root, recursive=True)


@pytest.fixture
def fsspec_local_store(tmp_path: Path) -> FsspecStore:
    return FsspecStore(fsspec.filesystem("file"), str(tmp_path / "fsspec-store"))


async def _run_cas_workers(
    argvs: list[list[str]], options: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    # The workers import the cloudzarr under test (this checkout), not whichever one the
    # interpreter's site-packages points at.
    root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).parent / "cas_worker.py"),
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for argv in argvs
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"ready"
    # Every worker is ready before any starts; the options go on stdin, never on a command line.
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(options or {}).encode() + b"\n")
        await proc.stdin.drain()
    reports = []
    for proc in procs:
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        reports.append(json.loads(out))
    return reports


@pytest.fixture
def cas_workers() -> CasWorkers:
    """Run ``tests/cas_worker.py`` once per argv, started together (each handed the storage
    options), and return their JSON reports."""
    return _run_cas_workers
