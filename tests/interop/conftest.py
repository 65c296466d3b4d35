"""Fixtures of the interop tests: one fresh cloudzarr store per backend the adapter is tested on."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudzarr.storage import LocalStore, MemoryStore, Store

#: The backends the zarr-python and xarray round trips run on.
INTEROP_KINDS = ["memory", "local", "s3"]


def make_store(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Store:
    """A fresh, empty, writable cloudzarr store of ``kind``."""
    match kind:
        case "memory":
            return MemoryStore()
        case "local":
            return LocalStore(tmp_path / "store")
        case "s3":
            store: Store = request.getfixturevalue("s3_store")
            return store
    raise ValueError(f"unknown store kind {kind!r}")


@pytest.fixture(params=INTEROP_KINDS)
def cloudzarr_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh, empty, writable cloudzarr store of each interop backend in turn."""
    return make_store(request, request.param, tmp_path)


@pytest.fixture(params=["memory", "s3"])
def memory_or_s3_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh, empty, writable cloudzarr store in memory, then on S3."""
    return make_store(request, request.param, tmp_path)
