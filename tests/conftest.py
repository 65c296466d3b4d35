"""Fixtures shared by every test: one store of each backend, behind the ``any_store`` fixture."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from cloudzarr.storage import LocalStore, MemoryStore, Store
from cloudzarr.storage.fsspec import FsspecStore

#: Every backend the store-level and engine-level suites run on. Each name ``k`` is served by a
#: fixture ``k + "_store"`` that yields a fresh, empty, writable store.
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
