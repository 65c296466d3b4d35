"""The cloud arrays benchmark runs end to end at a tiny size against moto (shape, not figures)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from moto_fixtures.servers import S3Server

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cloud_arrays.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_cloud_arrays_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_layouts_match_the_issue_at_full_size() -> None:
    bench = _load()
    full = 256 * 2**20
    assert bench.layout("W1", full)["shape"] == (8192, 8192)
    assert bench.layout("W1", full)["chunks"] == (512, 512)  # 256 chunks of 1 MiB
    w3 = bench.layout("W3", full)
    assert w3["shards"] == (4096, 4096) and w3["chunks"] == (512, 512)  # 4 x 64 inner chunks
    w4 = bench.layout("W4", full)
    assert w4["shape"] == (4096, 4096) and w4["chunks"] == (256, 256)
    sels = bench.w4_selections(256)
    assert len(sels) == 1000
    assert len({(s[0].start, s[1].start) for s in sels}) == 253


def test_tiny_run_against_moto(s3_server: S3Server) -> None:
    bench = _load()
    bucket = s3_server.create_bucket()
    server = {
        "endpoint": s3_server.endpoint_url,
        "key": s3_server.key,
        "secret": s3_server.secret,
        "bucket": bucket,
    }
    rows = bench.run(server, "256KiB", repeat=1, latency_ms=1.0)
    cases = {(r["library"], r["workload"]) for r in rows}
    assert cases == {(lib, w) for lib in bench.LIBRARIES for w in bench.WORKLOADS}
    for row in rows:
        assert row["seconds"] > 0 and row["peak_mib"] >= 0 and row["runs"] == 1
        assert row["x_floor"] > 0 and row["x_cloudzarr"] > 0
    w4 = next(r for r in rows if r["library"] == "cloudzarr" and r["workload"] == "W4")
    assert w4["requests"] == 253  # one GET per distinct chunk, whatever the 1,000 readers
    table = bench.to_markdown(rows)
    assert table.count("\n") == len(rows) + 1
