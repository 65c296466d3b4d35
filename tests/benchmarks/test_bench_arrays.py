"""The arrays benchmark runs end to end at a tiny size (figures are not asserted, shape is)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_arrays.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_arrays_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_parse_size_and_shape() -> None:
    bench = _load()
    assert bench.parse_size("256MiB") == 256 * 2**20
    assert bench.parse_size("1k") == 1024
    assert bench.parse_size(4096) == 4096
    assert bench.array_shape(256 * 2**20) == (256, 512, 512)
    with pytest.raises(ValueError, match="size"):
        bench.parse_size("lots")


def test_tiny_run_reports_every_case() -> None:
    bench = _load()
    rows = bench.run("512KiB", repeat=1)
    cases = {(r["library"], r["store"], r["operation"]) for r in rows}
    assert cases == {
        (lib, store, op)
        for lib in ("cloudzarr", "zarr", "floor")
        for store in ("memory", "local")
        for op in ("write", "read")
    }
    for row in rows:
        assert row["seconds"] > 0 and row["nbytes"] == 512 * 1024
        assert row["peak_ratio"] >= 0
        assert ("speedup" in row) == (row["library"] == "cloudzarr")
        assert ("x_floor" in row) == (row["library"] != "floor")
    table = bench.to_markdown(rows)
    assert table.count("\n") == len(rows) + 1 and "speedup" in table
