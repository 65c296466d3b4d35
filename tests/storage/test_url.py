"""``open_store``: URLs, paths and stores to the right backend."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import cloudzarr
from cloudzarr.errors import InvalidStoreURLError, ReadOnlyError, UnsupportedError
from cloudzarr.storage import LocalStore, MemoryStore, Store, open_store
from cloudzarr.storage.url import forget_memory_store


def test_exported_at_top_level() -> None:
    assert cloudzarr.open_store is open_store
    assert cloudzarr.LocalStore is LocalStore


# --- memory ----------------------------------------------------------------------------------


async def test_bare_memory_url_gives_a_new_store_each_time() -> None:
    one, two = open_store("memory://"), open_store("memory://")
    assert isinstance(one, MemoryStore) and isinstance(two, MemoryStore)
    await one.set("k", b"1")
    assert await two.get("k") is None
    assert one != two


async def test_named_memory_url_is_shared_in_the_process() -> None:
    name = "test-url-shared"
    try:
        one = open_store(f"memory://{name}")
        await one.set("k", b"1")
        two = open_store(f"memory://{name}/", read_only=True)
        assert await two.get("k") == b"1"
        assert two.read_only
        assert one == open_store(f"memory://{name}")
        assert await open_store("memory://another-name").get("k") is None
    finally:
        forget_memory_store(name)
    assert await open_store(f"memory://{name}").get("k") is None


# --- local ---------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["str", "path", "file-url"])
async def test_local_paths(tmp_path: Path, form: str) -> None:
    root = tmp_path / "data"
    url: str | Path = {"str": str(root), "path": root, "file-url": f"file://{root}"}[form]
    store = open_store(url)
    assert store == LocalStore(root)
    await store.set("a/b", b"1")
    assert (root / "a" / "b").read_bytes() == b"1"


def test_relative_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_store("rel/dir") == LocalStore(tmp_path / "rel" / "dir")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert open_store("~/in-home") == LocalStore(tmp_path / "in-home")


def test_options_pass_through(tmp_path: Path) -> None:
    store = open_store(tmp_path, read_only=True, concurrency=3)
    assert store.read_only
    assert store.limiter.size == 3
    assert open_store("memory://", concurrency=5).limiter.size == 5


@pytest.mark.parametrize("url", ["memory://", "memory://named", "/tmp/x", "file:///tmp/x"])
def test_storage_options_refused_where_unused(url: str) -> None:
    with pytest.raises(InvalidStoreURLError, match="anon"):
        open_store(url, storage_options={"anon": True})


def test_empty_file_url_refused() -> None:
    with pytest.raises(InvalidStoreURLError, match="no folder"):
        open_store("file://")


# --- a store passed in ---------------------------------------------------------------------


async def test_store_passed_in() -> None:
    store = MemoryStore()
    assert open_store(store) is store
    ro = open_store(store, read_only=True)
    assert ro.read_only and not store.read_only
    assert ro.limiter is store.limiter
    with pytest.raises(ReadOnlyError):
        await ro.set("k", b"1")
    # A read-only store is never made writable behind its owner's back.
    assert open_store(ro).read_only


def test_store_passed_in_with_options_refused() -> None:
    with pytest.raises(InvalidStoreURLError, match="storage_options"):
        open_store(MemoryStore(), storage_options={"anon": True})
    with pytest.raises(InvalidStoreURLError, match="concurrency"):
        open_store(MemoryStore(), concurrency=3)


def test_not_a_url_refused() -> None:
    with pytest.raises(InvalidStoreURLError, match="int"):
        open_store(3)  # type: ignore[arg-type]


# --- cloud and fsspec ----------------------------------------------------------------------


def test_unknown_protocol_refused() -> None:
    with pytest.raises(InvalidStoreURLError, match=r"'nosuchproto'"):
        open_store("nosuchproto://bucket/path")


# Anonymous options, so no test waits on a credential probe (gcsfs asks a metadata server).
_AZURE = {"account_name": "devstoreaccount1", "anon": True}


@pytest.mark.parametrize(
    ("url", "module", "cls_name", "extra", "options"),
    [
        ("s3://bucket/prefix", "cloudzarr.storage.s3", "S3Store", "s3", {"anon": True}),
        ("gs://bucket/prefix", "cloudzarr.storage.gcs", "GCSStore", "gcs", {"token": "anon"}),
        ("gcs://bucket/prefix", "cloudzarr.storage.gcs", "GCSStore", "gcs", {"token": "anon"}),
        ("az://container/prefix", "cloudzarr.storage.azure", "AzureStore", "azure", _AZURE),
        ("abfs://container/prefix", "cloudzarr.storage.azure", "AzureStore", "azure", _AZURE),
        ("http://example.invalid/a.zarr", "cloudzarr.storage.fsspec", "FsspecStore", "cloud", {}),
    ],
)
def test_cloud_urls_reach_their_store(
    url: str, module: str, cls_name: str, extra: str, options: dict[str, object]
) -> None:
    if importlib.util.find_spec(module) is None:
        with pytest.raises(UnsupportedError, match=rf"cloudzarr\[{extra}\]"):
            open_store(url, storage_options=options)
        return
    store = open_store(url, storage_options=options, read_only=True, concurrency=7)
    assert type(store).__name__ == cls_name
    assert type(store).__module__ == module
    assert isinstance(store, Store)
    assert store.read_only
    assert store.limiter.size == 7


def test_import_does_not_load_cloud_libraries() -> None:
    code = (
        "import sys, cloudzarr; cloudzarr.open_store('memory://');"
        "print(sorted(m for m in ('s3fs', 'gcsfs', 'adlfs', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("url", ["http://example.invalid/a.zarr", "https://example.invalid/a.zarr"])
def test_http_store_shows_its_url_once(url: str) -> None:
    # fsspec's http filesystem keeps the scheme in its paths; the repr once read
    # "FsspecStore('http://https://...')".
    store = open_store(url, read_only=True)
    assert store.url == url  # type: ignore[attr-defined]
    assert repr(store) == f"FsspecStore({url!r}, read_only=True)"


@pytest.mark.parametrize(
    "url",
    [
        "az://container/data?sv=2024-01-01&sig=abc%3D",
        "s3://bucket/p?X-Amz-Signature=deadbeef",
        "gs://bucket/p?token=ya29.secret",
        "https://host/p?secret=s3cr3t",
        "s3://bucket/p?key=AKIAXXXX",
    ],
)
def test_url_with_a_credential_in_its_query_is_refused(url: str) -> None:
    with pytest.raises(InvalidStoreURLError, match="query string") as info:
        open_store(url)
    secret = url.split("=", 1)[1]
    assert secret not in str(info.value)


@pytest.mark.parametrize("url", ["memory://", "ftp://host/p", "file:///tmp/x"])
def test_timeouts_are_refused_for_stores_without_them(url: str) -> None:
    with pytest.raises(InvalidStoreURLError, match="request_timeout"):
        open_store(url, request_timeout=1.0)
