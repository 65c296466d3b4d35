"""``cloudzarr bench --hierarchy``: exact request counts per phase, and nothing left behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudzarr.storage import MemoryStore
from cloudzarr.tools.bench_hierarchy import HierarchyShape, run_phases
from cloudzarr.tools.cli import cli


def test_shape_parsing() -> None:
    shape = HierarchyShape.parse("3x2x4")
    assert (shape.outer, shape.inner, shape.arrays) == (3, 2, 4)
    assert shape.groups == 3 + 6
    assert shape.nodes == 9 + 24
    with pytest.raises(ValueError, match="'3x2'"):
        HierarchyShape.parse("3x2")
    with pytest.raises(ValueError, match="at least 1"):
        HierarchyShape.parse("0x1x1")


async def test_phases_send_what_the_engine_guarantees() -> None:
    shape = HierarchyShape(3, 2, 2)
    store = MemoryStore()
    phases = {p.name: p for p in await run_phases(store, shape, latency=0.01)}
    assert phases["create_hierarchy"].requests == {"set_if_not_exists": shape.nodes + 1}
    cons = phases["open + list, consolidated"]
    assert cons.requests == {"get": 1}
    assert cons.nodes == shape.nodes
    for name in ("open + list, cloudzarr walk", "open + list, zarr-python order"):
        phase = phases[name]
        assert phase.nodes == shape.nodes
        assert phase.requests == {"get": shape.nodes + 1, "list_dir": shape.groups + 1}
        # Every request waits 10 ms: the walk needs at least one round per level.
        assert phase.seconds >= 0.01 * 3
    assert (
        phases["open + list, cloudzarr walk"].peak_in_flight
        > phases["open + list, zarr-python order"].peak_in_flight
    )


def test_cli_hierarchy_on_a_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["bench", str(tmp_path), "--hierarchy", "--hierarchy-shape", "2x2x2"]
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "consolidated" in line)
    assert re.search(r"│\s+14\s+│\s+1\s+│ get 1\s+│", row), row
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
