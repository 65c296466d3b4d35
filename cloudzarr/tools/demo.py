"""``cloudzarr demo``: why a Zarr hierarchy opens slowly on object storage, and what fixes it.

The demo writes a small climate-like dataset (groups of variables with dimension names,
attributes and zstd-compressed chunks) to an S3-compatible server, consolidates its metadata,
then reopens it through a store that adds 20 ms to every request, as a cloud region away
would, and prints for each way of discovering the hierarchy the requests sent and the time:

1. consolidated metadata: one GET of the root document, then no I/O at all;
2. cloudzarr's walk without it: every level at once under the store's one limiter;
3. a walk in zarr-python 3.4.2's order: list a group, fetch its children's metadata, then
   descend into child groups one subtree after another.

Requests are counted where they are sent (HTTP requests on S3), latency is injected by
:class:`~cloudzarr.storage.LatencyStore` inside the store's limiter, and every figure printed is
measured in this run.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cloudzarr.storage import InstrumentedStore, LatencyStore, Store
from cloudzarr.storage.keys import join_key

#: Latency added to every request when the dataset is reopened.
DEMO_LATENCY = 0.02

_LAT = 36
_LON = 72
_TIME = 12
_LEVELS = 6

#: group -> variable -> (long name, units, dims)
SURFACE = {
    "tas": ("near-surface air temperature", "K"),
    "pr": ("precipitation", "kg m-2 s-1"),
    "psl": ("sea level pressure", "Pa"),
    "huss": ("near-surface specific humidity", "1"),
    "uas": ("eastward near-surface wind", "m s-1"),
    "vas": ("northward near-surface wind", "m s-1"),
    "rsds": ("surface downwelling shortwave radiation", "W m-2"),
    "clt": ("total cloud cover", "%"),
}
ATMOSPHERE = {
    "ta": ("air temperature", "K"),
    "ua": ("eastward wind", "m s-1"),
    "va": ("northward wind", "m s-1"),
    "hus": ("specific humidity", "1"),
    "zg": ("geopotential height", "m"),
}
OCEAN = {
    "tos": ("sea surface temperature", "degC"),
    "sos": ("sea surface salinity", "0.001"),
    "zos": ("sea surface height", "m"),
    "siconc": ("sea-ice area fraction", "%"),
}
LAND = {
    "mrso": ("total soil moisture content", "kg m-2"),
    "snw": ("surface snow amount", "kg m-2"),
    "lai": ("leaf area index", "1"),
}
ENSEMBLE_MEMBERS = ("r1i1p1f1", "r2i1p1f1", "r3i1p1f1", "r4i1p1f1")
ENSEMBLE_VARIABLES = {"tas": SURFACE["tas"], "pr": SURFACE["pr"]}


@dataclass(frozen=True)
class Variable:
    """One array of the sample dataset."""

    path: str
    long_name: str
    units: str
    dims: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        sizes = {"time": _TIME, "level": _LEVELS, "lat": _LAT, "lon": _LON}
        return tuple(sizes[d] for d in self.dims)

    @property
    def chunks(self) -> tuple[int, ...]:
        halves = {"time": _TIME // 2, "level": _LEVELS, "lat": _LAT, "lon": _LON // 2}
        return tuple(halves[d] for d in self.dims)


def sample_variables() -> list[Variable]:
    """The arrays of the sample dataset (coordinates first)."""
    out = [
        Variable("coords/time", "time", "days since 2000-01-01", ("time",)),
        Variable("coords/lat", "latitude", "degrees_north", ("lat",)),
        Variable("coords/lon", "longitude", "degrees_east", ("lon",)),
        Variable("coords/level", "pressure level", "hPa", ("level",)),
    ]
    grid = ("time", "lat", "lon")
    out += [Variable(f"surface/{k}", n, u, grid) for k, (n, u) in SURFACE.items()]
    out += [
        Variable(f"atmosphere/{k}", n, u, ("time", "level", "lat", "lon"))
        for k, (n, u) in ATMOSPHERE.items()
    ]
    out += [Variable(f"ocean/{k}", n, u, grid) for k, (n, u) in OCEAN.items()]
    out += [Variable(f"land/{k}", n, u, grid) for k, (n, u) in LAND.items()]
    for member in ENSEMBLE_MEMBERS:
        out += [
            Variable(f"ensemble/{member}/{k}", n, u, grid)
            for k, (n, u) in ENSEMBLE_VARIABLES.items()
        ]
    return out


def sample_groups() -> dict[str, dict[str, Any]]:
    """Group path -> attributes, for every group of the sample dataset (the root is ``""``)."""
    groups: dict[str, dict[str, Any]] = {
        "": {
            "title": "cloudzarr demo: a small monthly climate dataset",
            "institution": "cloudzarr",
            "source": "synthetic fields (smooth climatology plus noise)",
            "Conventions": "CF-1.10",
            "frequency": "mon",
        },
        "coords": {"description": "coordinate variables"},
        "surface": {"realm": "atmos", "level": "surface"},
        "atmosphere": {"realm": "atmos", "level": "pressure levels"},
        "ocean": {"realm": "ocean"},
        "land": {"realm": "land"},
        "ensemble": {"description": "ensemble members of the surface fields"},
    }
    for i, member in enumerate(ENSEMBLE_MEMBERS, start=1):
        groups[f"ensemble/{member}"] = {"variant_label": member, "realization": i}
    return groups


def sample_data(var: Variable, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Plausible values for ``var``: a smooth field with a seasonal cycle and some noise."""
    name = var.path.rsplit("/", 1)[1]
    if var.dims == ("time",):
        return np.arange(_TIME, dtype="float64") * 30.4 + 15.0
    if name == "lat":
        return np.linspace(-87.5, 87.5, _LAT, dtype="float32")
    if name == "lon":
        return np.linspace(2.5, 357.5, _LON, dtype="float32")
    if name == "level":
        return np.array([1000, 850, 700, 500, 250, 100], dtype="float32")
    lat = np.deg2rad(np.linspace(-87.5, 87.5, _LAT))[:, None]
    lon = np.deg2rad(np.linspace(2.5, 357.5, _LON))[None, :]
    season = np.cos(2 * np.pi * np.arange(_TIME) / 12)[:, None, None]
    field2d = np.cos(lat) + 0.1 * np.sin(3 * lon)
    base = field2d[None] + 0.2 * season * np.sin(lat)[None]
    if len(var.dims) == 4:
        base = base[:, None] * np.linspace(1.0, 0.6, _LEVELS)[None, :, None, None]
    noise = rng.normal(0, 0.02, size=base.shape)
    return ((base + noise) * 100).astype("float32")


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Phase:
    """What one phase of the demo sent and how long it took."""

    name: str
    requests: dict[str, int]
    seconds: float
    peak_in_flight: int
    nodes: int | None = None
    note: str = ""

    @property
    def total_requests(self) -> int:
        """Requests of every kind."""
        return sum(self.requests.values())


async def measure(
    name: str,
    store: Store,
    work: Callable[[], Awaitable[int | None]],
    *,
    note: str = "",
) -> Phase:
    """Run ``work`` and record the requests ``store`` sent (by kind), time and peak in flight."""
    before = store.requests.snapshot()
    store.limiter.reset_peak()
    start = time.perf_counter()
    nodes = await work()
    seconds = time.perf_counter() - start
    after = store.requests.snapshot()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return Phase(
        name=name,
        requests={k: v for k, v in sorted(delta.items()) if v},
        seconds=seconds,
        peak_in_flight=store.limiter.peak_in_flight,
        nodes=nodes,
        note=note,
    )


# --- the phases ----------------------------------------------------------------------------


async def write_dataset(store: Store) -> int:
    """Write the sample hierarchy and its data; return the number of nodes (root excluded)."""
    from cloudzarr.api.asynchronous import create_hierarchy
    from cloudzarr.arrays import AsyncArray, build_array_metadata
    from cloudzarr.metadata.group import GroupMetadataV3

    nodes: dict[str, Any] = {
        path: GroupMetadataV3(attributes=attrs) for path, attrs in sample_groups().items()
    }
    variables = sample_variables()
    for var in variables:
        dtype = "float64" if var.dims == ("time",) else "float32"
        nodes[var.path] = build_array_metadata(
            shape=var.shape,
            dtype=dtype,
            chunks=var.chunks,
            dimension_names=var.dims,
            fill_value=np.nan,
            attributes={"long_name": var.long_name, "units": var.units},
        )
    created = await create_hierarchy(store=store, nodes=nodes)
    rng = np.random.default_rng(2000)
    writes = []
    for var in variables:
        array = created[var.path]
        assert isinstance(array, AsyncArray)
        writes.append(array.setitem(Ellipsis, sample_data(var, rng)))
    await asyncio.gather(*writes)
    return len(created) - 1


async def consolidate(store: Store) -> int:
    """Write consolidated metadata at the root; return the nodes it lists."""
    from cloudzarr.api.asynchronous import consolidate_metadata

    group = await consolidate_metadata(store)
    return await group.nmembers(max_depth=None)


async def walk_consolidated(store: Store) -> int:
    """Open the root with its consolidated metadata and list the whole hierarchy."""
    from cloudzarr.api.asynchronous import open_group

    group = await open_group(store, mode="r", zarr_format=3, use_consolidated=True)
    return len([m async for m in group.members(max_depth=None)])


async def walk_concurrent(store: Store) -> int:
    """Open the root without consolidated metadata and walk everything (cloudzarr's walk)."""
    from cloudzarr.api.asynchronous import open_group

    group = await open_group(store, mode="r", zarr_format=3, use_consolidated=False)
    return len([m async for m in group.members(max_depth=None)])


async def walk_sequential(store: Store) -> int:
    """Open the root and walk in zarr-python 3.4.2's order: list a group, GET its children's
    ``zarr.json`` together, then descend into the child groups one after another."""
    if await store.get("zarr.json") is None:
        raise FileNotFoundError("no group at the root of the demo store")
    return await _walk_in_order(store, "")


async def _walk_in_order(store: Store, path: str) -> int:
    names = [n async for n in store.list_dir(path) if n != "zarr.json"]
    docs = await asyncio.gather(
        *(store.get(join_key(join_key(path, n), "zarr.json")) for n in names)
    )
    found = 0
    child_groups = []
    for name, doc in zip(names, docs, strict=True):
        if doc is None:
            continue
        found += 1
        if json.loads(doc).get("node_type") == "group":
            child_groups.append(join_key(path, name))
    for child in child_groups:
        found += await _walk_in_order(store, child)
    return found


@dataclass
class DemoResult:
    """Every phase of a demo run, and the dataset's size."""

    phases: list[Phase] = field(default_factory=list)
    groups: int = 0
    arrays: int = 0

    def phase(self, name: str) -> Phase:
        """The phase called ``name``."""
        return next(p for p in self.phases if p.name == name)


async def run_demo(store: Store, *, latency: float = DEMO_LATENCY) -> DemoResult:
    """Write, consolidate and reopen the sample dataset in ``store``; measure every phase.

    The store should be empty (a fresh bucket or a unique prefix).
    """
    result = DemoResult(groups=len(sample_groups()), arrays=len(sample_variables()))
    result.phases.append(await measure("write dataset", store, lambda: write_dataset(store)))
    result.phases.append(await measure("consolidate metadata", store, lambda: consolidate(store)))
    # Instrumentation above the injected latency: it sees what a remote client would.
    slow = InstrumentedStore(LatencyStore(store, latency=latency))
    result.phases.append(
        await measure("open + list, consolidated", slow, lambda: walk_consolidated(slow))
    )
    result.phases.append(
        await measure("open + list, cloudzarr walk", slow, lambda: walk_concurrent(slow))
    )
    result.phases.append(
        await measure(
            "open + list, zarr-python order",
            slow,
            lambda: walk_sequential(slow),
            note="subtrees one after another",
        )
    )
    return result


def unique_prefix() -> str:
    """A fresh folder name for a demo run on a user's store."""
    return f"cloudzarr-demo-{uuid.uuid4().hex[:10]}"
