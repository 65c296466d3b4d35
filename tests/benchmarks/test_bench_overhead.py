"""The overhead benchmark, run tiny on every backend so it cannot rot."""

from __future__ import annotations

import pytest

from benchmarks import bench_overhead


def test_overhead_rows() -> None:
    # Three backends keep this quick; `python -m benchmarks --quick` (test_bench_main) runs all.
    backends = ["memory", "local", "s3"]
    rows = bench_overhead.run(3, backends=backends)
    assert [r["backend"] for r in rows] == backends
    for r in rows:
        assert r["requests"] == 3
        assert r["cloudzarr_p50_ms"] > 0
        assert r["raw_p50_ms"] > 0
        assert r["overhead_pct"] == pytest.approx(
            (r["cloudzarr_p50_ms"] / r["raw_p50_ms"] - 1) * 100
        )
        assert r["under_target"] == (r["overhead_pct"] < 10.0)
    table = bench_overhead.to_markdown(rows)
    assert table.count("\n") == len(rows) + 1
    assert "`S3FileSystem(max_concurrency=1)._cat_file`" in table


def test_refuses_unknown_backend_and_bad_count() -> None:
    with pytest.raises(ValueError, match="'ftp'"):
        bench_overhead.run(3, backends=["ftp"])
    with pytest.raises(ValueError, match="requests"):
        bench_overhead.run(0)
