"""cloudzarr bench: records, JSON and plot, cleanup, and figures that match a known latency."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cloudzarr.storage import LatencyStore, MemoryStore, open_store
from cloudzarr.sync import sync
from cloudzarr.tools.bench import BenchConfig, BenchRunner, format_size, parse_size
from cloudzarr.tools.bench_output import JSON_KEYS
from cloudzarr.tools.cli import cli


def test_parse_and_format_sizes() -> None:
    assert parse_size("1KiB") == 1024
    assert parse_size("16MiB") == 16 * 2**20
    assert parse_size("1kb") == 1000
    assert parse_size("512") == 512
    assert format_size(65536) == "64KiB"
    assert format_size(1000) == "1000B"
    with pytest.raises(ValueError, match="'12 parsecs'"):
        parse_size("12 parsecs")


def test_config_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="'post'"):
        BenchConfig(ops=["post"])
    with pytest.raises(ValueError, match="concurrency"):
        BenchConfig(concurrency=[0])


async def test_runner_measures_every_cell_and_leaves_nothing() -> None:
    inner = MemoryStore({"keep": b"user data"})
    config = BenchConfig(sizes=[100, 4096], concurrency=[1, 4], requests=12)
    done: list[int] = []
    runner = BenchRunner(inner, config, progress=done.append)
    records = await runner.run()
    assert [(r.op, r.size, r.concurrency) for r in records] == config.cells
    assert len(records) == 2 * 6 * 2
    for r in records:
        assert r.count == 12, r
        assert r.errors == 0
        assert 0 <= r.p50_ms <= r.p90_ms <= r.p99_ms <= r.max_ms
        assert r.req_s > 0
    get = next(r for r in records if r.op == "get" and r.size == 4096)
    assert get.mb_s == pytest.approx(4096 * 12 / get.wall_s / 1e6)
    rng = next(r for r in records if r.op == "range" and r.size == 4096)
    assert rng.mb_s == pytest.approx(2048 * 12 / rng.wall_s / 1e6)
    assert sum(done) == len(config.cells) * 12
    # Only the user's key is left.
    assert list(inner._data) == ["keep"]


async def test_latency_figures_match_an_injected_delay() -> None:
    # A store adding 20 ms inside its limiter: p50 reads 20 ms, not queueing time.
    store = LatencyStore(MemoryStore(), latency=0.02)
    config = BenchConfig(ops=["get", "head"], sizes=[1024], concurrency=[8], requests=32)
    records = await BenchRunner(store, config).run()
    for r in records:
        # Slack above for the event loop's wake-up on a busy 2-core machine.
        assert 20.0 <= r.p50_ms < 20.0 + 25.0, r
        # 8 at a time, 20 ms each: about 400 req/s, never more.
        assert r.req_s <= 8 / 0.02 * 1.01


async def test_duration_mode_runs_for_the_time_given() -> None:
    store = LatencyStore(MemoryStore(), latency=0.005)
    config = BenchConfig(ops=["get"], sizes=[10], concurrency=[2], duration_per_cell=0.2)
    (record,) = await BenchRunner(store, config).run()
    assert record.wall_s >= 0.2
    # 2 workers, at least 5 ms a request, 0.2 s (plus the requests in flight at the end).
    assert 2 <= record.count <= 2 * (0.2 / 0.005) + 2


def test_cli_writes_json_and_plot_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "store"
    target.mkdir()
    out_json = tmp_path / "out.json"
    out_png = tmp_path / "out.png"
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            str(target),
            "--ops",
            "get,put,list",
            "--sizes",
            "1KiB,8KiB",
            "--concurrency",
            "1,4",
            "--requests",
            "8",
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ttfb p50" in result.output
    rows: list[dict[str, Any]] = json.loads(out_json.read_text())["rows"]
    assert len(rows) == 3 * 2 * 2
    for row in rows:
        assert list(row)[: len(JSON_KEYS)] == list(JSON_KEYS)
        assert row["count"] == 8
        assert not math.isnan(row["p50_ms"])
    assert {(r["op"], r["size"], r["concurrency"]) for r in rows} >= {("get", 8192, 4)}
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p for p in target.rglob("*") if p.is_file()] == []


def test_cli_reports_bad_options() -> None:
    result = CliRunner().invoke(cli, ["bench", "memory://", "--ops", "fly"])
    assert result.exit_code == 2
    assert "'fly'" in result.output
    result = CliRunner().invoke(cli, ["bench", "memory://", "-o", "novalue"])
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_storage_options_reach_the_store(
    s3_bucket: str, s3_storage_options: dict[str, Any]
) -> None:
    args = ["bench", f"s3://{s3_bucket}", "--ops", "put,get", "--sizes", "1KiB", "-n", "3"]
    args += ["--concurrency", "1"]
    for key, value in s3_storage_options.items():
        args += ["--storage-option", f"{key}={value}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    store = open_store(f"s3://{s3_bucket}", storage_options=s3_storage_options)
    assert sync(store.is_empty())


def test_cli_duration_mode_on_memory() -> None:
    args = ["bench", "memory://", "--ops", "get", "--sizes", "1KiB", "--concurrency", "2"]
    result = CliRunner().invoke(cli, [*args, "--duration", "0.1"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("│ get"))
    count = int(row.split("│")[4])
    # Memory reads take microseconds: a tenth of a second holds many of them.
    assert count > 10
