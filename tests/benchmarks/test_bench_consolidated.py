"""The consolidated metadata benchmark runs end to end at a tiny size (shape, not figures)."""

from __future__ import annotations

import pytest

from benchmarks import bench_consolidated


def test_tiny_run_reports_plain_batch_and_zarr_python() -> None:
    rows = bench_consolidated.run(nodes=12, outer=1, inner=2, arrays=2, latency=0.002, repeat=1)
    by = {(r["case"], r["library"]): r for r in rows}
    create = "create 12 under consolidated root"
    plain = by[(create, "cloudzarr (plain)")]
    batch = by[(create, "cloudzarr (batch)")]
    assert (create, "zarr-python (create, then consolidate)") in by
    # A batch rewrites the root twice, not 2 x 12 times: fewer bytes than one by one.
    assert 0 < batch["bytes_written"] < plain["bytes_written"]
    consolidate = [r for r in rows if r["case"].startswith("consolidate")]
    assert {r["library"] for r in consolidate} == {"cloudzarr", "zarr-python"}
    assert consolidate[0]["nodes"] == 1 + 1 + 2 + 4
    assert bench_consolidated.to_markdown(rows).count("\n") == len(rows) + 1


def test_main_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_consolidated.main(["--quick", "--latency", "0.001"]) == 0
    assert "under consolidated root" in capsys.readouterr().out
