"""``cloudzarr bench --hierarchy``: time opening and walking a synthetic hierarchy.

A hierarchy of ``outer`` groups, each with ``inner`` groups, each with ``arrays`` arrays (Zarr
v3, metadata only) is created under a unique folder of the target store, consolidated, and then
opened and walked three ways: with the consolidated metadata, with cloudzarr's concurrent walk,
and in zarr-python 3.4.2's order (subtrees one after another). Each phase reports the requests
the store sent, the time and the peak of requests in flight. The folder is removed at the end,
also on Ctrl-C.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from cloudzarr.storage import InstrumentedStore, LatencyStore, Store
from cloudzarr.tools.demo import Phase, measure, walk_concurrent, walk_consolidated, walk_sequential


@dataclass(frozen=True)
class HierarchyShape:
    """``outer`` groups x ``inner`` groups x ``arrays`` arrays."""

    outer: int = 5
    inner: int = 5
    arrays: int = 4

    @classmethod
    def parse(cls, text: str) -> HierarchyShape:
        """``"10x10x10"`` -> HierarchyShape(10, 10, 10)."""
        match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*x\s*(\d+)\s*", text)
        if match is None:
            raise ValueError(f"cannot read the hierarchy shape {text!r}; write e.g. 10x10x10")
        outer, inner, arrays = (int(g) for g in match.groups())
        if min(outer, inner, arrays) < 1:
            raise ValueError(f"every number of the hierarchy shape {text!r} must be at least 1")
        return cls(outer, inner, arrays)

    @property
    def groups(self) -> int:
        """Groups below the root."""
        return self.outer + self.outer * self.inner

    @property
    def nodes(self) -> int:
        """Nodes below the root."""
        return self.groups + self.outer * self.inner * self.arrays


async def create_synthetic(store: Store, shape: HierarchyShape) -> int:
    """Create the hierarchy in one wave of atomic creates; return its node count."""
    from cloudzarr.api.asynchronous import create_hierarchy
    from cloudzarr.arrays import build_array_metadata
    from cloudzarr.metadata.group import GroupMetadataV3

    nodes: dict[str, Any] = {"": GroupMetadataV3(attributes={"synthetic": True})}
    for i in range(shape.outer):
        nodes[f"g{i}"] = GroupMetadataV3()
        for j in range(shape.inner):
            nodes[f"g{i}/g{j}"] = GroupMetadataV3()
            for k in range(shape.arrays):
                nodes[f"g{i}/g{j}/a{k}"] = build_array_metadata(
                    shape=(100, 100), dtype="float32", chunks=(50, 50)
                )
    created = await create_hierarchy(store=store, nodes=nodes)
    return len(created) - 1


async def run_phases(store: Store, shape: HierarchyShape, latency: float) -> list[Phase]:
    """Create, consolidate, then open and walk three ways; the store should be empty."""
    from cloudzarr.api.asynchronous import consolidate_metadata

    async def consolidate() -> int:
        group = await consolidate_metadata(store)
        return await group.nmembers(max_depth=None)

    phases = [
        await measure("create_hierarchy", store, lambda: create_synthetic(store, shape)),
        await measure("consolidate_metadata", store, consolidate),
    ]
    reader: Store = store
    if latency > 0:
        reader = InstrumentedStore(LatencyStore(store, latency=latency))
    phases.append(
        await measure("open + list, consolidated", reader, lambda: walk_consolidated(reader))
    )
    phases.append(
        await measure("open + list, cloudzarr walk", reader, lambda: walk_concurrent(reader))
    )
    phases.append(
        await measure("open + list, zarr-python order", reader, lambda: walk_sequential(reader))
    )
    return phases


def phases_table(phases: Sequence[Phase], *, title: str) -> Table:
    """The phases as a rich table."""
    table = Table(title=title, header_style="bold")
    for name, justify in (
        ("phase", "left"),
        ("nodes", "right"),
        ("requests", "right"),
        ("by kind", "left"),
        ("time (s)", "right"),
        ("peak in flight", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for p in phases:
        table.add_row(
            p.name,
            "" if p.nodes is None else str(p.nodes),
            str(p.total_requests),
            ", ".join(f"{k} {v}" for k, v in p.requests.items()),
            f"{p.seconds:.3f}",
            str(p.peak_in_flight),
        )
    return table


def run_hierarchy_bench(
    url: str,
    storage_options: dict[str, Any],
    console: Console,
    *,
    shape: HierarchyShape = HierarchyShape(),
    latency: float = 0.0,
) -> list[Phase]:
    """Run the hierarchy bench under a unique folder of ``url`` and print its table."""
    from cloudzarr.storage import open_store
    from cloudzarr.tools.interrupt import run_interruptibly

    folder = f"{url.rstrip('/')}/cloudzarr-bench-hierarchy-{uuid.uuid4().hex[:10]}"
    store = open_store(folder, storage_options=storage_options or None)
    console.print(f"working under {folder} (removed at the end)", highlight=False)
    try:
        with console.status(f"{shape.nodes} nodes: creating, consolidating, walking..."):
            phases = run_interruptibly(run_phases(store, shape, latency))
    finally:
        run_interruptibly(store.delete_dir(""))
        run_interruptibly(store.close())
    added = f"; reads with {latency * 1e3:g} ms added per request" if latency else ""
    title = (
        f"hierarchy {shape.outer}x{shape.inner}x{shape.arrays}: {shape.groups} groups, "
        f"{shape.nodes - shape.groups} arrays{added}"
    )
    console.print(phases_table(phases, title=title))
    return phases
