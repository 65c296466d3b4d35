"""FsspecStore over fsspec's memory and local filesystems (and one without atomic create)."""

from __future__ import annotations

import asyncio
import pickle
import threading
import uuid
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper
from fsspec.implementations.dirfs import DirFileSystem

from cloudzarr.errors import UnsupportedError
from cloudzarr.storage import FsspecStore, SuffixByteRequest
from cloudzarr.sync import sync


def _memory_store() -> FsspecStore:
    return FsspecStore(fsspec.filesystem("memory"), f"/t-{uuid.uuid4().hex}")


async def test_memory_and_local_have_atomic_create(
    fsspec_memory_store: FsspecStore, fsspec_local_store: FsspecStore
) -> None:
    for store in (fsspec_memory_store, fsspec_local_store):
        assert store.supports_atomic_create is True
        results = await asyncio.gather(
            *(store.set_if_not_exists("x/zarr.json", b"%d" % i) for i in range(32))
        )
        assert results.count(True) == 1
        assert await store.get("x/zarr.json") == b"%d" % results.index(True)


def test_memory_create_is_atomic_across_threads() -> None:
    # Two event loops on two threads share fsspec's one in-process memory filesystem.
    store = _memory_store()
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def create(i: int) -> None:
        barrier.wait()
        results.append(asyncio.run(store.set_if_not_exists("k", b"%d" % i)))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


async def test_local_create_is_o_excl(fsspec_local_store: FsspecStore, tmp_path: Path) -> None:
    (tmp_path / "fsspec-store").mkdir()
    (tmp_path / "fsspec-store" / "k").write_bytes(b"already")
    assert await fsspec_local_store.set_if_not_exists("k", b"new") is False
    assert (tmp_path / "fsspec-store" / "k").read_bytes() == b"already"


async def test_filesystem_without_atomic_create_refuses(tmp_path: Path) -> None:
    # DirFileSystem's pipe_file(mode="create") is exists-then-write: not atomic, so refused.
    fs = DirFileSystem(path=str(tmp_path), fs=fsspec.filesystem("file"))
    store = FsspecStore(fs, "root")
    assert store.supports_atomic_create is False
    with pytest.raises(UnsupportedError, match="no atomic create"):
        await store.set_if_not_exists("k", b"v")
    assert await store.get("k") is None
    await store.set("k", b"v")
    assert await store.get("k") == b"v"


async def test_async_wrapper_is_unwrapped() -> None:
    fs = fsspec.filesystem("memory")
    root = f"/t-{uuid.uuid4().hex}"
    store = FsspecStore(AsyncFileSystemWrapper(fs), root)
    assert store == FsspecStore(fs, root)
    await store.set("k", b"v")
    assert fs.cat_file(f"{root}/k") == b"v"


async def test_listing_sees_writes_made_behind_its_back(fsspec_memory_store: FsspecStore) -> None:
    await fsspec_memory_store.set("a/x", b"1")
    assert [n async for n in fsspec_memory_store.list_dir("a")] == ["x"]
    other = FsspecStore(fsspec.filesystem("memory"), fsspec_memory_store._path)
    await other.set("a/y", b"2")
    assert [n async for n in fsspec_memory_store.list_dir("a")] == ["x", "y"]


async def test_suffix_zero_and_missing(fsspec_memory_store: FsspecStore) -> None:
    await fsspec_memory_store.set("k", b"abc")
    assert await fsspec_memory_store.get("k", SuffixByteRequest(0)) == b""
    assert await fsspec_memory_store.get("nope", SuffixByteRequest(0)) is None


def test_from_url_equality_and_pickle(tmp_path: Path) -> None:
    a = FsspecStore.from_url(f"file://{tmp_path}/s")
    b = FsspecStore(fsspec.filesystem("file"), str(tmp_path / "s"))
    assert a == b
    assert hash(a) == hash(b)
    assert a != FsspecStore.from_url(f"file://{tmp_path}/other")
    clone = pickle.loads(pickle.dumps(a))
    assert clone == a
    assert clone.requests.total == 0
    assert repr(a) == f"FsspecStore('file://{tmp_path}/s')"


def test_memory_url() -> None:
    store = FsspecStore.from_url("memory://some/root")
    assert repr(store) == "FsspecStore('memory://some/root')"
    sync(store.set("k", b"v"))
    assert sync(store.get("k")) == b"v"
    sync(store.delete_dir(""))
    assert sync(store.get("k")) is None


def test_storage_options_never_in_repr() -> None:
    secret = "fsspec-secret-that-must-never-show"
    store = FsspecStore.from_url(
        "s3://bucket/prefix", storage_options={"key": "k", "secret": secret}
    )
    assert secret not in repr(store)
    assert repr(store) == "FsspecStore('s3://bucket/prefix')"
    assert store.supports_atomic_create is True


async def test_local_delete_leaves_no_empty_folders(
    fsspec_local_store: FsspecStore, tmp_path: Path
) -> None:
    await fsspec_local_store.set("a/b/c", b"1")
    await fsspec_local_store.set("keep", b"2")
    await fsspec_local_store.delete("a/b/c")
    assert [n async for n in fsspec_local_store.list_dir("")] == ["keep"]
    assert sorted(p.name for p in (tmp_path / "fsspec-store").iterdir()) == ["keep"]
