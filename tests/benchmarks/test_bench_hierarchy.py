"""The hierarchy benchmark runs end to end at a tiny size (figures are not asserted, shape is)."""

from __future__ import annotations

import pytest

from benchmarks import bench_hierarchy


def test_tiny_run_reports_every_case_for_both_libraries() -> None:
    rows = bench_hierarchy.run(
        outer=1, inner=2, arrays=2, nodes=6, repeat=1, latency=0.005, s3=True
    )
    cases = {(r["case"].split(" (")[0], r["library"]) for r in rows}
    for case in ("discovery members(None)", "consolidated open+members"):
        assert (case, "cloudzarr") in cases and (case, "zarr-python") in cases
    assert ("create_hierarchy 6 nodes", "cloudzarr") in cases
    assert ("create_array p/a/b/c, missing parents", "zarr-python") in cases
    by = {(r["case"], r["library"]): r for r in rows}
    plain = by[("discovery members(None)", "cloudzarr")]
    # 1 + 2 groups + 4 arrays below the root: one GET each, one LIST per group.
    assert plain["nodes"] == 7
    assert plain["requests"] == {"get": 7, "list_dir": 4}
    assert by[("discovery members(None)", "zarr-python")]["nodes"] == 7
    assert by[("consolidated open+members", "cloudzarr")]["requests"] == {"get": 1}
    assert all(r["seconds"] >= 0 for r in rows)
    assert "speedup_vs_zarr" in plain
    table = bench_hierarchy.to_markdown(rows)
    assert table.count("\n") == len(rows) + 1


def test_main_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_hierarchy.main(["--quick", "--latency", "0.001"]) == 0
    assert "discovery members(None)" in capsys.readouterr().out
