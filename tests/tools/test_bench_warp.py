"""bench as warp does it: one duration for the run, mixed workloads, exact percentiles, TTFB,
per-second series, meta, raw records, --compare, several clients, saturation warnings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from cloudzarr.storage import LatencyStore, MemoryStore
from cloudzarr.tools.bench import BenchConfig, BenchRunner, parse_mix
from cloudzarr.tools.bench_compare import compare_rows
from cloudzarr.tools.bench_output import JSON_KEYS, redact_url
from cloudzarr.tools.bench_stats import Sample, format_ms, median_ci_ms, saturation_warnings
from cloudzarr.tools.cli import cli
from moto_fixtures.servers import S3Server


def _bench(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["bench", *args])
    return result


def test_parse_mix_and_refusals() -> None:
    assert parse_mix("get=70,put=20,list=5,delete=5") == {
        "get": 70, "put": 20, "list": 5, "delete": 5,
    }  # fmt: skip
    with pytest.raises(ValueError, match="'get=x'"):
        parse_mix("get=x")
    with pytest.raises(ValueError, match="'fly'"):
        BenchConfig(mix={"fly": 1})
    with pytest.raises(ValueError, match="not both"):
        BenchConfig(duration=1, duration_per_cell=1)


def test_duration_is_for_the_whole_run() -> None:
    config = BenchConfig(ops=["get", "put"], sizes=[1, 2], concurrency=[1, 2], duration=8.0)
    assert len(config.cells) == 8
    assert config.cell_seconds == 1.0
    assert BenchConfig(duration_per_cell=0.5).cell_seconds == 0.5


async def test_percentiles_are_exact_order_statistics() -> None:
    # A store whose latency is fixed: every sample is kept, so p50/p90/p99 equal numpy's
    # percentiles of the recorded samples exactly (no bucket midpoints).
    store = LatencyStore(MemoryStore(), latency=0.002)
    config = BenchConfig(ops=["get"], sizes=[10], concurrency=[1, 4], requests=40)
    records = await BenchRunner(store, config).run()
    for r in records:
        latencies = [s.latency for s in r.samples]
        assert len(latencies) == 40
        expected = np.percentile(latencies, [50, 90, 99]) * 1e3
        assert [r.p50_ms, r.p90_ms, r.p99_ms] == pytest.approx(list(expected), rel=1e-12)
        assert r.p50_ms >= 2.0
    # Two cells never report the very same p50 by construction (no shared bucket value).
    assert records[0].p50_ms != records[1].p50_ms


def test_median_confidence_interval_holds_the_median() -> None:
    values = [i / 1000 for i in range(1, 101)]
    lo, hi = median_ci_ms(values)  # type: ignore[misc]
    assert lo <= 50.5 <= hi
    assert hi - lo < 25
    assert median_ci_ms(values[:5]) is None


def test_latencies_keep_their_digits() -> None:
    assert format_ms(0.0042) == "4.20 µs"
    assert format_ms(0.85) == "850 µs"
    assert format_ms(12.345) == "12.35 ms"
    assert format_ms(1500.0) == "1.50 s"
    assert format_ms(math.nan) == "-"


def test_saturation_is_warned() -> None:
    from cloudzarr.tools.bench import make_record

    def record(conc: int, latency: float, count: int) -> Any:
        samples = [Sample("get", 0.0, latency, None, True, 1) for _ in range(count)]
        return make_record("get", 1, conc, samples, 1.0, "single")

    flat = [record(1, 0.001, 1000), record(16, 0.016, 1050)]
    (warning,) = saturation_warnings(flat)
    assert "concurrency 1 -> 16" in warning and "saturates" in warning
    scaling = [record(1, 0.001, 1000), record(16, 0.0012, 12000)]
    assert saturation_warnings(scaling) == []


def test_redact_url() -> None:
    assert redact_url("s3://AKIA:secret@bucket/p?sig=1") == "s3://bucket/p"
    assert redact_url("/local/path") == "/local/path"


def test_json_schema_raw_and_mix(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    out, raw = tmp_path / "run.json", tmp_path / "run.jsonl"
    result = _bench(
        str(folder), "--mix", "get=6,put=2,list=1,delete=1", "--sizes", "1KiB",
        "--concurrency", "2", "--duration", "0.5", "--json", str(out), "--raw", str(raw),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    meta = doc["meta"]
    assert meta["schema"] == "cloudzarr-bench/2"
    assert meta["url"] == str(folder)
    assert meta["options"]["mix"] == {"get": 6, "put": 2, "list": 1, "delete": 1}
    assert {"started", "host", "versions", "percentiles"} <= set(meta)
    assert "cloudzarr" in meta["versions"]
    rows = doc["rows"]
    assert [r["op"] for r in rows] == ["get", "put", "list", "delete", "mix"]
    for row in rows:
        assert list(row)[: len(JSON_KEYS)] == list(JSON_KEYS)
        assert row["workload"] == "mix"
        series = row["series"]
        assert set(series) == {"t_s", "req_s", "mb_s", "p50_ms"}
        assert len(series["t_s"]) == len(series["req_s"]) >= 1
    total = rows[-1]
    assert total["count"] == sum(r["count"] for r in rows[:-1])
    # The weights hold: 6 of 10 requests are GETs (the sequence cycles).
    assert rows[0]["count"] == pytest.approx(total["count"] * 0.6, abs=6)
    lines = [json.loads(line) for line in raw.read_text().splitlines()]
    assert len(lines) == total["count"]
    assert {"op", "start_s", "end_s", "ttfb_s", "ok", "bytes"} <= set(lines[0])
    assert [p for p in folder.rglob("*") if p.is_file()] == []


def test_memory_latencies_are_not_zero() -> None:
    result = _bench("memory://", "--ops", "head", "--sizes", "1", "--concurrency", "1", "-n", "20")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("│ head"))
    p50 = row.split("│")[6].strip()
    assert p50.endswith(("µs", "ms")) and float(p50.split()[0]) > 0, row


def test_compare_prints_ratios(tmp_path: Path) -> None:
    def row(p50: float, ci: list[float], req_s: float) -> dict[str, Any]:
        return {
            "op": "get", "size": 1024, "concurrency": 1, "workload": "single", "p50_ms": p50,
            "p99_ms": p50 * 2, "ttfb_p50_ms": p50 / 2, "req_s": req_s, "p50_ci_ms": ci,
        }  # fmt: skip

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"meta": {}, "rows": [row(10.0, [9.5, 10.5], 100.0)]}))
    b.write_text(json.dumps({"meta": {}, "rows": [row(5.0, [4.5, 5.5], 200.0)]}))
    (found,) = compare_rows(json.loads(a.read_text())["rows"], json.loads(b.read_text())["rows"])
    assert found.p50_ratio == 0.5 and found.req_s_ratio == 2.0 and found.significance == "*"
    result = _bench("--compare", str(a), str(b))
    assert result.exit_code == 0, result.output
    assert "0.50x" in result.output and "2.00x" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = _bench("--compare", str(a), str(bad))
    assert result.exit_code == 2 and "no cell in common" in result.output


def test_storage_option_typo_gets_did_you_mean() -> None:
    result = _bench("s3://bucket", "-o", "endpoint=http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "did you mean 'endpoint_url'" in result.output
    assert "TypeError" not in result.output
    assert sum(line.startswith("Error:") for line in result.output.splitlines()) == 1


def test_ttfb_and_proxy_delay_within_stated_error(s3_server: S3Server, tmp_path: Path) -> None:
    """Behind a proxy adding 20 ms each way, every GET takes at least the 40 ms round trip,
    and the first byte cannot come before it: the exact p50 is at least 40 ms; the TTFB p50 is
    at most the full p50."""
    from cloudzarr.tools.proxy import run_latency_proxy

    bucket = s3_server.create_bucket()
    port = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    out = tmp_path / "p.json"
    with run_latency_proxy("127.0.0.1", port, delay=0.020) as proxy:
        args = [f"s3://{bucket}", "--ops", "get", "--sizes", "1KiB", "--concurrency", "1"]
        args += ["-n", "12", "--json", str(out)]
        options = {**s3_server.storage_options, "endpoint_url": proxy.url}
        for key, value in options.items():
            args += ["-o", f"{key}={value}"]
        result = _bench(*args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out.read_text())["rows"]
    assert row["count"] == 12 and row["errors"] == 0
    assert row["p50_ms"] >= 40.0
    assert 40.0 <= row["ttfb_p50_ms"] <= row["p50_ms"]
    assert row["p50_ci_ms"][0] <= row["p50_ms"] <= row["p50_ci_ms"][1]


def test_clients_merge_their_samples(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.create_bucket()
    out = tmp_path / "c.json"
    command = [sys.executable, "-m", "cloudzarr.tools.cli", "bench", f"s3://{bucket}"]
    command += ["--ops", "put,get", "--sizes", "1KiB", "--concurrency", "2", "-n", "10"]
    command += ["--clients", "2", "--json", str(out)]
    for key, value in s3_server.storage_options.items():
        command += ["-o", f"{key}={value}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr + done.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [(r["op"], r["count"]) for r in rows] == [("put", 20), ("get", 20)]
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
