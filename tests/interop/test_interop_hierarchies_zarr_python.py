"""zarr-python over the adapter: hierarchies written by one library read by the other.

Every round trip runs on memory, local disk and S3 (moto), in Zarr v2 and v3, with consolidated
metadata. cloudzarr reads what zarr-python wrote through the adapter, zarr-python reads what
cloudzarr wrote, and the same store object is used underneath both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

import cloudzarr
from cloudzarr.errors import InvalidStoreURLError, ReadOnlyError, TransientStoreError
from cloudzarr.interop import ZarrReadOnlyError, ZarrStoreAdapter, as_zarr_store
from cloudzarr.storage import FaultStore, LocalStore, MemoryStore, RetryStore, Store

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.ZarrUserWarning")

DATA = np.arange(20 * 30, dtype="int32").reshape(20, 30)


def _dimension_kwargs(zarr_format: int) -> dict[str, object]:
    # Zarr v2 has no dimension names.
    return {"dimension_names": ("y", "x")} if zarr_format == 3 else {}


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_writes_cloudzarr_reads(cloudzarr_store: Store, zarr_format: int) -> None:
    adapter = as_zarr_store(cloudzarr_store)
    root = zarr.open_group(adapter, mode="w", zarr_format=zarr_format, attributes={"title": "t"})
    sub = root.create_group("sub", attributes={"level": 1})
    arr = sub.create_array(
        "a",
        shape=DATA.shape,
        chunks=(8, 8),
        dtype="int32",
        fill_value=-1,
        attributes={"units": "K"},
        **_dimension_kwargs(zarr_format),  # type: ignore[arg-type]
    )
    arr[:] = DATA
    arr[0, 0] = 7
    zarr.consolidate_metadata(adapter)

    group = cloudzarr.open_group(cloudzarr_store, mode="r", use_consolidated=True)
    assert group.zarr_format == zarr_format
    assert dict(group.attrs) == {"title": "t"}
    read = group["sub/a"]
    assert isinstance(read, cloudzarr.Array)
    expected = DATA.copy()
    expected[0, 0] = 7
    np.testing.assert_array_equal(read[:], expected)
    assert read.chunks == (8, 8)
    assert read.fill_value == -1
    assert dict(read.attrs) == {"units": "K"}
    if zarr_format == 3:
        assert read.dimension_names == ("y", "x")
    assert sorted(group.keys()) == ["sub"]
    assert dict(group["sub"].attrs) == {"level": 1}


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_cloudzarr_writes_zarr_reads(cloudzarr_store: Store, zarr_format: int) -> None:
    root = cloudzarr.create_group(cloudzarr_store, zarr_format=zarr_format, attributes={"k": 1})
    arr = root.create_array(
        "g/a",
        shape=DATA.shape,
        dtype="int32",
        chunks=(8, 8),
        attributes={"units": "K"},
        **_dimension_kwargs(zarr_format),
    )
    arr[:] = DATA
    cloudzarr.consolidate_metadata(cloudzarr_store)

    group = zarr.open_group(as_zarr_store(cloudzarr_store), mode="r", use_consolidated=True)
    assert group.metadata.consolidated_metadata is not None
    assert group.attrs.asdict() == {"k": 1}
    read = group["g/a"]
    assert isinstance(read, zarr.Array)
    np.testing.assert_array_equal(read[:], DATA)
    assert read.attrs.asdict() == {"units": "K"}
    if zarr_format == 3:
        assert read.metadata.dimension_names == ("y", "x")  # type: ignore[union-attr]


def test_consolidated_open_lists_nothing(cloudzarr_store: Store) -> None:
    # What zarr-python reads of a consolidated hierarchy, the store's counter sees: documents
    # and chunks, and not one listing.
    root = cloudzarr.create_group(cloudzarr_store)
    for name in ("a", "b", "c"):
        root.create_array(f"g/{name}", shape=(4,), dtype="uint8", chunks=(4,))[:] = 1
    cloudzarr.consolidate_metadata(cloudzarr_store)
    cloudzarr_store.requests.reset()

    group = zarr.open_group(
        as_zarr_store(cloudzarr_store), mode="r", zarr_format=3, use_consolidated=True
    )
    members = sorted(name for name, _ in group.members(max_depth=None))
    assert members == ["g", "g/a", "g/b", "g/c"]
    counts = cloudzarr_store.requests.snapshot()
    get_name = "GetObject" if "s3" in type(cloudzarr_store).__name__.lower() else "get"
    assert counts == {get_name: 1}


def test_read_mode_is_a_read_only_view(cloudzarr_store: Store) -> None:
    adapter = as_zarr_store(cloudzarr_store)
    zarr.open_group(adapter, mode="w").create_array("a", shape=(3,), dtype="i1")
    group = zarr.open_group(adapter, mode="r")
    view = group.store
    assert isinstance(view, ZarrStoreAdapter)
    assert view.read_only and not adapter.read_only
    # The view shares the store's limiter and counter.
    assert view.store.limiter is cloudzarr_store.limiter
    assert view.store.requests is cloudzarr_store.requests
    before = sorted(_keys(cloudzarr_store))
    with pytest.raises(ZarrReadOnlyError, match="read-only mode") as info:
        group["a"][:] = 5
    assert isinstance(info.value, ReadOnlyError)
    with pytest.raises(ValueError, match="read-only"):
        group.create_group("new")
    assert sorted(_keys(cloudzarr_store)) == before


def test_read_only_cloudzarr_store_refuses_writable_modes() -> None:
    store = MemoryStore()
    cloudzarr.create_group(store)
    adapter = as_zarr_store(store.with_read_only())
    assert adapter.read_only
    with pytest.raises(ValueError, match="read-only"):
        zarr.open_group(adapter, mode="a")
    assert zarr.open_group(adapter, mode="r").attrs.asdict() == {}
    # A writable view can be asked for explicitly, as zarr-python's with_read_only allows.
    writable = as_zarr_store(store.with_read_only(), read_only=False)
    zarr.open_group(writable, mode="a").create_group("g")
    assert "g/zarr.json" in _keys(store)


def test_retry_store_under_zarr() -> None:
    # A store failing 30 % of its requests: zarr-python through a RetryStore never sees one,
    # and every injected failure was retried.
    faulty = FaultStore(MemoryStore(), error_rate=0.3, seed=3)
    retrying = RetryStore(faulty, retries=30, backoff=0.0, seed=3)
    adapter = as_zarr_store(retrying)
    arr = zarr.create_array(adapter, shape=DATA.shape, chunks=(5, 5), dtype="int32")
    arr[:] = DATA
    np.testing.assert_array_equal(zarr.open_array(adapter, mode="r")[:], DATA)
    injected = sum(faulty.injected.values())
    assert injected > 0
    assert retrying.total_retries == injected
    assert sum(retrying.given_up.values()) == 0


def test_transient_errors_keep_their_type_through_zarr() -> None:
    faulty = FaultStore(MemoryStore(), error_rate=1.0, seed=0, kinds=("throttled",))
    with pytest.raises(TransientStoreError):
        zarr.open_group(as_zarr_store(faulty), mode="a")


def test_missing_key_is_none_and_getsize_raises() -> None:
    import asyncio

    from zarr.core.buffer import default_buffer_prototype

    adapter = as_zarr_store(MemoryStore())

    async def run() -> None:
        assert await adapter.get("nope/zarr.json", default_buffer_prototype()) is None
        assert await adapter.get("nope") is None  # zarr's default prototype
        with pytest.raises(FileNotFoundError):
            await adapter.getsize("nope")

    asyncio.run(run())


def test_as_zarr_store_returns_an_adapter_as_is_and_refuses_non_stores() -> None:
    adapter = as_zarr_store(MemoryStore())
    assert as_zarr_store(adapter) is adapter
    assert as_zarr_store(adapter, read_only=True).read_only
    with pytest.raises(TypeError, match="cloudzarr store"):
        as_zarr_store(zarr.storage.MemoryStore())  # type: ignore[arg-type]


def _keys(store: Store) -> list[str]:
    from cloudzarr.sync import sync

    async def collect() -> list[str]:
        return [k async for k in store.list()]

    return sync(collect())


def test_as_zarr_store_opens_a_path(tmp_path: Path) -> None:
    adapter = as_zarr_store(tmp_path / "data.zarr")
    assert isinstance(adapter.store, LocalStore)
    zarr.create_array(adapter, shape=(3,), dtype="i2")[:] = [1, 2, 3]
    np.testing.assert_array_equal(cloudzarr.open_array(tmp_path / "data.zarr")[:], [1, 2, 3])
    reader = as_zarr_store(str(tmp_path / "data.zarr"), read_only=True)
    assert reader.read_only and reader.store.read_only
    np.testing.assert_array_equal(zarr.open_array(reader, mode="r")[:], [1, 2, 3])


def test_options_apply_only_to_urls() -> None:
    with pytest.raises(InvalidStoreURLError, match="already made"):
        as_zarr_store(MemoryStore(), concurrency=3)
    with pytest.raises(InvalidStoreURLError, match="already made"):
        as_zarr_store(as_zarr_store(MemoryStore()), storage_options={"anon": True})
    with pytest.raises(InvalidStoreURLError, match="unknown protocol"):
        as_zarr_store("nosuchprotocol://x/y")
