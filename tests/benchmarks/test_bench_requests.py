"""The request benchmark, run tiny so it cannot rot: every row is there and self-consistent."""

from __future__ import annotations

import pytest

from benchmarks import bench_requests
from moto_fixtures.servers import S3Server


@pytest.mark.timeout(300)
def test_request_benchmark_rows() -> None:
    rows = bench_requests.run(**bench_requests.QUICK)
    cpu = [r for r in rows if r["measure"] == "cpu"]
    assert [r["case"] for r in cpu] == ["GET 100 B", "GET 256 KiB", "PUT 640 KB"]
    for r in cpu:
        assert r["requests"] == bench_requests.QUICK["requests"]
        assert r["cloudzarr_cpu_ms"] > 0 and r["obstore_cpu_ms"] > 0
        assert r["ratio"] == pytest.approx(r["cloudzarr_cpu_ms"] / r["obstore_cpu_ms"])
        assert r["within_target"] == (r["ratio"] <= bench_requests.TARGET_RATIO)
    (adaptive,) = [r for r in rows if r["measure"] == "adaptive"]
    assert adaptive["reads"] == bench_requests.QUICK["throttle_reads"]
    assert 1 <= adaptive["limit_end"] <= adaptive["size"]
    hedging = [r for r in rows if r["measure"] == "hedging"]
    assert [r["hedge"] for r in hedging] == [False, True]
    for r in hedging:
        assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["p999_ms"]
    assert hedging[0]["extra_requests_pct"] == 0  # unhedged: one GET per read
    assert 0 <= hedging[1]["extra_requests_pct"] <= 6
    table = bench_requests.to_markdown(rows)
    assert "| GET 256 KiB |" in table and "| on | 150 |" in table


def test_refuses_too_few_requests() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        bench_requests.run(4)


@pytest.mark.timeout(300)
def test_request_benchmark_against_a_given_endpoint(s3_server: S3Server) -> None:
    # --endpoint (radosgw, AWS...): the same rows against a server the benchmark did not start.
    rows = bench_requests.run(
        16, rounds=1, throttle_reads=20, tail_reads=20, endpoint=s3_server.endpoint_url
    )
    assert [r["measure"] for r in rows] == ["cpu"] * 3 + ["adaptive"] + ["hedging"] * 2
