"""``cloudzarr.xarray.to_zarr``: what it writes reads back in xarray + zarr-python; its modes."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dask.delayed import Delayed

import cloudzarr
from cloudzarr.errors import InvalidArgumentError, NodeExistsError, UnsafeWriteError
from cloudzarr.storage import MemoryStore, Store
from cloudzarr.storage.s3 import S3Store
from cloudzarr.storage.wrapper import StoreWrapper
from cloudzarr.xarray import to_zarr

from .conftest import assert_same

FORMATS = [2, 3]


class KeyLog(StoreWrapper):
    """Records the key of every write, in order."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.written: list[str] = []

    async def _set(self, key: str, value: bytes) -> None:
        self.written.append(key)
        await super()._set(key, value)

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        self.written.append(key)
        return await super()._set_if_not_exists(key, value)

    async def _set_if_version(self, key: str, value: bytes, version: str | None) -> bool:
        self.written.append(key)
        return await super()._set_if_version(key, value, version)


def dataset(n: int = 8) -> xr.Dataset:
    rng = np.random.default_rng(7)
    return xr.Dataset(
        {
            "temp": (("time", "site"), rng.random((n, 3)), {"units": "K"}),
            "flag": (("site",), np.array([True, False, True])),
        },
        coords={
            "time": pd.date_range("2022-03-01", periods=n, freq="D"),
            "site": ["oslo", "lima", "x"],
        },
        attrs={"source": "test"},
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_zarr_python_reads_what_we_write(s3_store: S3Store, fmt: int) -> None:
    ds = dataset().chunk({"time": 4})
    to_zarr(ds, s3_store, zarr_format=fmt)
    import zarr

    from cloudzarr.interop import as_zarr_store

    want = xr.open_zarr(as_zarr_store(s3_store), zarr_format=fmt, consolidated=True)
    assert_same(want, dataset())
    assert_same(xr.open_dataset(s3_store, engine="cloudzarr"), dataset())
    assert zarr.__version__ == "3.4.2"


def test_dask_data_is_written_shard_by_shard(tmp_path: Path) -> None:
    ds = dataset(40).chunk({"time": 7})
    group = to_zarr(
        ds, str(tmp_path / "d"), encoding={"temp": {"chunks": (5, 3), "shards": (10, 3)}}
    )
    temp = group["temp"]
    assert isinstance(temp, cloudzarr.Array) and temp.shards == (10, 3)
    assert_same(xr.open_dataset(tmp_path / "d", engine="cloudzarr"), dataset(40))


def test_metadata_first_then_data_then_one_consolidation() -> None:
    log = KeyLog(MemoryStore())
    to_zarr(dataset().chunk({"time": 2}), log, zarr_format=3)
    metadata = [i for i, k in enumerate(log.written) if k.endswith("zarr.json")]
    data = [i for i, k in enumerate(log.written) if not k.endswith("zarr.json")]
    root_writes = [i for i, k in enumerate(log.written) if k == "zarr.json"]
    # The root zarr.json is written twice: created, then consolidated once after all data.
    assert len(root_writes) == 2
    assert root_writes[-1] == len(log.written) - 1
    assert max(metadata[:-1]) < min(data)


def test_mode_w_minus_refuses_an_existing_group(tmp_path: Path) -> None:
    to_zarr(dataset(), str(tmp_path / "d"))
    with pytest.raises(NodeExistsError):
        to_zarr(dataset(), str(tmp_path / "d"))


def test_mode_w_replaces_the_group(tmp_path: Path) -> None:
    to_zarr(dataset().assign(extra=(("site",), np.zeros(3))), str(tmp_path / "d"))
    to_zarr(dataset(4), str(tmp_path / "d"), mode="w")
    assert_same(xr.open_dataset(tmp_path / "d", engine="cloudzarr"), dataset(4))


@pytest.mark.parametrize("fmt", FORMATS)
def test_append_dim_matches_concat(tmp_path: Path, fmt: int) -> None:
    full = dataset(12)
    first, second = full.isel(time=slice(0, 8)), full.isel(time=slice(8, None))
    to_zarr(first, str(tmp_path / "d"), zarr_format=fmt, encoding={"temp": {"chunks": (4, 3)}})
    to_zarr(second.chunk({"time": 4}), str(tmp_path / "d"), append_dim="time")
    assert_same(xr.open_dataset(tmp_path / "d", engine="cloudzarr"), full)
    assert_same(xr.open_zarr(tmp_path / "d"), full)


def test_region_writes_fill_a_template(tmp_path: Path) -> None:
    full = dataset(12)
    template = full.chunk({"time": 4})
    template["flag"] = full["flag"]  # numpy: written at once, even with compute=False
    # The time coordinate is rewritten by each region write too: its chunks must align.
    encoding = {"temp": {"chunks": (4, 3)}, "time": {"chunks": (4,)}}
    to_zarr(template, str(tmp_path / "d"), compute=False, encoding=encoding)
    # Metadata (and consolidated metadata) exist; the data variable is not written yet.
    opened = xr.open_dataset(tmp_path / "d", engine="cloudzarr", consolidated=True)
    assert bool(opened["temp"].isnull().all())
    part = full.drop_vars(["flag", "site"])
    for start in (0, 4, 8):
        region = {"time": slice(start, start + 4)}
        to_zarr(part.isel(region), str(tmp_path / "d"), region=region)
    assert_same(xr.open_dataset(tmp_path / "d", engine="cloudzarr"), full)


def test_misaligned_region_is_refused(tmp_path: Path) -> None:
    full = dataset(12)
    to_zarr(full, str(tmp_path / "d"), encoding={"temp": {"chunks": (4, 3)}})
    part = full.drop_vars(["flag", "site"]).isel(time=slice(2, 6))
    with pytest.raises(UnsafeWriteError, match=r"'(temp|time)'.*dimension 0"):
        to_zarr(part.chunk(), str(tmp_path / "d"), region={"time": slice(2, 6)})
    with pytest.raises(UnsafeWriteError):
        to_zarr(part, str(tmp_path / "d"), region={"time": slice(2, 6)})
    # Nothing was written by the refused calls.
    assert_same(xr.open_dataset(tmp_path / "d", engine="cloudzarr"), full)


def test_region_with_a_variable_outside_it_is_refused(tmp_path: Path) -> None:
    full = dataset(8)
    to_zarr(full, str(tmp_path / "d"))
    with pytest.raises(InvalidArgumentError, match="flag"):
        to_zarr(full.isel(time=slice(0, 4)), str(tmp_path / "d"), region={"time": slice(0, 4)})


def test_compute_false_defers_dask_data(tmp_path: Path) -> None:
    ds = dataset().chunk({"time": 4})
    delayed_write = to_zarr(ds, str(tmp_path / "d"), compute=False)
    assert isinstance(delayed_write, Delayed)
    assert bool(xr.open_dataset(tmp_path / "d", engine="cloudzarr")["temp"].isnull().all())
    dask.compute(delayed_write)
    assert_same(xr.open_dataset(tmp_path / "d", engine="cloudzarr"), dataset())


def test_progress_counts_dask_blocks(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    to_zarr(
        dataset(8).chunk({"time": 2}),
        str(tmp_path / "d"),
        progress=lambda done, total: seen.append((done, total)),
        encoding={"temp": {"chunks": (2, 3)}},
    )
    # temp: 4 blocks, flag: 1; the index coordinates stay numpy (written at once, not counted).
    assert seen == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_bad_arguments_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="mode"):
        to_zarr(dataset(), str(tmp_path / "d"), mode="x")
    with pytest.raises(InvalidArgumentError, match="append_dim"):
        to_zarr(dataset(), str(tmp_path / "d"), append_dim="nope", mode="a")
    with pytest.raises(InvalidArgumentError, match="unsupported keys"):
        to_zarr(dataset(), str(tmp_path / "d"), encoding={"temp": {"blosc": 1}})
    assert not (tmp_path / "d").exists()
